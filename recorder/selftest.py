"""Self-checks of the picture and video paths: a generated JPEG and a short generated MP4,
made with the same encoders and muxer the station records with."""

from __future__ import annotations

import io
import time
from fractions import Fraction

import av
import numpy as np

from recorder.imaging import burn_text, encode_jpeg


def make_test_image(width: int = 640, height: int = 360) -> bytes:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    y = np.linspace(0, 255, height, dtype=np.uint8)
    rgb = np.dstack([np.tile(x, (height, 1)), np.tile(y[:, None], (1, width)),
                     np.full((height, width), 128, np.uint8)])
    rgb = np.ascontiguousarray(rgb)
    burn_text(rgb, time.strftime("Recording Station %H:%M:%S"), (20, height // 2), 30,
              fill=(255, 255, 255), outline=(0, 0, 0))
    return encode_jpeg(rgb)


def make_test_video(seconds: float = 1.0, rate: int = 25) -> bytes:
    buffer = io.BytesIO()
    with av.open("testsrc2=size=320x240:rate=%d" % rate, format="lavfi") as source, \
            av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=rate, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.codec_context.time_base = Fraction(1, rate)
        for index, frame in enumerate(source.decode(video=0)):
            if index >= seconds * rate:
                break
            frame.pts = index
            out.mux(stream.encode(frame.reformat(format="yuv420p")))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def describe_video(data: bytes) -> tuple[int, float, int, int]:
    """Decode every frame of an MP4 held in memory: (frames, seconds spanned, width, height).
    Raises av.FFmpegError when the file does not decode."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames, first, last = 0, None, None
        width = height = 0
        for frame in container.decode(stream):
            frames += 1
            width, height = frame.width, frame.height
            if frame.time is not None:
                first = frame.time if first is None else min(first, frame.time)
                last = frame.time if last is None else max(last, frame.time)
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        seconds = (last - first + 1 / rate) if first is not None else 0.0
    return frames, seconds, width, height
