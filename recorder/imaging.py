"""The three still-picture operations the station needs (JPEG out, a JPEG's size, text burnt
into a picture), on Pillow.

They used to be OpenCV calls. OpenCV's wheel carries its own FFmpeg and OpenBLAS (150 MB),
more than half of the packaged installer's size budget, for three functions that Pillow's
libjpeg-turbo and FreeType do as well in a fifteenth of the space (issue #13).
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError


class PictureError(ValueError):
    """The bytes are not a picture Pillow can decode."""


def encode_jpeg(pixels: np.ndarray, quality: int = 80) -> bytes:
    """A JPEG of an RGB24 array (height x width x 3) or a BGRX one (x 4: what the decoder
    gives the tiles), the latter read by Pillow as it is, without an RGB copy first."""
    buffer = io.BytesIO()
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        height, width = pixels.shape[:2]
        image = Image.frombuffer("RGB", (width, height), np.ascontiguousarray(pixels),
                                 "raw", "BGRX", 0, 1)
    else:
        image = Image.fromarray(pixels, "RGB")
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def decode_jpeg(data: bytes) -> np.ndarray:
    """RGB24 pixels of a JPEG (`PictureError`, a ValueError, when it is not one)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise PictureError(f"not a picture: {exc}") from None


def picture_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a JPEG or PNG, decoding it whole so that a truncated or corrupt
    picture is refused here rather than shown broken."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PictureError(str(exc)) from exc


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def burn_text(pixels: np.ndarray, text: str, origin: tuple[int, int], size: int,
              fill: int | tuple[int, int, int] = 255,
              outline: int | tuple[int, int, int] = 0) -> None:
    """Write `text` in place into `pixels` (a grey plane, or RGB24), its baseline-left corner at
    `origin`, outlined so that it reads on any background. Only the band the text covers is
    copied through Pillow, so stamping every frame of a live pattern stays cheap."""
    font = _font(max(6, size))
    stroke = max(1, size // 10)
    left, top, right, bottom = font.getbbox(text, stroke_width=stroke, anchor="ls")
    x, y = origin
    y0, y1 = max(0, y + top), min(pixels.shape[0], y + bottom + 1)
    x0, x1 = max(0, x + left), min(pixels.shape[1], x + right + 1)
    if y0 >= y1 or x0 >= x1:
        return
    band = Image.fromarray(np.ascontiguousarray(pixels[y0:y1, x0:x1]))
    ImageDraw.Draw(band).text((x - x0, y - y0), text, font=font, fill=fill, anchor="ls",
                              stroke_width=stroke, stroke_fill=outline)
    pixels[y0:y1, x0:x1] = np.asarray(band)
