"""Motion grids in and out of pictures (#28): the detector's changed pixels as a coarse grid of
cells, and a grid of counts as a colour heat-map picture.

Here because only vision may use OpenCV; both are pure functions of numpy arrays.
"""
from __future__ import annotations

import cv2
import numpy as np


def cell_grid(changed: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """The (rows, cols) bool grid of the cells holding at least one changed pixel of
    `changed` (0/255 uint8 at analysis size, masks already applied by the detector).

    INTER_AREA averages each cell's pixels (a cell that is a fraction of a pixel wide takes
    its share), so any changed pixel makes its cell non-zero: an OR per cell for ~50 µs on a
    180x101 picture, whatever its size divides into."""
    if changed.ndim != 2 or changed.size == 0:
        raise ValueError("a changed mask must be a non-empty 2-D array")
    small = cv2.resize(changed, (cols, rows), interpolation=cv2.INTER_AREA)
    return small > 0


def heatmap_png(counts: np.ndarray, scale: int = 20) -> bytes:
    """`counts` ((rows, cols) of seconds each cell changed) as a PNG `scale` times as big:
    a colour map (TURBO) of the counts over their maximum, black where nothing moved, to
    lay over the picture."""
    if counts.ndim != 2 or counts.size == 0:
        raise ValueError("a heat map must be a non-empty 2-D array")
    peak = float(counts.max())
    levels = np.zeros(counts.shape, np.uint8) if peak <= 0 else \
        np.clip(np.round(counts.astype(np.float64) * 255.0 / peak), 0, 255).astype(np.uint8)
    colours = cv2.applyColorMap(levels, cv2.COLORMAP_TURBO)
    colours[counts <= 0] = 0
    rows, cols = counts.shape
    big = cv2.resize(colours, (cols * scale, rows * scale), interpolation=cv2.INTER_NEAREST)
    done, encoded = cv2.imencode(".png", big)
    if not done:
        raise ValueError("the heat map could not be encoded")
    return encoded.tobytes()
