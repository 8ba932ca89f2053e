"""Run a scripted scene (tests/support/scenes.py) through a detector and a tracker the way
the station's analyser does: the Y plane at 180 px wide, 5 pictures a second, with the
picture's colour measure."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from tests.support.scenes import SCENES, analysis_pictures, scene_clip
from vision.detector import Detection, MotionDetector
from vision.settings import MotionSettings, Zone
from vision.tracker import MotionChange, MotionTracker


@dataclass
class SceneRun:
    detections: list[Detection] = field(default_factory=list)
    changes: list[tuple[float, MotionChange]] = field(default_factory=list)  # (picture t, change)

    def kinds(self) -> list[str]:
        return [change.kind for _, change in self.changes]


def run_scene(name: str, settings: MotionSettings | None = None) -> SceneRun:
    settings = settings or MotionSettings()
    detector, tracker = MotionDetector(settings), MotionTracker(settings)
    out = SceneRun()
    for t, grey, colour in _pictures(name, settings.fps):
        detection = detector.feed(grey, t, colour=colour)
        out.detections.append(detection)
        out.changes.extend((t, change) for change in tracker.feed(detection))
    return out


@lru_cache(maxsize=8)
def _pictures(name: str, fps: float) -> tuple:
    """A scene's analysis pictures, decoded once per test process (the detector never
    writes into the pictures it is fed)."""
    return tuple(analysis_pictures(scene_clip(name), fps=fps))


def rectangle(region, margin: float = 0.0) -> tuple[tuple[float, float], ...]:
    """The corners of a normalised (x, y, w, h) region, grown by ``margin`` on each side."""
    x, y, w, h = region
    x0, y0 = max(0.0, x - margin), max(0.0, y - margin)
    x1, y1 = min(1.0, x + w + margin), min(1.0, y + h + margin)
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def clock_mask() -> Zone:
    return Zone("", "exclude", rectangle(SCENES["clock"].region))
