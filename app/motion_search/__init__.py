"""Motion search (#28): per-second motion grids stored per source and minute, searched by
region and summed into heat maps. See grids.py (storing) and service.py (searching)."""

from app.motion_search.grids import GRID_COLS, GRID_ROWS, GridStore
from app.motion_search.service import Heatmap, MotionHit, MotionSearchService, Region

__all__ = ["GRID_COLS", "GRID_ROWS", "GridStore", "Heatmap", "MotionHit", "MotionSearchService",
           "Region"]
