"""Watching sources for "offline too long": the Huawei Live interruption window and the
RTC jobs' `max_idle_time` both end a recording once its source has stayed away that long.

The recorder itself reconnects forever and keeps a file open across an outage (with a gap);
these dialects instead promise the recording ends, so one small thread polls the sources'
in-memory status (cheap: no catalog access) and calls back once a limit is passed.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from app.schemas import SourceStatus

log = logging.getLogger(__name__)


@dataclass
class _Watch:
    source_id: int
    limit_s: float
    on_expired: Callable[[str], None]
    on_online: Callable[[str], None] | None
    offline_since: float | None
    seen_online: bool = False


class OfflineWatch:
    """Calls `on_expired(key)` once when the watched source has not been `online` for
    `limit_s` seconds in a row, and `on_online(key)` the first time it is seen online. Both
    run on the watcher's thread, outside its lock; a watch ends after expiring."""

    def __init__(self, status_of: Callable[[int], str], *, name: str, interval_s: float = 0.25):
        self._status_of = status_of
        self._name = name
        self._interval = interval_s
        self._watches: dict[str, _Watch] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, key: str, source_id: int, limit_s: float, on_expired: Callable[[str], None],
              on_online: Callable[[str], None] | None = None) -> None:
        now = time.monotonic()
        online = self._online(source_id)
        with self._lock:
            self._watches[key] = _Watch(source_id, limit_s, on_expired, on_online,
                                        None if online else now, seen_online=online)
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def unwatch(self, key: str) -> None:
        with self._lock:
            self._watches.pop(key, None)

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(2.0)

    def _online(self, source_id: int) -> bool:
        try:
            return self._status_of(source_id) == SourceStatus.online
        except Exception:  # noqa: BLE001 - a vanished source is simply not online
            return False

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            now = time.monotonic()
            with self._lock:
                watches = list(self._watches.items())
            for key, w in watches:
                online = self._online(w.source_id)
                calls: list[Callable[[str], None]] = []
                with self._lock:
                    if self._watches.get(key) is not w:
                        continue
                    if online:
                        w.offline_since = None
                        if not w.seen_online:
                            w.seen_online = True
                            if w.on_online is not None:
                                calls.append(w.on_online)
                    elif w.offline_since is None:
                        w.offline_since = now
                    elif now - w.offline_since >= w.limit_s:
                        del self._watches[key]
                        calls.append(w.on_expired)
                for call in calls:
                    try:
                        call(key)
                    except Exception:  # noqa: BLE001 - one bad callback must not stop the watch
                        log.exception("%s: callback for %s failed", self._name, key)
