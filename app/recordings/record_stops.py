"""Ending recordings: an operator's stop (one record, a tag, everything at shutdown), a
recorder's failure, and the records a crash left open, found at the next start.

A recording ends whatever the catalog does: a record whose end cannot be committed (disk
full, database locked, the server away) is kept in memory by the store with its true state,
which every read shows and a retry thread writes once the catalog takes it again.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlmodel import select

from app.catalog import CATALOG_ERRORS
from app.catalog_rows import tag_by_name
from app.errors import NotFound
from app.events import Event, EventSink, RecordingStopped
from app.models import Record
from app.recordings.record_forwarding import RecordForwarding, joined
from app.recordings.record_results import apply_result, measure_file
from app.recordings.record_store import RecordStore, publish_outside_lock
from app.schemas import RecordOut, RecordStatus, SourceModel
from recorder.manager import RecorderManager
from recorder.mp4file import RecordingResult

log = logging.getLogger(__name__)


class RecordingStops:
    """Given the store, the recorder that closes the files, the bus, and the forwarding
    part (a tag's records on other stations)."""

    def __init__(self, store: RecordStore, recorder: RecorderManager, bus: EventSink,
                 forwarding: RecordForwarding):
        self._store, self._recorder, self._bus = store, recorder, bus
        self._forwarding = forwarding

    def stop_record(self, record_id: str, origin: str = "core") -> RecordOut:
        """Finalize one running record (a record already stopped is returned as it is)."""
        events: list[Event] = []
        with self._store.lock:
            out = self._finalize(record_id, events, origin=origin)
        publish_outside_lock(self._bus, events)
        return out

    def stop(self, tag_name: str, model: SourceModel | str | None = None,
             origin: str = "core", forwarded: bool = False) -> list[RecordOut]:
        """Stop the tag's running records (of `model`, if given), this station's here and the
        others' on their stations (unless another station `forwarded` the request);
        returns them finalized."""
        model = SourceModel(model) if model else None
        events: list[Event] = []
        ask_others = not forwarded
        with self._store.lock:
            try:
                with self._store.catalog.session() as s:
                    tag = tag_by_name(s, tag_name)
                    if tag is None:
                        raise NotFound("tag", repr(tag_name), field="tag_name")
                    rows = [r for r in self._store.running_rows(s, tag.id, mine=True)
                            if model is None or r.model == model.value]
            except CATALOG_ERRORS:
                if not self._store.catalog.is_server:
                    raise
                # The server is away: stop what this station records under the tag as it
                # knows it; the ends are kept and written once the server is back.
                rows = [r for r in self._store.live.of_tag(tag_name)
                        if model is None or r.model == model.value]
                ask_others = False  # the others cannot be found without the catalog either
            closed = self._close_files(rows)
            out = [self._finalize(r.id, events, origin=origin, result=closed.get(r.id))
                   for r in rows]
        publish_outside_lock(self._bus, events)
        if not ask_others:
            return out
        return joined(out, *self._forwarding.stop_there(tag_name,
                                                        model.value if model else None))

    def _close_files(self, rows: list[Record]) -> dict[str, RecordingResult | None]:
        """Close the recorder's files of these records side by side: most of a stop is the
        MD5 of each file, and hashing several at once (hashlib releases the GIL) lets a
        group of 32 finalize in the time of a few."""
        def close(row: Record) -> tuple[str, RecordingResult | None]:
            return row.id, (self._recorder.stop_recording(row.source_id, row.id)
                            if row.source_id else None)
        if len(rows) <= 1:
            return dict(map(close, rows))
        with ThreadPoolExecutor(max_workers=min(8, len(rows)),
                                thread_name_prefix="finalize") as pool:
            return dict(pool.map(close, rows))

    def stop_all(self) -> list[RecordOut]:
        """Finalize every running record (station shutdown)."""
        events: list[Event] = []
        with self._store.lock:
            with self._store.catalog.session() as s:
                rows = self._store.running_rows(s, mine=True)
            closed = self._close_files(rows)
            out = [self._finalize(r.id, events, origin="shutdown", result=closed.get(r.id))
                   for r in rows]
        publish_outside_lock(self._bus, events)
        return out

    def fail(self, record_id: str, reason: str) -> RecordOut:
        """The recorder lost the file (disk full ...), or the storage guard stops it: close
        it and mark the record failed. (The recorder reports a failure of a file it rolled
        over to only after `on_rollover` created its record.)"""
        events: list[Event] = []
        with self._store.lock:
            out = self._finalize(record_id, events, origin="recorder", error=reason)
        publish_outside_lock(self._bus, events)
        return out

    def _finalize(self, record_id: str, events: list[Event], *, origin: str,
                  error: str | None = None, result: RecordingResult | None = None) -> RecordOut:
        """Close the record's file (unless `result` says how it closed) and store the end;
        stored in memory if the catalog cannot take it (`RecordStore.save`). The
        RecordingStopped goes into `events`, which the caller publishes once it has released
        the lock."""
        row, tag_name = self._store.current(record_id)
        if row.status != RecordStatus.recording:
            return self._store.out_anyway(row, tag_name)
        if result is None and row.source_id:
            result = self._recorder.stop_recording(row.source_id, row.id)
        if result is None:
            result = measure_file(Path(row.location or ""), "the recorder had no open file")
        apply_result(row, result, error)
        self._store.save([row])
        self._store.live.forget(record_id)
        out = self._store.out_anyway(row, tag_name)
        events.append(RecordingStopped(record_id, row.source_id or 0, tag_name, out.status,
                                       origin))
        return out

    def recover_interrupted(self) -> int:
        """At start-up: records left `recording` by a crash become `interrupted`, with the
        real end time (the file's last write), size, duration and MD5 of what was saved.
        Each file of a rolled-over recording is its own record: the ones finished before
        the crash were committed as they rolled over, only the last one is measured here."""
        with self._store.catalog.session() as s:
            rows = [r for r in s.exec(select(Record).where(Record.status == RecordStatus.recording))
                    if self._store.is_mine(r)]  # another station's records are its own to recover
            for row in rows:
                result = measure_file(Path(row.location or ""), "no file was written")
                apply_result(row, result, result.error, status=RecordStatus.interrupted)
                s.add(row)
        if rows:
            log.warning("closed %d record(s) interrupted by an earlier crash", len(rows))
        return len(rows)
