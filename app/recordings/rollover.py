"""File rotation, the core's side: a long recording goes on in a new file every `segment_s`
seconds, each file its own record (same source, tag, model, snapshot).

The recorder cuts the file at a keyframe on its reader thread; it asks `next_file` (a pure
function made here: a new record id and the path beside the old file, no catalog, no I/O)
for the next file, and later calls `on_rollover` on another thread with how the old file
closed. The core then, in one unit of work: finalizes the old record (finished, MD5, end),
creates the new one (the running_key moves to it), and publishes RecordingStopped(old) and
RecordingStarted(new), both with origin "rollover", so each front end sees one file end and
the next begin. A catalog that cannot take it keeps both rows in memory (the recording goes
on regardless) and writes them later.

Rollovers chain the records of one recording: `recording_files(record_id)` gives them all
(Device Connect's `stop` lists them).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from app.errors import NotFound
from app.events import EventSink, RecordingStarted, RecordingStopped
from app.models import Record, new_record_id, utcnow
from app.recordings.record_queries import RecordQueries
from app.recordings.record_results import apply_result, measure_file, wall_utc
from app.recordings.record_store import RecordStore
from app.schemas import RecordOut, RecordStatus
from recorder.manager import RecorderManager
from recorder.mp4file import RecordingResult

log = logging.getLogger(__name__)

ROLLOVER = "rollover"  # the origin of the events of a rollover
MAX_CHAINS = 4096  # recordings whose files are remembered (the oldest forgotten first)


class RecordingRollover:
    """Given the store it writes both records through, the recorder (to stop a next file
    nothing can continue), the bus it tells and the queries `recording_files` answers with."""

    def __init__(self, store: RecordStore, recorder: RecorderManager, bus: EventSink,
                 queries: RecordQueries) -> None:
        self._store, self._recorder, self._bus, self._queries = store, recorder, bus, queries
        self._chains: OrderedDict[str, list[str]] = OrderedDict()  # first id -> file ids
        self._chain_of: dict[str, str] = {}
        self._chain_lock = threading.Lock()

    # --- naming ----------------------------------------------------------------------
    @staticmethod
    def file_path(folder: Path, stem: str, record_id: str, suffix: str = ".mp4",
                  at: datetime | None = None) -> Path:
        """`<tag folder>/<stem>_<YYYYmmddTHHMMSS>Z_<id[:8]>.mp4`: the usual name of a file.
        The time is UTC (`Z`), like every time the station shows, so a name sorts and reads
        the same on any machine and matches the record's `begin_utc` (`at`, default now)
        to within the pre-roll, whatever zone the station runs in."""
        stamp = (at or utcnow()).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        return folder / f"{stem}_{stamp}_{record_id[:8]}{suffix}"

    def next_file(self, folder: Path, stem: str, suffix: str = ".mp4") -> Callable[[], tuple[str, Path]]:
        """What the recorder calls on its reader thread at a rollover: a new record id and
        the path of its file, in the same folder, with the usual name. Memory only."""
        def next_file() -> tuple[str, Path]:
            record_id = new_record_id()
            return record_id, self.file_path(folder, stem, record_id, suffix)
        return next_file

    # --- the rollover ------------------------------------------------------------------
    def on_rollover(self, source_id: int, old_record_id: str, old_result: RecordingResult,
                    new_record_id: str, new_path: Path, new_begin_wall: float | None) -> None:
        """The recorder closed `old_record_id`'s file and goes on in `new_path`."""
        with self._store.lock:
            try:
                old, tag_name = self._store.current(old_record_id)
            except NotFound:
                old, tag_name = None, ""
            if old is None:  # never happens unless the record was removed meanwhile
                log.error("rollover of unknown record %s: stopping its next file %s",
                          old_record_id, new_path)
                self._recorder.stop_recording(source_id, new_record_id)
                return
            new = Record(id=new_record_id, status=RecordStatus.recording, source_id=old.source_id,
                         tag_id=old.tag_id, model=old.model, source_snapshot=old.source_snapshot,
                         location=str(new_path), protected=old.protected, station_id=old.station_id,
                         begin_utc=wall_utc(new_begin_wall) if new_begin_wall else utcnow())
            was_running = old.status == RecordStatus.recording
            if was_running:
                new.running_key = old.running_key
                apply_result(old, old_result, None)
                if old.end_utc is not None and old.end_utc > new.begin_utc:
                    # one file ends where the next begins: the old end is its first packet's
                    # arrival plus its length, so a late first arrival (a loaded machine) put
                    # it up to 0.1 s past the next file's first packet
                    old.end_utc = new.begin_utc
            else:
                # A stop or a failure got there between the cut and this call: the recorder
                # stopped the next file with the old one and kept its result; it ends as the
                # old one did (a failure's reason included).
                apply_result(old, old_result, old.error, status=old.status)
                result = (self._recorder.stop_recording(source_id, new_record_id)
                          or measure_file(new_path, "the recorder had no open file"))
                apply_result(new, result, old.error if old.status == RecordStatus.failed else None)
            self._store.save([old, new])  # kept in memory while the catalog cannot take them
            self._store.live.forget(old.id)
            if new.status == RecordStatus.recording:
                self._store.live.remember(new, tag_name)
            self._link(old_record_id, new_record_id)
            log.info("record %s rolled over to %s (%s)", old_record_id, new_record_id,
                     new_path.name)
        if was_running:
            self._bus.publish(RecordingStopped(old.id, source_id, tag_name, old.status, ROLLOVER))
        self._bus.publish(RecordingStarted(new.id, source_id, tag_name, ROLLOVER))
        if not was_running:
            self._bus.publish(RecordingStopped(new.id, source_id, tag_name, new.status, "core"))

    # --- the files of one recording --------------------------------------------------------
    def _link(self, old_id: str, new_id: str) -> None:
        with self._chain_lock:
            first = self._chain_of.setdefault(old_id, old_id)
            files = self._chains.setdefault(first, [old_id])
            files.append(new_id)
            self._chain_of[new_id] = first
            self._chains.move_to_end(first)
            while len(self._chains) > MAX_CHAINS:
                _first, dropped = self._chains.popitem(last=False)
                for rid in dropped:
                    self._chain_of.pop(rid, None)

    def recording_files(self, record_id: str) -> list[RecordOut]:
        """Every file (record) of the recording `record_id` belongs to, oldest first: one
        record unless it rolled over (remembered since the station started)."""
        with self._chain_lock:
            first = self._chain_of.get(record_id)
            ids = list(self._chains.get(first, [record_id])) if first else [record_id]
        out = []
        for rid in ids:
            try:
                out.append(self._queries.get(rid))
            except NotFound:
                continue
        return out
