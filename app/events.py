"""Core events: what happened in the station, published to whoever listens.

The bus calls subscribers synchronously in the publisher's thread (a recorder thread, an API
worker thread, the GUI thread), so a subscriber must be quick and thread-safe: the Qt bridge
re-emits events as queued signals, the API's event streams hand them to their own loop.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable, Protocol

from app.schemas import EventOut

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceStatusChanged:
    source_id: int
    status: str
    error: str | None = None


@dataclass(frozen=True)
class CatalogChanged:
    """Sources, groups or their membership changed (created, updated, deleted)."""

    entity: str  # "source" | "group"
    entity_id: int
    action: str  # "created" | "updated" | "deleted" | "members"


@dataclass(frozen=True)
class RecordingStarted:
    record_id: str
    source_id: int
    tag_name: str
    origin: str = "core"


@dataclass(frozen=True)
class RecordingStopped:
    record_id: str
    source_id: int
    tag_name: str
    status: str
    origin: str = "core"


@dataclass(frozen=True)
class RecordingPaused:
    """A running recording paused (`paused=True`) or resumed; the record stays `recording`."""

    record_id: str
    source_id: int
    tag_name: str
    paused: bool
    origin: str = "core"


@dataclass(frozen=True)
class RecordChanged:
    """A record changed after it stopped: its file deleted, or a synced copy verified (its
    `sync_location` set). Whoever shows records reloads that one."""

    record_id: str
    action: str  # "deleted" | "synced"


@dataclass(frozen=True)
class RecordingMuted:
    """A running recording's audio dropped (`muted=True`) or kept again."""

    record_id: str
    source_id: int
    tag_name: str
    muted: bool
    origin: str = "core"


@dataclass(frozen=True)
class PhotoTaken:
    """A still picture of a source saved as a JPEG file (Device Connect `takephoto`)."""

    source_id: int
    path: str
    origin: str = "core"


@dataclass(frozen=True)
class AccessRequested:
    """A Device Connect application asks for an access token and waits for the operator:
    whoever shows it calls `DeviceConnectAuth.decide(request_id, approved)`."""

    request_id: str
    client_id: str
    application_name: str
    scopes: tuple[str, ...]
    origin: str = ""  # the web page (X-GotAPI-Origin / Origin) that asks, when known


@dataclass(frozen=True)
class AccessDecided:
    """The end of an access request: "approved", "denied" or "timeout" (a dialog closes)."""

    request_id: str
    outcome: str


@dataclass(frozen=True)
class AuditWritten:
    """`count` audit entries reached the catalog (published by the audit writer thread, a
    batch at a time): an open audit view reloads."""

    count: int


@dataclass(frozen=True)
class StorageLow:
    """The storage guard stopped recordings: the disk stayed under `disk_floor_mb` after
    retention deleted what it may (app.recordings.storage). `message` says why, for the
    operator."""

    message: str
    record_ids: tuple[str, ...]
    free_bytes: int
    floor_bytes: int


@dataclass(frozen=True)
class RetentionDeleted:
    """A retention pass deleted these records' files; `by_reason`: how many for each reason
    (age, size, floor). App.alarms turns it into a `retention_deleted` event."""

    record_ids: tuple[str, ...]
    by_reason: tuple[tuple[str, int], ...]
    why: str  # "scheduled", "floor" ...


@dataclass(frozen=True)
class EventChanged:
    """An event of app.alarms was opened (`change` "opened", also an instant one), closed or
    acknowledged: the GUI's panel, MQTT and the API's event stream follow it."""

    event: EventOut
    change: str  # "opened" | "closed" | "acknowledged"


@dataclass(frozen=True)
class MotionChanged:
    """A source's motion began (`active`) or ended (app.motion; #24): the tiles that rest
    until motion, MQTT's `.../motion` ON/OFF. `zones`: the include zones it touched so far."""

    source_id: int
    active: bool
    zones: tuple[str, ...] = ()


Event = (SourceStatusChanged | CatalogChanged | RecordingStarted | RecordingStopped
         | RecordingPaused | RecordChanged | RecordingMuted | PhotoTaken | AccessRequested
         | AccessDecided | AuditWritten | StorageLow | RetentionDeleted | EventChanged
         | MotionChanged)


class EventSink(Protocol):
    def publish(self, event: Event) -> None: ...


@dataclass
class EventBus:
    """A tiny thread-safe publish/subscribe hub; a failing subscriber never hurts the others."""

    _subscribers: list[Callable[[Event], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:  # noqa: BLE001 - one bad listener must not break the others
                log.exception("event subscriber %r failed on %r", callback, event)
