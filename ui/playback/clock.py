"""The one time cursor every tile of a synchronised playback follows: a wall-clock instant
(UTC, as epoch seconds) that runs at a speed, forward or backward, or stands still.

Plain Python and thread-safe: the GUI's tick reads it to choose each tile's picture, and the
tiles' decoding workers read it to know how far ahead to decode (or when they fall behind).
Its position is computed from one anchor (monotonic time, instant) each read, so every
reader at one moment sees the same instant and nothing drifts by being added up.
"""

from __future__ import annotations

import threading
import time

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


class SharedClock:
    def __init__(self, instant: float = 0.0, now=time.monotonic):
        self._now = now
        self._lock = threading.Lock()
        self._anchor_mono = now()
        self._anchor = instant
        self.speed = 1.0
        self.direction = 1  # 1 forward, -1 backward
        self.running = False

    def instant(self) -> float:
        """The cursor now (epoch seconds, UTC)."""
        with self._lock:
            return self._position(self._now())

    def _position(self, mono: float) -> float:
        if not self.running:
            return self._anchor
        return self._anchor + (mono - self._anchor_mono) * self.speed * self.direction

    def _reanchor(self) -> None:
        mono = self._now()
        self._anchor = self._position(mono)
        self._anchor_mono = mono

    def set(self, instant: float) -> None:
        """Put the cursor on `instant` (a jump: running or not, it goes on from there)."""
        with self._lock:
            self._anchor, self._anchor_mono = instant, self._now()

    def run(self, direction: int, speed: float) -> None:
        if speed not in SPEEDS:
            raise ValueError(f"speed must be one of {SPEEDS}")
        with self._lock:
            self._reanchor()
            self.direction, self.speed, self.running = (1 if direction >= 0 else -1), speed, True

    def stop(self) -> float:
        """Stand still where the cursor is; that instant."""
        with self._lock:
            self._reanchor()
            self.running = False
            return self._anchor

    @property
    def rate(self) -> float:
        """Footage seconds per real second, signed (0 while standing)."""
        return self.speed * self.direction if self.running else 0.0


def faster(speed: float) -> float:
    """The next speed up (16x stays 16x)."""
    return next((s for s in SPEEDS if s > speed), SPEEDS[-1])
