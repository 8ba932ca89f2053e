"""`EventRaiser`: what the bus says, turned into events, on a thread of its own.

The bus calls its subscribers on the publisher's thread, and a recording's stop or failure
is published on a recorder's thread: writing the catalog there would make the recorder
wait for it. So the subscriber only appends to a bounded queue (the oldest gives way when
it is full, and how many were lost is logged) and one thread writes the events. A catalog
that cannot be written is logged once, the event is tried again a second later, and nothing
else waits for it.

What it raises: `recording_started` / `recording_stopped` / `recording_failed` from
RecordingStarted / RecordingStopped (not the cut between two files of a rollover),
`disk_low` from StorageLow, `retention_deleted` from RetentionDeleted.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from app.alarms.event_service import EventService
from app.catalog import CATALOG_ERRORS
from app.errors import StationError
from app.events import (
    Event, RecordingStarted, RecordingStopped, RetentionDeleted, StorageLow)
from app.schemas import RecordStatus

log = logging.getLogger(__name__)

QUEUE_LIMIT = 1000
RETRY_S = 1.0
ROLLOVER = "rollover"  # the origin of a rollover's stop and start (app.recordings.rollover)
QUIET_ORIGINS = ("core", "recorder", "shutdown")  # the station itself: nobody caused it
MAX_LISTED_IDS = 50  # record ids kept in a retention event's data


@dataclass(frozen=True)
class Pending:
    kind: str
    source_id: int | None
    text: str
    caused_by: str | None = None
    data: dict[str, Any] | None = None


class EventRaiser:
    def __init__(self, events: EventService, bus, *, source_label, retry_s: float = RETRY_S):
        """`source_label(source_id)`: how the texts name a source (`EventService.source_label`)."""
        self.events, self.bus, self.source_label = events, bus, source_label
        self.retry_s = retry_s
        self._queue: deque[Pending] = deque(maxlen=QUEUE_LIMIT)
        self._dropped = 0
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._unsubscribe = None

    def start(self) -> None:
        self._unsubscribe = self.bus.subscribe(self._on_event)
        self._thread = threading.Thread(target=self._run, name="event-raiser", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Write what is queued (for up to `timeout` seconds), then end."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    # --- on the publisher's thread: only note it --------------------------------------
    def _on_event(self, event: Event) -> None:
        pending = self._translate(event)
        if pending is None:
            return
        with self._wake:
            if len(self._queue) == self._queue.maxlen:
                self._dropped += 1
            self._queue.append(pending)
            self._wake.notify()

    @staticmethod
    def _translate(event: Event) -> Pending | None:
        if isinstance(event, RecordingStarted) and event.origin != ROLLOVER:
            return Pending("recording_started", event.source_id,
                           f"recording started (tag {event.tag_name})", _who(event.origin),
                           {"record_id": event.record_id, "tag_name": event.tag_name})
        if isinstance(event, RecordingStopped) and event.origin != ROLLOVER:
            failed = event.status == RecordStatus.failed
            return Pending("recording_failed" if failed else "recording_stopped",
                           event.source_id or None,
                           f"recording {'failed' if failed else 'stopped'} (tag {event.tag_name})",
                           _who(event.origin),
                           {"record_id": event.record_id, "tag_name": event.tag_name,
                            "status": str(event.status)})
        if isinstance(event, StorageLow):
            return Pending("disk_low", None, event.message,
                           data={"free_bytes": event.free_bytes, "floor_bytes": event.floor_bytes,
                                 "record_ids": list(event.record_ids[:MAX_LISTED_IDS])})
        if isinstance(event, RetentionDeleted):
            reasons = ", ".join(f"{n} by {r}" for r, n in event.by_reason if n)
            return Pending("retention_deleted", None,
                           f"retention deleted {len(event.record_ids)} record file(s) ({reasons})",
                           data={"record_ids": list(event.record_ids[:MAX_LISTED_IDS]),
                                 "by_reason": dict(event.by_reason), "why": event.why})
        return None

    # --- on its own thread: write ------------------------------------------------------
    def _run(self) -> None:
        failing = False
        while True:
            with self._wake:
                while not self._queue and not self._stopping:
                    self._wake.wait()
                if not self._queue:
                    return
                pending, dropped, self._dropped = self._queue[0], self._dropped, 0
            if dropped:
                log.warning("events: %d event(s) lost while the catalog could not take them",
                            dropped)
            try:
                self._write(pending)
            except CATALOG_ERRORS as exc:
                if not failing:
                    log.warning("events: the catalog cannot be written (%s); trying again",
                                str(exc).splitlines()[0][:200])
                failing = True
                with self._wake:
                    if self._stopping:
                        return
                    self._wake.wait(self.retry_s)
                continue
            except StationError as exc:  # a text or data the service refused: log, go on
                log.warning("events: %s event refused: %s", pending.kind, exc)
            if failing:
                log.info("events: the catalog takes events again")
                failing = False
            with self._wake:
                if self._queue and self._queue[0] is pending:
                    self._queue.popleft()

    def _write(self, pending: Pending) -> None:
        text = pending.text
        if pending.source_id is not None:
            text = f"{self.source_label(pending.source_id)}: {text}"
        self.events.instant(pending.kind, source_id=pending.source_id, text=text,
                            caused_by=pending.caused_by, data=pending.data)


def _who(origin: str) -> str | None:
    return None if origin in QUIET_ORIGINS else origin
