"""A media recorder's controls on a running record (the Device Connect dialect's pause,
resume and mute; any front end may use them): the file stays open and the record stays
`recording`, and every change is published, whoever made it."""

from __future__ import annotations

from app.errors import Conflict
from app.events import EventSink, RecordingMuted, RecordingPaused
from app.models import Record, Tag
from app.recordings.record_store import RecordStore
from app.schemas import RecordOut, RecordStatus
from recorder.manager import RecorderManager, UnknownSource


class RecordingControls:
    """Given the store (its lock and reads), the recorder it controls and the bus it tells."""

    def __init__(self, store: RecordStore, recorder: RecorderManager, bus: EventSink):
        self._store, self._recorder, self._bus = store, recorder, bus

    def pause(self, record_id: str, origin: str = "core") -> RecordOut:
        """Stop writing a running record's file for now; `resume` goes on in the same file,
        right after what it holds (the paused time is left out)."""
        return self._control(record_id, origin, paused=True)

    def resume(self, record_id: str, origin: str = "core") -> RecordOut:
        return self._control(record_id, origin, paused=False)

    def set_audio_muted(self, record_id: str, muted: bool, origin: str = "core") -> RecordOut:
        """Drop (or keep again) the audio of a running record from now on."""
        with self._store.lock, self._store.catalog.session() as s:
            row = self._running_row(s, record_id)
            self._recorder.set_audio_muted(row.source_id, row.id, muted)
            tag = s.get(Tag, row.tag_id)
            out = self._store.out(s, row)
        self._bus.publish(RecordingMuted(row.id, row.source_id, tag.name if tag else "", muted,
                                        origin))
        return out

    def control_state(self, record_id: str) -> dict:
        """{"paused": bool, "muted": bool} of a running record (both False otherwise)."""
        with self._store.catalog.session() as s:
            row = self._store.row(s, record_id)
            if row.status != RecordStatus.recording or row.source_id is None:
                return {"paused": False, "muted": False}
        try:
            return self._recorder.recording_state(row.source_id, row.id)
        except (KeyError, UnknownSource):
            return {"paused": False, "muted": False}

    def _control(self, record_id: str, origin: str, *, paused: bool) -> RecordOut:
        with self._store.lock, self._store.catalog.session() as s:
            row = self._running_row(s, record_id)
            if paused:
                self._recorder.pause_recording(row.source_id, row.id)
            else:
                self._recorder.resume_recording(row.source_id, row.id)
            tag = s.get(Tag, row.tag_id)
            out = self._store.out(s, row)
        self._bus.publish(RecordingPaused(row.id, row.source_id, tag.name if tag else "", paused,
                                         origin))
        return out

    def _running_row(self, s, record_id: str) -> Record:
        row = self._store.row(s, record_id)
        if row.status != RecordStatus.recording or row.source_id is None:
            raise Conflict(f"record {record_id} is not recording", field="record_id")
        try:
            self._recorder.recording_state(row.source_id, row.id)
        except (KeyError, UnknownSource):
            raise Conflict(f"record {record_id} is not recording", field="record_id") from None
        return row
