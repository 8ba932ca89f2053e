"""One QObject that turns core events (published on any thread) into Qt signals. Signals
emitted from a foreign thread reach GUI-thread slots as queued calls, so widgets are only
ever touched on the GUI thread."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.events import (
    AccessDecided,
    AccessRequested,
    CatalogChanged,
    Event,
    EventBus,
    EventChanged,
    MotionChanged,
    RecordChanged,
    RecordingMuted,
    RecordingPaused,
    RecordingStarted,
    RecordingStopped,
    SourceStatusChanged,
    StorageLow,
)


class EventBridge(QObject):
    source_status_changed = Signal(int, str, str)        # source id, status, error
    catalog_changed = Signal(str, int, str)              # entity, id, action
    recording_started = Signal(str, int, str, str)       # record id, source id, tag, origin
    recording_stopped = Signal(str, int, str, str, str)  # ... status, origin
    recording_paused = Signal(str, int, str, bool, str)  # record id, source id, tag, paused, origin
    recording_muted = Signal(str, int, str, bool, str)   # record id, source id, tag, muted, origin
    record_changed = Signal(str, str)                    # record id, action (deleted / synced)
    # Device Connect token requests: request id, client id, application, scopes (tuple), origin
    access_requested = Signal(str, str, str, object, str)
    access_decided = Signal(str, str)                    # request id, approved / denied / timeout
    storage_low = Signal(str, object)                    # why, the record ids stopped (tuple)
    event_changed = Signal(object, str)                  # EventOut, opened / closed / acknowledged
    motion_changed = Signal(int, bool, object)           # source id, motion now, zones (tuple)

    def __init__(self, bus: EventBus, parent: QObject | None = None):
        super().__init__(parent)
        self._unsubscribe = bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, SourceStatusChanged):
            self.source_status_changed.emit(event.source_id, event.status, event.error or "")
        elif isinstance(event, CatalogChanged):
            self.catalog_changed.emit(event.entity, event.entity_id, event.action)
        elif isinstance(event, RecordingStarted):
            self.recording_started.emit(event.record_id, event.source_id, event.tag_name, event.origin)
        elif isinstance(event, RecordingPaused):
            self.recording_paused.emit(event.record_id, event.source_id, event.tag_name,
                                       event.paused, event.origin)
        elif isinstance(event, RecordingMuted):
            self.recording_muted.emit(event.record_id, event.source_id, event.tag_name,
                                      event.muted, event.origin)
        elif isinstance(event, RecordingStopped):
            self.recording_stopped.emit(event.record_id, event.source_id, event.tag_name,
                                        event.status, event.origin)
        elif isinstance(event, RecordChanged):
            self.record_changed.emit(event.record_id, event.action)
        elif isinstance(event, AccessRequested):
            self.access_requested.emit(event.request_id, event.client_id, event.application_name,
                                       event.scopes, event.origin)
        elif isinstance(event, AccessDecided):
            self.access_decided.emit(event.request_id, event.outcome)
        elif isinstance(event, StorageLow):
            self.storage_low.emit(event.message, event.record_ids)
        elif isinstance(event, EventChanged):
            self.event_changed.emit(event.event, event.change)
        elif isinstance(event, MotionChanged):
            self.motion_changed.emit(event.source_id, event.active, event.zones)

    def close(self) -> None:
        self._unsubscribe()
