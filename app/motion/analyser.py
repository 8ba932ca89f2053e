"""One source's analyser: a thread that pulls grey pictures from the recorder's analysis slot,
runs the detector and the tracker on them, and hands the tracker's changes on.

It takes the newest picture each time (recorder.analysis.AnalysisSlot): when it falls behind,
pictures are lost, never packets, and `rate_fps` says how many it really analysed. The
decoder makes pictures at the settings' rate, so pulling as they come is the pace.

What the changes become (events, the bus) is the service's business (`on_change`, called on
this thread); a slow catalog slows this analyser alone. A source that stops sending pictures
while in motion has its motion ended after RELEASE_S of silence (the tracker's clock is the
pictures' own time, so it is fed a quiet picture at the time the silence reached).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable

import numpy as np

from recorder.analysis import AnalysisSlot, GreyFrame
from vision.detector import Detection, MotionDetector
from vision.settings import MotionSettings
from vision.tracker import MotionChange, MotionTracker

log = logging.getLogger(__name__)

RATE_WINDOW_S = 10.0  # rate_fps and cost_ms are over this long
TUNE_S = 5.0          # a tune() keeps the changed mask on for this long
WAIT_S = 0.5          # the longest wait for a picture before looking at the silence

ChangeCallback = Callable[["SourceAnalyser", MotionChange, float], None]
# (source id, the picture's wall time, its changed pixels 0/255 with the masks applied): the
# motion grids' store (app.motion_search), which only ORs them into memory on this thread.
GridCallback = Callable[[int, float, np.ndarray], None]


class SourceAnalyser(threading.Thread):
    """`on_change(analyser, change, wall)`: a tracker change and the wall time it happened at
    (its stream time converted with the newest picture's arrival)."""

    def __init__(self, source_id: int, slot: AnalysisSlot, settings: MotionSettings,
                 on_change: ChangeCallback, on_grid: GridCallback | None = None) -> None:
        super().__init__(name=f"motion-{source_id}", daemon=True)
        self.source_id, self.slot = source_id, slot
        self._settings = settings
        self._pending: MotionSettings | None = None  # a live change, taken before a picture
        self._on_change = on_change
        self._on_grid = on_grid
        self._detector = MotionDetector(settings)
        self._tracker = MotionTracker(settings)
        self._stopping = threading.Event()
        self._window: deque[tuple[float, float]] = deque()  # (monotonic, cost s) per picture
        self._tune_until = 0.0
        self._since = time.monotonic()
        self.last: Detection | None = None        # the newest detection
        self.last_mask: Detection | None = None   # the newest one with its changed mask
        self._newest: GreyFrame | None = None
        self.analysed = 0
        self.event_id: int | None = None  # the open motion event (the service's)
        self.zones: tuple[str, ...] = ()

    # --- from any thread -----------------------------------------------------------------
    def configure(self, settings: MotionSettings) -> None:
        """Apply new settings from the next picture on (the detector keeps its background)."""
        self._pending = settings

    @property
    def settings(self) -> MotionSettings:
        return self._pending or self._settings

    def tune(self) -> Detection | None:
        """The newest detection with its changed mask; keeps masks coming for TUNE_S."""
        self._tune_until = time.monotonic() + TUNE_S
        return self.last_mask

    def stop(self, timeout: float = 3.0) -> None:
        self._stopping.set()
        self.slot.wake()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    @property
    def active(self) -> bool:
        return self._tracker.active

    def rate(self) -> tuple[float, float]:
        """(pictures analysed per second, mean cost in ms) over the last RATE_WINDOW_S (or
        since the analyser started, when that is less)."""
        now = time.monotonic()
        recent = [cost for at, cost in list(self._window) if now - at <= RATE_WINDOW_S]
        if not recent:
            return 0.0, 0.0
        span = max(min(RATE_WINDOW_S, now - self._since), 1.0)
        return len(recent) / span, 1000.0 * sum(recent) / len(recent)

    # --- the thread ------------------------------------------------------------------------
    def run(self) -> None:
        seq = 0
        while not self._stopping.is_set():
            frame = self.slot.wait_newer(seq, WAIT_S)
            if self._stopping.is_set():
                break
            try:
                if frame is None:
                    self._silence()
                    continue
                seq = frame.seq
                self._analyse(frame)
            except Exception:  # noqa: BLE001 - the analyser must outlive one bad picture
                log.exception("source %s: motion analysis failed on a picture", self.source_id)

    def _analyse(self, frame: GreyFrame) -> None:
        pending = self._pending
        if pending is not None:
            self._pending = None
            self._settings = pending
            self._detector.configure(pending)
            self._tracker.configure(pending)
        keep_mask = time.monotonic() < self._tune_until
        started = time.perf_counter()
        # the grids need every moving picture's mask (the detector's own array, no copy)
        detection = self._detector.feed(frame.grey, frame.t, colour=frame.colour,
                                        keep_mask=keep_mask or self._on_grid is not None)
        changes = self._tracker.feed(detection)
        cost = time.perf_counter() - started
        now = time.monotonic()
        self._window.append((now, cost))
        while self._window and now - self._window[0][0] > RATE_WINDOW_S:
            self._window.popleft()
        self.analysed += 1
        self._newest = frame
        self.last = detection
        if keep_mask:
            self.last_mask = detection
        if self._on_grid is not None and detection.motion and detection.changed is not None:
            self._on_grid(self.source_id, frame.wall, detection.changed)
        for change in changes:
            self._on_change(self, change, frame.wall - (frame.t - change.t))

    def _silence(self) -> None:
        """No picture for WAIT_S: while in motion, feed the tracker a quiet picture at the
        stream time the silence has reached, so a camera that went away ends its motion."""
        newest = self._newest
        if newest is None or not self._tracker.active:
            return
        silent_s = time.time() - newest.wall
        if silent_s < MotionTracker.RELEASE_S:
            return
        t = newest.t + silent_s
        quiet = Detection(t=t, level=0.0, motion=False, zones=(), boxes=(), relearned=False,
                          night=self.last.night if self.last is not None else False)
        for change in self._tracker.feed(quiet):
            self._on_change(self, change, newest.wall + silent_s - (t - change.t))

    def finish(self) -> list[MotionChange]:
        """(after stop) What is still open, as a "closed" change to end it with."""
        if self._tracker.active and self._newest is not None:
            return [MotionChange("closed", self._newest.t, self.zones)]
        return []
