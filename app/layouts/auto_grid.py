"""The grid a wall takes when no layout is chosen (#27 item 1): for N pictures of a ratio
(16:9 unless told) on a W x H area, the columns x rows whose cells, each showing its picture
fitted (`app.layouts.fitting.fit`), cover the most of the area.

The square grid it replaces left a two-camera wall about 60 % black on a wide screen (two
16:9 tiles side by side in a 2x1 grid of a 16:10 window are fine; stacked in a 1x2 or
spread over 2x2 they are not) and five or seven sources with empty cells. Ties go to the
grid with fewer empty cells, then to fewer rows (a wall reads left to right).
"""

from __future__ import annotations

from app.layouts.fitting import DEFAULT_RATIO, fit
from app.layouts.shapes import MAX_GRID, Rect

MAX_AUTO = 8  # more than 36 sources unchosen: up to an 8x8 grid


def covered(cols: int, rows: int, count: int, width: int, height: int,
            ratio: float = DEFAULT_RATIO) -> float:
    """The share of the area the `count` fitted pictures of a `cols` x `rows` grid cover."""
    if width <= 0 or height <= 0:
        return 0.0
    picture = fit(Rect(0, 0, width // cols, height // rows), ratio)
    return count * picture.w * picture.h / (width * height)


def best_grid(count: int, width: int, height: int,
              ratio: float = DEFAULT_RATIO) -> tuple[int, int]:
    """(columns, rows) for `count` pictures on a `width` x `height` area: the most picture,
    then the fewest empty cells, then the fewest rows. 0 pictures: (1, 1)."""
    if count <= 1:
        return 1, 1
    limit = max(MAX_GRID, MAX_AUTO)
    grids = [(cols, -(-count // cols)) for cols in range(1, min(count, limit) + 1)]
    grids = [(c, r) for c, r in grids if r <= limit] or [(limit, limit)]
    share = {g: covered(*g, count, width, height, ratio) for g in grids}
    most = max(share.values())
    # within 1 % of the most: a pixel's rounding must not beat fewer empty cells
    near = [g for g in grids if share[g] >= most - 0.01]
    return min(near, key=lambda g: (g[0] * g[1] - count, g[1]))
