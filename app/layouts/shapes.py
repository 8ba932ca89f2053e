"""The shapes a layout may take, as cells on a grid: pure geometry, the one definition the
GUI's wall, the API (`GET /api/v1/layout/shapes`) and the stored layouts' checks share, so a
client never re-derives where the big cell of a `1+5` sits.

Names (docs/layouts.md has the pictures):

- `CxR`, C and R in 1..6: C columns by R rows of equal cells (`3x3`; `3x2` is three wide,
  two high: width first, as in `640x360`).
- `1+5`: 3x3 grid, one big 2x2 cell top left, 5 small ones down the right and along the
  bottom.
- `1+7`: 4x4 grid, one big 3x3 cell top left, 7 small ones down the right and along the
  bottom.
- `2+8`: 4x4 grid, two big 2x2 cells side by side on top, 8 small ones in the two rows under
  them (the usual NVR "2+8": two cameras watched closely, eight at a glance).
- `1+12`: 4x4 grid, one big 2x2 cell in the centre, 12 small ones around it.

Cells are numbered big ones first, then the small ones in reading order (row by row, left to
right): a layout's `cells[i]` is what cell i shows, and the first cells are where an operator
puts the cameras that matter most.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

MAX_GRID = 6  # 6x6: 36 tiles, the most a wall decodes at a useful size
_GRID = re.compile(r"([1-9])x([1-9])")


class Cell(NamedTuple):
    """A cell's place on its shape's grid, in grid units."""

    row: int
    col: int
    row_span: int
    col_span: int


class Shape(NamedTuple):
    name: str
    rows: int
    cols: int
    cells: tuple[Cell, ...]


class Rect(NamedTuple):
    """A rectangle in pixels: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int


def _with_big(name: str, size: int, big: tuple[Cell, ...]) -> Shape:
    """A `size` x `size` grid: the `big` cells, then every grid square they do not cover as
    a 1x1 cell, in reading order."""
    covered = {(cell.row + r, cell.col + c) for cell in big
               for r in range(cell.row_span) for c in range(cell.col_span)}
    small = tuple(Cell(r, c, 1, 1) for r in range(size) for c in range(size)
                  if (r, c) not in covered)
    return Shape(name, size, size, big + small)


_SPECIAL = {
    "1+5": _with_big("1+5", 3, (Cell(0, 0, 2, 2),)),
    "1+7": _with_big("1+7", 4, (Cell(0, 0, 3, 3),)),
    "2+8": _with_big("2+8", 4, (Cell(0, 0, 2, 2), Cell(0, 2, 2, 2))),
    "1+12": _with_big("1+12", 4, (Cell(1, 1, 2, 2),)),
}

# Every shape name in the order a picker lists them: the square grids, the big-cell shapes,
# then the other rectangles.
SHAPE_NAMES: tuple[str, ...] = (
    tuple(f"{n}x{n}" for n in range(1, MAX_GRID + 1)) + tuple(_SPECIAL)
    + tuple(f"{c}x{r}" for r in range(1, MAX_GRID + 1) for c in range(1, MAX_GRID + 1) if c != r))


@lru_cache(maxsize=None)
def _grid(cols: int, rows: int) -> Shape:
    cells = tuple(Cell(r, c, 1, 1) for r in range(rows) for c in range(cols))
    return Shape(f"{cols}x{rows}", rows, cols, cells)


def shape(name: str) -> Shape:
    """The shape called `name`; ValueError for any other name (a caller's input)."""
    if not isinstance(name, str):
        raise ValueError("a shape name is a string")
    special = _SPECIAL.get(name)
    if special is not None:
        return special
    match = _GRID.fullmatch(name)
    if match is None or not all(1 <= int(n) <= MAX_GRID for n in match.groups()):
        raise ValueError(f"unknown shape {name[:20]!r}: one of 1x1 .. 6x6 (columns x rows), "
                         "1+5, 1+7, 2+8, 1+12")
    return _grid(int(match.group(1)), int(match.group(2)))


def is_shape(name: object) -> bool:
    try:
        shape(name)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


def cell_count(name: str) -> int:
    return len(shape(name).cells)


def _edges(total: int, parts: int) -> list[int]:
    """Where `parts` equal slices of `total` pixels start (and the end): the remainder
    spread one pixel at a time, so the cells fill the area exactly, nothing left over."""
    return [total * i // parts for i in range(parts + 1)]


def cell_rects(name: str, width: int, height: int) -> list[Rect]:
    """The pixel rectangle of each cell of shape `name` on a `width` x `height` area, in cell
    order. The cells tile the area exactly: no gap, no overlap, no pixel unused."""
    found = shape(name)
    xs, ys = _edges(max(0, width), found.cols), _edges(max(0, height), found.rows)
    return [Rect(xs[c.col], ys[c.row], xs[c.col + c.col_span] - xs[c.col],
                 ys[c.row + c.row_span] - ys[c.row]) for c in found.cells]
