"""`CameraWatch`: a camera that stops sending is an alarm (`camera_lost`), and its return
closes it (`camera_back`).

A thread reads the recorder's per-source counters (`RecorderManager.counters`: packets read
and the wall time of the newest, from memory) every `poll_s`; it never calls into a reader,
so a reader never waits for it, nor for the catalog it writes. A source is lost when no
packet came for `lost_recording_s` while a file of it is open, `lost_idle_s` while not:
with the defaults (1.5 s and 4.5 s, looked at every 0.25 s) the event is open within 2 s of
the last packet while recording and 5 s while idle. A source that never sent a packet
counts from when the watch first saw it. A source that is removed or disabled while lost
has its event closed without a `camera_back` (nobody expects it back).

An event the catalog cannot take now is tried again at the next look (logged once); a
station that stopped with an event open closes it at its next start.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Mapping

from app.alarms.event_service import EventService
from app.catalog import CATALOG_ERRORS
from app.schemas import iso_utc
from recorder.worker import SourceCounters

log = logging.getLogger(__name__)

POLL_S = 0.25
LOST_RECORDING_S = 1.5
LOST_IDLE_S = 4.5


@dataclass
class Watched:
    first_seen: float  # wall time the watch first saw the source
    lost_event: int | None = None  # the open camera_lost event's id
    lost_at: float | None = None  # the newest packet's wall time when it was lost


def _iso(wall: float) -> str:
    return iso_utc(datetime.fromtimestamp(wall, timezone.utc))


class CameraWatch:
    def __init__(self, events: EventService, counters: Callable[[], Mapping[int, SourceCounters]],
                 *, poll_s: float = POLL_S, lost_recording_s: float = LOST_RECORDING_S,
                 lost_idle_s: float = LOST_IDLE_S, clock: Callable[[], float] = time.time):
        self.events, self.counters = events, counters
        self.poll_s, self.clock = poll_s, clock
        self.lost_recording_s, self.lost_idle_s = lost_recording_s, lost_idle_s
        self._watched: dict[int, Watched] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="camera-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        self._close_left_open()
        while not self._stop.wait(self.poll_s):
            try:
                self.look()
                if self._failing:
                    log.info("camera watch: the catalog takes events again")
                    self._failing = False
            except CATALOG_ERRORS as exc:
                if not self._failing:
                    log.warning("camera watch: the catalog cannot be written (%s); trying "
                                "again", str(exc).splitlines()[0][:200])
                self._failing = True
            except Exception:  # noqa: BLE001 - the watch must outlive a bad look
                log.exception("camera watch: a look failed")

    def _close_left_open(self) -> None:
        """This station's camera_lost events a stop or a crash left open."""
        try:
            for event in self.events.list(kind="camera_lost", open=True, limit=1000):
                if event.station_id == self.events.station_id:
                    self.events.close(event.id)
        except CATALOG_ERRORS:
            log.warning("camera watch: could not close the events left open")

    def look(self) -> None:
        """One look at every source (the thread's step; a test may call it directly)."""
        now = self.clock()
        counters = self.counters()
        for source_id in [s for s in self._watched if s not in counters]:
            gone = self._watched[source_id]
            if gone.lost_event is not None:
                self.events.close(gone.lost_event)
            del self._watched[source_id]
        for source_id, counts in counters.items():
            watched = self._watched.setdefault(source_id, Watched(first_seen=now))
            last = counts.last_packet_wall
            if watched.lost_event is None:
                silent_since = last if last is not None else watched.first_seen
                limit = self.lost_recording_s if counts.recordings else self.lost_idle_s
                if now - silent_since >= limit:
                    self._lost(source_id, watched, counts, silent_since, now)
            elif last is not None and (watched.lost_at is None or last > watched.lost_at):
                self._back(source_id, watched, last)

    def _lost(self, source_id: int, watched: Watched, counts: SourceCounters,
              silent_since: float, now: float) -> None:
        name = self.events.source_label(source_id)
        state = "while recording" if counts.recordings else "while idle"
        event = self.events.open(
            "camera_lost", source_id=source_id,
            text=f"{name}: camera lost ({state}): no picture for {now - silent_since:.1f} s",
            data={"last_packet": _iso(counts.last_packet_wall) if counts.last_packet_wall else None,
                  "recording": bool(counts.recordings), "status": counts.status})
        watched.lost_event, watched.lost_at = event.id, counts.last_packet_wall
        log.warning("camera lost: source %s (%s)", source_id, state)

    def _back(self, source_id: int, watched: Watched, last: float) -> None:
        lost_for = last - (watched.lost_at if watched.lost_at is not None else watched.first_seen)
        lost_event = watched.lost_event
        self.events.close(lost_event)
        watched.lost_event = None  # closed: a failure of the moment below does not reopen it
        self.events.instant(
            "camera_back", source_id=source_id,
            text=f"{self.events.source_label(source_id)}: camera back after {lost_for:.1f} s",
            data={"lost_event_id": lost_event,
                  "first_packet": _iso(last), "silent_s": round(lost_for, 1)})
        watched.lost_at = None
        log.info("camera back: source %s after %.1f s", source_id, lost_for)
