"""The pure arithmetic of motion search in the GUI, kept free of Qt widgets so it can be
checked on its own: where a picture sits in the widget that shows it, a dragged rectangle as
the service's normalised region, the time ranges an operator picks from, where a hit falls on
a timeline lane, and the heat map's colours.

Why normalised regions: the service's grids cover the whole picture whatever the stream's
size (a tile may show the preview stream, the player the main one), so a rectangle is stated
as shares of the picture, 0..1, never in pixels of the widget it was drawn on."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

import numpy as np

Region = tuple[float, float, float, float]  # x0, y0, x1, y1: shares of the picture
Rect = tuple[float, float, float, float]    # x, y, width, height in widget pixels

MIN_DRAG_PX = 4  # a smaller rectangle is a slip of the hand, not a region
# The ranges offered, by the words shown: how far back from now each one reaches.
RANGES: dict[str, timedelta] = {"Last hour": timedelta(hours=1), "Last day": timedelta(days=1),
                                "Last week": timedelta(days=7)}
CUSTOM = "Custom…"
HIT_MIN_PX = 3.0  # a one-second hit in a day-wide view still shows


def picture_rect(widget_w: float, widget_h: float, image_w: int, image_h: int) -> Rect | None:
    """Where a picture of `image_w` x `image_h` is drawn in a widget of that size: scaled to
    fit with its aspect kept, centred (as the player's FrameView and a CameraTile draw it)."""
    if image_w <= 0 or image_h <= 0 or widget_w <= 0 or widget_h <= 0:
        return None
    scale = min(widget_w / image_w, widget_h / image_h)
    width, height = image_w * scale, image_h * scale
    return ((widget_w - width) / 2, (widget_h - height) / 2, width, height)


def region_of(start: tuple[float, float], end: tuple[float, float],
              picture: Rect | None) -> Region | None:
    """The rectangle dragged from `start` to `end` (widget pixels, either direction) as a
    region of the picture, cut to the picture; None when the picture is unknown or what is
    left is smaller than `MIN_DRAG_PX` either way."""
    if picture is None:
        return None
    left, top, width, height = picture
    x0, x1 = sorted((max(left, min(left + width, start[0])), max(left, min(left + width, end[0]))))
    y0, y1 = sorted((max(top, min(top + height, start[1])), max(top, min(top + height, end[1]))))
    if x1 - x0 < MIN_DRAG_PX or y1 - y0 < MIN_DRAG_PX:
        return None
    return ((x0 - left) / width, (y0 - top) / height, (x1 - left) / width, (y1 - top) / height)


def region_text(region: Region) -> str:
    """'x 10–45 %, y 20–80 %': the region as an operator reads it."""
    x0, y0, x1, y1 = (round(v * 100) for v in region)
    return f"x {x0}–{x1} %, y {y0}–{y1} %"


def range_of(choice: str, now: datetime) -> tuple[datetime, datetime]:
    """(begin, end) of one of `RANGES`, ending `now`."""
    return now - RANGES[choice], now


def hit_span_x(begin: datetime, end: datetime, x_of: Callable[[datetime], float],
               left: float, right: float) -> tuple[float, float] | None:
    """(x, width) of a hit on a timeline lane between `left` and `right`, at least
    `HIT_MIN_PX` wide; None when it lies outside the view."""
    x0, x1 = x_of(begin), x_of(end)
    if x1 < left or x0 > right:
        return None
    x0, x1 = max(left, x0), min(right, x1)
    if x1 - x0 < HIT_MIN_PX:
        middle = (x0 + x1) / 2
        x0, x1 = middle - HIT_MIN_PX / 2, middle + HIT_MIN_PX / 2
    return x0, x1 - x0


def heat_rgba(counts, max_alpha: int = 170) -> np.ndarray:
    """A heat map's cells as RGBA pixels (rows x cols x 4, uint8): nothing where nothing
    moved, then blue through yellow to red, more opaque the more seconds a cell changed
    (scaled to the busiest cell, with a square root so that rare motion still shows)."""
    grid = np.asarray(counts, dtype=np.float64)
    if grid.ndim != 2 or grid.size == 0:
        return np.zeros((0, 0, 4), np.uint8)
    peak = grid.max()
    level = np.sqrt(grid / peak) if peak > 0 else np.zeros_like(grid)
    # blue (0) -> yellow (0.5) -> red (1)
    red = np.clip(level * 2, 0, 1)
    green = np.where(level < 0.5, level * 2, 2 - level * 2)
    blue = np.clip(1 - level * 2, 0, 1)
    rgba = np.zeros(grid.shape + (4,), np.uint8)
    rgba[..., 0] = np.round(red * 255)
    rgba[..., 1] = np.round(green * 255)
    rgba[..., 2] = np.round(blue * 255)
    rgba[..., 3] = np.where(grid > 0, np.round(60 + level * (max_alpha - 60)), 0)
    return rgba
