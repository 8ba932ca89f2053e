"""Ending recordings: an operator's stop (one record, a tag, everything at shutdown), a
recorder's failure, and the records a crash left open, found at the next start.

A recording ends whatever the catalog does: a record whose end cannot be committed (disk
full, database locked, the server away) is kept in memory by the store with its true state,
which every read shows and a retry thread writes once the catalog takes it again.

Who may stop what a source's recording mode records (#23; docs/recording-modes.md): a
record is the mode's own when its source's mode records under its tag
(`app.record_modes.mode_tags`, read from the catalog, so it holds for every file of a
rollover, after a restart and on every station). Such a record stops only
- when the mode keeper stops it (`origin` `mode`: the mode no longer says record), or
- when its tag is stopped by name (`stop`): the operator named it; the keeper starts a new
  file at its next look.
A stop of one record by id from anyone else (Device Connect's, Huawei Live's, SparkRTC's, a
client's) and the operator's Stop all (`stop_all_tags`) leave it recording.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlmodel import select

from app.visibility import in_scope
from app.catalog import CATALOG_ERRORS
from app.catalog_rows import tag_by_name
from app.errors import NotFound
from app.events import Event, EventSink, RecordingStopped
from app.models import Record, Source, Tag
from app.record_modes import mode_tags
from app.recordings.record_forwarding import RecordForwarding, joined
from app.recordings.record_results import apply_result, measure_file
from app.recordings.record_store import RecordStore, publish_outside_lock
from app.schemas import RecordOut, RecordStatus, SourceModel, SourceOut
from recorder.manager import RecorderManager
from recorder.mp4file import RecordingResult

log = logging.getLogger(__name__)

MODE_ORIGIN = "mode"  # the mode keeper's origin: the one that may stop its records by id


def mode_owned(source: Source | SourceOut | None, tag_name: str | None) -> bool:
    """A running record of `source` under `tag_name` is its recording mode's own."""
    return source is not None and bool(tag_name) and tag_name in mode_tags(
        source.record_mode, source.record_tag, source.record_schedule)


class RecordingStops:
    """Given the store, the recorder that closes the files, the bus, and the forwarding
    part (a tag's records on other stations)."""

    def __init__(self, store: RecordStore, recorder: RecorderManager, bus: EventSink,
                 forwarding: RecordForwarding):
        self._store, self._recorder, self._bus = store, recorder, bus
        self._forwarding = forwarding

    def stop_record(self, record_id: str, origin: str = "core") -> RecordOut:
        """Finalize one running record (a record already stopped is returned as it is). The
        mode's own record is left recording, and returned as it is, unless the keeper asks."""
        events: list[Event] = []
        with self._store.lock:
            if origin != MODE_ORIGIN and self._mode_owns(record_id):
                row, tag_name = self._store.current(record_id)
                log.info("record %s is its source's recording mode's: a stop by %s leaves it "
                         "recording", record_id, origin)
                return self._store.out_anyway(row, tag_name)
            out = self._finalize(record_id, events, origin=origin)
        publish_outside_lock(self._bus, events)
        return out

    def _mode_owns(self, record_id: str) -> bool:
        """The running record is its source's mode's own (False when the catalog cannot
        say: a stop then goes ahead, and the keeper starts the mode again once it can)."""
        try:
            row, tag_name = self._store.current(record_id)
            if row.status != RecordStatus.recording or row.source_id is None:
                return False
            with self._store.catalog.session() as s:
                return mode_owned(s.get(Source, row.source_id), tag_name)
        except (*CATALOG_ERRORS, NotFound):
            return False

    def stop_all_tags(self, origin: str = "core") -> list[RecordOut]:
        """The operator's Stop all: every running tag stops, except the records the sources'
        modes own. A tag no source's mode records under stops on every station (`stop`);
        one that some source's mode uses stops here only, sparing the mode's own."""
        with self._store.catalog.session() as s:
            rows = self._store.running_rows(s)
            sources = {r.source_id: s.get(Source, r.source_id) for r in rows if r.source_id}
            tags = {r.tag_id: tag.name for r in rows
                    if (tag := s.get(Tag, r.tag_id)) is not None}
            used = {name for src in s.exec(select(Source)).all() if src.record_mode != "manual"
                    for name in mode_tags(src.record_mode, src.record_tag, src.record_schedule)}
        out: list[RecordOut] = []
        for name in sorted(set(tags.values())):
            if name not in used:
                out += self.stop(name, origin=origin)
                continue
            ids = [r.id for r in rows if tags.get(r.tag_id) == name and self._store.is_mine(r)
                   and not mode_owned(sources.get(r.source_id), name)]
            out += [self.stop_record(record_id, origin=origin) for record_id in ids]
        return out

    def stop(self, tag_name: str, model: SourceModel | str | None = None,
             origin: str = "core", forwarded: bool = False,
             sources: frozenset[int] | None = None) -> list[RecordOut]:
        """Stop the tag's running records (of `model`, if given), this station's here and the
        others' on their stations (unless another station `forwarded` the request);
        returns them finalized. Named, the tag stops the mode's own records too. `sources`:
        a user's scope (app.accounts.scope): only the records of those sources stop (the
        other stations apply the same user's scope: the request carries them)."""
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
                            if (model is None or r.model == model.value)
                            and in_scope(r.source_id, sources)]
            except CATALOG_ERRORS:
                if not self._store.catalog.is_server:
                    raise
                # The server is away: stop what this station records under the tag as it
                # knows it; the ends are kept and written once the server is back.
                rows = [r for r in self._store.live.of_tag(tag_name)
                        if (model is None or r.model == model.value)
                        and in_scope(r.source_id, sources)]
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
