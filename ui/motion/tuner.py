"""The motion tuner's side of the service: what `MotionService.tune(source_id)` answers,
turned into what the zone canvas paints (the changed pixels as a translucent picture, the
counted boxes, the share changed), polled about five times a second on the GUI's worker
threads, one call at a time, so a slow answer never stacks calls nor blocks the window.

Asking `tune()` is also what keeps the detector filling its changed-pixels mask for the
source (for 5 s after each call): while no tuner polls, the detector makes no mask at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage

from ui.forms import if_alive
from ui.tasks import TaskRunner

TUNE_MS = 200        # ~5 a second: the sliders' effect shows within a fifth of a second
STATUS_EVERY = 5     # the analyser's rate and cost, once a second
MASK_BGRA = (40, 40, 255, 150)  # changed pixels: a translucent red (QImage ARGB32 byte order)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class TunedPicture:
    """One detection as the tuner shows it."""

    level: float                 # share of the analysed picture changed, 0..1
    motion: bool                 # counted as motion
    zones: tuple[str, ...]       # include zones the counted change touched
    boxes: tuple[Box, ...]       # normalised (x, y, w, h)
    night: bool
    relearned: bool
    mask: QImage | None = None   # the changed pixels, red where changed, transparent elsewhere

    def summary(self) -> str:
        """'3.2 % changed · motion in door' — the words under the picture."""
        words = [f"{self.level * 100:.1f} % changed"]
        if self.relearned:
            words.append("whole picture changed: re-learning the scene")
        elif self.motion:
            words.append("motion" + (f" in {', '.join(self.zones)}" if self.zones else ""))
        else:
            words.append("no motion")
        if self.night:
            words.append("night settings")
        return " · ".join(words)


def mask_image(mask: np.ndarray | None) -> QImage | None:
    """The detector's 0/255 mask as a picture of its own size, red where changed."""
    if mask is None or mask.ndim != 2 or mask.size == 0:
        return None
    h, w = mask.shape
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[mask > 0] = MASK_BGRA
    image = QImage(rgba.data, w, h, w * 4, QImage.Format.Format_ARGB32)
    return image.copy()  # owns its pixels: the array goes away with this call


def tuned_picture(detection: Any) -> TunedPicture | None:
    """A `vision.detector.Detection` (read by its fields: the GUI does not import the
    detector) as the tuner paints it; None when there is none yet."""
    if detection is None:
        return None
    boxes = tuple(tuple(float(v) for v in box) for box in detection.boxes)
    return TunedPicture(float(detection.level), bool(detection.motion), tuple(detection.zones),
                        boxes, bool(detection.night), bool(detection.relearned),
                        mask_image(getattr(detection, "changed", None)))


def status_text(status: Any) -> str:
    """'analysing the preview stream · 5.0 pictures/s · 0.4 ms each' from a MotionStatus."""
    if status.analysing == "unknown":  # another station's source, its owner not answering
        return f"not known here: {status.error or 'its station did not answer'}"
    if status.analysing == "off" or not status.settings.enabled:
        return "not analysed (motion detection off or the source is not running)"
    what = ("the preview stream" if status.analysing == "preview"
            else "the main stream's keyframes only (the source has no preview stream)")
    return (f"analysing {what} · {status.rate_fps:.1f} pictures/s · "
            f"{status.cost_ms:.2f} ms each")


class TunerPoller(QObject):
    """Asks `tune()` every `TUNE_MS` and the status every second while started."""

    tuned = Signal(object)      # TunedPicture, or None (no detection yet)
    status = Signal(object)     # MotionStatus
    failed = Signal(object)     # the error of the last call

    def __init__(self, motion: Any, source_id: int, tasks: TaskRunner,
                 parent: QObject | None = None, *, interval_ms: int = TUNE_MS):
        super().__init__(parent)
        self._motion, self.source_id, self._tasks = motion, source_id, tasks
        self._busy = False
        self._ticks = 0
        self.polls = 0  # answers received (tests wait on it)
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.poll)

    def start(self) -> None:
        self._timer.start()
        self.poll()

    def stop(self) -> None:
        self._timer.stop()

    def poll(self) -> None:
        if self._busy:
            return  # the last answer has not come yet: skip, never queue
        self._busy = True
        motion, source_id = self._motion, self.source_id
        with_status = self._ticks % STATUS_EVERY == 0
        self._ticks += 1

        def ask() -> tuple[TunedPicture | None, Any]:
            picture = tuned_picture(motion.tune(source_id))
            return picture, motion.status(source_id) if with_status else None
        self._tasks.run(ask, self._answered)

    @if_alive  # the dialog may have closed (and deleted us) while the call ran
    def _answered(self, result: tuple | None, error: BaseException | None) -> None:
        self._busy = False
        if not self._timer.isActive():
            return  # stopped meanwhile: nothing more to show
        if error is not None:
            self.failed.emit(error)
            return
        self.polls += 1
        picture, status = result
        self.tuned.emit(picture)
        if status is not None:
            self.status.emit(status)

