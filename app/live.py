"""What the front ends see of a live source, without importing the recorder: the latest-frame
slot a viewer pulls pictures from (and tells how much it wants decoded), the frames in it,
and the reader's live figures.

The recorder owns these types (its reader and decoder threads fill them); the services hand
them out (`SourceService.frames`, `SourceService.live_stats`). The GUI's tiles and the API's
MJPEG stream name them from here, so `ui` and `api` never import `recorder` (an
import-linter contract in pyproject.toml).
"""

from recorder.frames import Demand, Frame, FrameSlot
from recorder.manager import LiveStats

__all__ = ["Demand", "Frame", "FrameSlot", "LiveStats"]
