"""Where a packet lands in a file: the timestamp rules every recording shares.

A file starts at zero and its timestamps only grow. Within one connection (a "session") the
camera's own clock is trusted; a packet without a timestamp falls back to the wall clock.
After a reconnect the camera's clock restarts anywhere, so the new session is placed where
the wall clock says it belongs: a camera drop shows up as a gap in the file, never squeezed
out and never overlapping what was already written. Each such drop is kept as data: the wall
times of the last packet before it and the first packet after it.
"""

from __future__ import annotations

from fractions import Fraction

import av

TICKS = 90000  # file time units per second
TIME_BASE = Fraction(1, TICKS)
MIN_GAP_S = 0.5  # shorter pauses are jitter, not a drop worth logging

# Per packet arithmetic stays in floats and ints: `Fraction` maths costs more per packet than
# the mux itself (measured by the recorder benchmark), and a packet's `time_base` is read once.


def packet_timing(packet: av.Packet) -> tuple[float | None, int]:
    """(camera seconds of the packet or None, PTS-DTS in file ticks, never negative)."""
    tb = packet.time_base
    dts, pts = packet.dts, packet.pts
    if not tb:
        return None, 0
    scale = tb.numerator / tb.denominator
    ts = dts if dts is not None else pts
    offset = round((pts - dts) * scale * TICKS) if pts is not None and dts is not None else 0
    return (ts * scale if ts is not None else None), max(0, offset)


class Splice:
    """A session marker for packets after a resumed pause: they continue right where the
    file ended (paused time is left out, as a media recorder does), unlike a reconnect,
    which is placed at its wall-clock position."""

    def __init__(self, base: object):
        self.base = base  # the reader's connection this splice belongs to


class Timeline:
    """Maps (camera seconds, wall time, session) to file seconds for one file."""

    def __init__(self) -> None:
        self._session: object = None
        self._offset_s = 0.0  # added to camera seconds to get file seconds
        self.first_wall: float | None = None
        self.end_s = 0.0      # the furthest point anything written reaches
        self.last_wall: float | None = None  # wall time of the newest packet placed
        self.gaps: list[tuple[float, float]] = []  # (wall before, wall after) of each drop

    def place(self, seconds: float | None, wall: float, session: object) -> float:
        """File seconds of a packet read at `wall` carrying camera time `seconds`."""
        if seconds is None:
            seconds = wall - (self.first_wall if self.first_wall is not None else wall)
            seconds -= self._offset_s
        if session is not self._session:
            self._start_session(session, seconds, wall)
        self.last_wall = wall
        return seconds + self._offset_s

    def position(self, seconds: float | None, wall: float, session: object) -> float:
        """Where `place` would put this packet, changing nothing (a rollover asks this of a
        keyframe before deciding which file it goes to)."""
        if self._session is None:
            return 0.0
        first = self.first_wall if self.first_wall is not None else wall
        if session is self._session:
            return (seconds if seconds is not None else wall - first - self._offset_s) \
                + self._offset_s
        if isinstance(session, Splice):
            return self.end_s
        return max(wall - first, self.end_s)

    def extend(self, end_s: float) -> None:
        self.end_s = max(self.end_s, end_s)

    def _start_session(self, session: object, seconds: float, wall: float) -> None:
        if self._session is None:
            self._offset_s = -seconds
            self.first_wall = wall
        elif isinstance(session, Splice):
            self._offset_s = self.end_s - seconds
        else:
            file_pos = wall - (self.first_wall if self.first_wall is not None else wall)
            self._offset_s = max(file_pos, self.end_s) - seconds
            if file_pos - self.end_s > MIN_GAP_S:
                before = self.last_wall if self.last_wall is not None else wall
                self.gaps.append((round(before, 3), round(wall, 3)))
        self._session = session


class MonotonicDts:
    """Per-stream DTS in TIME_BASE units that strictly grows, whatever the camera sends."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def __call__(self, kind: str, seconds: float) -> int:
        dts = max(round(seconds * TICKS), self._last.get(kind, -1) + 1)
        self._last[kind] = dts
        return dts
