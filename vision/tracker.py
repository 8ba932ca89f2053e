"""From detections to motion events: make time, release, maximum length, constant motion.

The detector says, picture by picture, whether something moved; an operator wants events: one
"opened" when a visitor arrives, one "closed" when he has gone. The tracker is that step, and
it is pure: its only clock is the detections' own time (stream time), so the same pictures
give the same events in a test, in the analyser thread, and after a slow analyser dropped
pictures.

* **Make time**: motion must go on for ``make_time_s`` before an event opens (an insect crossing
  the infrared lamp lasts a few pictures). The event's time is the motion's first picture, so
  the pre-capture and the measured latency count from when the motion really began. One
  picture without motion in between is forgiven (a walker's contour can dip under the minimum
  area for a picture); a longer gap starts the count again.
* **Release**: an event closes RELEASE_S after its last counted picture (or one and a half
  picture intervals, if the source is analysed that rarely), so a walker who stops for a
  second stays one event. The post-capture of a recording is the recorder's business.
* **Maximum length**: at ``max_event_s`` the event closes and, if motion goes on, a new one opens
  at once: no event is unbounded.
* **Constant motion**: when events have been open for more than ``constant_motion_share`` of the
  last hour (a spider web, rain, a moving tree), one ``constant_motion`` change says so; it is
  re-armed only when the share falls below half of that, so it is raised once, not per event.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from vision.detector import Detection
from vision.settings import MotionSettings

HOUR_S = 3600.0
# Before an event opens, counted pictures may be this far apart and still be one motion (one
# missed picture at 5 pictures a second).
_MAKE_GAP_S = 0.5


@dataclass(frozen=True)
class MotionChange:
    kind: Literal["opened", "zones", "closed", "constant_motion"]
    t: float                      # opened: the motion's first counted picture; closed: its last
    zones: tuple[str, ...] = ()   # zones touched so far in this event


class MotionTracker:
    RELEASE_S = 2.0   # no counted motion for this long closes the event (hysteresis)

    def __init__(self, settings: MotionSettings) -> None:
        self._settings = settings
        self._run_start: float | None = None    # first counted picture of the current motion
        self._last_motion: float | None = None  # last counted picture
        self._event_start: float | None = None  # set while an event is open
        self._zones: set[str] = set()
        self._pending_zones: set[str] = set()   # zones touched before the event opened
        self._last_t: float | None = None
        self._intervals: deque[float] = deque(maxlen=5)   # between the last pictures
        self._busy: deque[list[float]] = deque()  # [start, end] while an event was open
        self._busy_total = 0.0                    # their summed length
        self._constant_armed = True

    def configure(self, settings: MotionSettings) -> None:
        """Live change: an open event stays open; the new make time, maximum length and
        constant-motion share apply from the next picture."""
        self._settings = settings

    @property
    def active(self) -> bool:
        return self._event_start is not None

    def busy_share(self, now: float) -> float:
        """Share of the hour before ``now`` (the newest picture's time or later) during which
        an event was open. A running total: rain can open hundreds of short events an hour,
        and this is asked at every picture."""
        start = now - HOUR_S
        total = self._busy_total
        for begin, end in self._busy:   # the few oldest that reach back before the hour
            if begin >= start:
                break
            total -= min(end, start) - begin
        return max(0.0, total) / HOUR_S

    def feed(self, d: Detection) -> list[MotionChange]:
        changes: list[MotionChange] = []
        previous_t, self._last_t = self._last_t, d.t
        if previous_t is not None and d.t < previous_t:
            # The stream's time went back (a new stream): what was open ends where its motion
            # was last seen, and the busy hour, in the old stream's time, is forgotten.
            if self.active:
                changes.append(self._close(self._last_motion if self._last_motion is not None
                                           else previous_t))
            self._run_start = self._last_motion = None
            self._busy.clear()
            self._busy_total = 0.0
            self._intervals.clear()
            previous_t = None
        if previous_t is not None and d.t > previous_t:
            self._intervals.append(d.t - previous_t)
        # One missed picture is forgiven, whatever the rate: on a source analysed on its main
        # stream's keyframes (one picture every GOP) the gaps are seconds long. The interval is
        # the median of the last few, so that one long silence (a camera gone) is not taken
        # for the source's rate.
        interval = sorted(self._intervals)[len(self._intervals) // 2] if self._intervals else 0.0
        gap = max(_MAKE_GAP_S, 2.5 * interval)
        release = max(self.RELEASE_S, 1.5 * interval)
        was_active = self.active
        if d.motion:
            if self._run_start is None or (
                    not self.active and self._last_motion is not None
                    and d.t - self._last_motion > gap):
                self._run_start = d.t
                self._pending_zones = set()
            self._last_motion = d.t
            self._pending_zones.update(d.zones)

        if self.active:
            assert self._event_start is not None
            if d.t - self._event_start >= self._settings.max_event_s:
                changes.append(self._close(self._last_motion if self._last_motion is not None
                                           else d.t))
                if d.motion:
                    changes.append(self._open(d.t, set(d.zones)))
            elif d.motion and not set(d.zones) <= self._zones:
                self._zones.update(d.zones)
                changes.append(MotionChange("zones", d.t, tuple(sorted(self._zones))))
            elif not d.motion and self._last_motion is not None \
                    and d.t - self._last_motion >= release:
                changes.append(self._close(self._last_motion))
        elif d.motion and d.t - self._run_start >= self._settings.make_time_s - 1e-9:
            changes.append(self._open(self._run_start, self._pending_zones))
        elif not d.motion and self._last_motion is not None \
                and d.t - self._last_motion > gap:
            self._run_start = None      # too short: an insect, not a visitor

        changes.extend(self._account(previous_t, d.t, was_active))
        return changes

    def _open(self, t: float, zones: set[str]) -> MotionChange:
        self._event_start = t
        self._zones = set(zones)
        return MotionChange("opened", t, tuple(sorted(self._zones)))

    def _close(self, t: float) -> MotionChange:
        change = MotionChange("closed", t, tuple(sorted(self._zones)))
        self._event_start = None
        self._run_start = None
        self._zones = set()
        self._pending_zones = set()
        return change

    def _account(self, previous_t: float | None, now: float,
                 was_active: bool) -> list[MotionChange]:
        """Add the time since the previous picture to the busy hour if an event was open over
        it, and raise constant motion when the share crosses the setting."""
        if previous_t is not None and (was_active or self.active) and now > previous_t:
            if self._busy and self._busy[-1][1] >= previous_t:
                self._busy_total += now - self._busy[-1][1]
                self._busy[-1][1] = now
            else:
                self._busy_total += now - previous_t
                self._busy.append([previous_t, now])
        while self._busy and self._busy[0][1] <= now - HOUR_S:
            begin, end = self._busy.popleft()
            self._busy_total -= end - begin
        share = self.busy_share(now)
        limit = self._settings.constant_motion_share
        if self._constant_armed and share > limit:
            self._constant_armed = False
            return [MotionChange("constant_motion", now, tuple(sorted(self._zones)))]
        if not self._constant_armed and share < limit / 2:
            self._constant_armed = True
        return []
