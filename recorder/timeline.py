"""Where a packet lands in a file: the timestamp rules every recording shares.

A file starts at zero and its timestamps only grow. Within one connection (a "session") the
camera's own clock is trusted; a packet without a timestamp falls back to the wall clock.
After a reconnect the camera's clock restarts anywhere, so the new session is placed where
the wall clock says it belongs: a camera drop shows up as a gap in the file, never squeezed
out and never overlapping what was already written. Each such drop is kept as data: the wall
times of the last packet before it and the first packet after it.
"""

from __future__ import annotations

import av

TICKS = 90000  # file time units per second
# An AVRational, not a Fraction: PyAV reads its numerator and denominator in C when it is
# assigned to a packet, where a Fraction's are two Python property calls.
TIME_BASE = av.AVRational(1, TICKS)
MIN_GAP_S = 0.5  # shorter pauses are jitter, not a drop worth logging


class StreamClock:
    """The time base of one input stream as integers, read once, with what the timing of
    every packet needs worked out in advance.

    PyAV builds a new `fractions.Fraction` each time a packet's `time_base` is read, and a
    Fraction's arithmetic runs in Python: per packet, that cost more than the rest of the
    mux path. Every packet of one stream carries that stream's time base (FFmpeg's
    demuxers and encoders, the station's RTSP reader), so it is read from the stream's first
    packet only; a reconnect opens new streams and so new clocks (`clock_of`).

    The results are the same floats and ticks as the per-packet Fraction version gave (the
    file's bytes do not change): `scale` is `numerator / denominator` of the same integers,
    and a PTS-DTS offset is exact integer arithmetic only where the time base is a whole
    number of ticks, where the float version was exact too (tests/bench/check_timing.py)."""

    __slots__ = ("stream", "time_base", "num", "den", "scale", "ticks", "to_file")

    def __init__(self, stream: object, time_base) -> None:
        self.stream = stream  # the input stream it belongs to (identity only)
        if time_base:
            self.num, self.den = time_base.numerator, time_base.denominator
            self.time_base = av.AVRational(self.num, self.den)  # to restore on a packet
            self.scale: float | None = self.num / self.den  # seconds per unit
            whole, rest = divmod(self.num * TICKS, self.den)
            self.ticks: int | None = whole if rest == 0 else None  # file ticks per unit
            self.to_file = self.num * TICKS / self.den  # file ticks per unit, as a float
        else:  # no time base: the wall clock places the packets
            self.num, self.den = 0, 1
            self.time_base = av.AVRational(0, 1)
            self.scale = self.ticks = None
            self.to_file = 0.0

    def timing(self, packet: av.Packet) -> tuple[float | None, int]:
        """(camera seconds of the packet or None, PTS-DTS in file ticks, never negative)."""
        scale = self.scale
        if scale is None:
            return None, 0
        dts, pts = packet.dts, packet.pts
        if dts is None:
            return (pts * scale if pts is not None else None), 0
        if pts is None or pts == dts:
            return dts * scale, 0
        ticks = self.ticks
        offset = (pts - dts) * ticks if ticks is not None else round((pts - dts) * scale * TICKS)
        return dts * scale, max(0, offset)


def clock_of(clocks: dict[str, StreamClock], kind: str, stream: object,
             packet: av.Packet) -> StreamClock:
    """The clock of `stream` (the one `packet` came from) kept under `kind` in `clocks`;
    a new one when the packets come from another stream now (a reconnect). Only the newest
    stream of each kind is kept: an old input's objects are not held on to."""
    clock = clocks.get(kind)
    if clock is None or clock.stream is not stream:
        clock = clocks[kind] = StreamClock(stream, packet.time_base)
    return clock


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
