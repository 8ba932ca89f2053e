"""Aspect-correct pictures in cells: the one rule the wall draws by (#27 item 1). A picture
is shown whole and undistorted, as large as its cell allows, centred; the only space it does
not cover is the letterbox (bars above and below) or pillarbox (bars left and right) its
ratio forces. A camera's own ratio when known (its picture's width and height, times its
pixels' shape), 16:9 until then."""

from __future__ import annotations

from app.layouts.shapes import Rect

DEFAULT_RATIO = 16 / 9


def picture_ratio(width: int | None, height: int | None, pixel_ratio: float = 1.0) -> float:
    """The display ratio of a `width` x `height` picture whose pixels are `pixel_ratio` wide
    per unit of height (anamorphic cameras); 16:9 when any of it is unknown or not positive."""
    if not width or not height or width <= 0 or height <= 0 or not pixel_ratio > 0:
        return DEFAULT_RATIO
    return width * pixel_ratio / height


def fit(cell: Rect, ratio: float = DEFAULT_RATIO) -> Rect:
    """The rectangle inside `cell` a picture of display ratio `ratio` (width / height) is
    drawn in: the largest of that ratio that fits, centred. A ratio that is not a positive
    finite number counts as 16:9; an empty cell gives an empty rectangle at its centre."""
    if not (0 < ratio < float("inf")):
        ratio = DEFAULT_RATIO
    width, height = max(0, cell.w), max(0, cell.h)
    if width == 0 or height == 0:
        return Rect(cell.x + width // 2, cell.y + height // 2, 0, 0)
    if width >= height * ratio:  # the cell is wider than the picture: bars left and right
        w, h = min(width, round(height * ratio)), height
    else:  # taller: bars above and below
        w, h = width, min(height, round(width / ratio))
    return Rect(cell.x + (width - w) // 2, cell.y + (height - h) // 2, w, h)
