"""Power-loss durability of the files being recorded.

Every packet reaches the OS at once (`flush_packets`), so a killed process loses nothing the
muxer wrote; a power loss, though, loses what the OS had not written back yet. `FileSyncer`
fsyncs every open recording at most every `period_s` seconds, on a thread of its own: an
fsync waits for the disk (milliseconds on a local disk, seconds on a slow or busy one), and
a reader thread that waited with it would fall behind its camera. The muxer's own descriptor
is not exposed by PyAV; any descriptor of the file syncs the same inode (Linux).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from recorder.mp4file import fsync_path

log = logging.getLogger(__name__)


class FileSyncer:
    def __init__(self, open_paths: Callable[[], Iterable[Path]]):
        self._open_paths = open_paths
        self.period_s = 0.0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._failing: set[Path] = set()  # logged once until they sync again
        self.passes = 0                    # completed passes (tests, diagnostics)
        self.last_pass_s = 0.0             # how long the last pass took
        self.slowest_s = 0.0               # the slowest single fsync seen

    def set_period(self, seconds: float) -> None:
        """0 stops syncing; any other value (re)starts it with that period."""
        with self._lock:
            self.period_s = max(0.0, float(seconds))
            if self.period_s > 0 and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self._run, name="fsync", daemon=True)
                self._thread.start()
        self._wake.set()  # take the new period now

    def stop(self) -> None:
        self.set_period(0)
        thread = self._thread
        if thread is not None:
            thread.join(5.0)

    def _run(self) -> None:
        while True:
            period = self.period_s
            if period <= 0:
                return
            self._wake.wait(period)
            self._wake.clear()
            if self.period_s <= 0:
                return
            self.sync_all()

    def sync_all(self) -> None:
        """One pass over every open file."""
        start = time.monotonic()
        paths = list(self._open_paths())
        self._failing.intersection_update(paths)
        for path in paths:
            t0 = time.monotonic()
            try:
                fsync_path(path)
            except FileNotFoundError:
                continue  # closed and removed meanwhile
            except OSError as exc:
                if path not in self._failing:
                    self._failing.add(path)
                    log.warning("fsync of %s failed: %s", path, exc)
                continue
            self._failing.discard(path)
            self.slowest_s = max(self.slowest_s, time.monotonic() - t0)
        self.last_pass_s = time.monotonic() - start
        self.passes += 1
        if self.period_s and self.last_pass_s > self.period_s:
            log.warning("fsync of the open recordings took %.1f s (period %.1f s): the disk "
                        "is slow", self.last_pass_s, self.period_s)
