"""Recordings: start a group under a tag, stop a tag, finalize files into the catalog.

One lock serialises start and stop, and a unique `running_key` per (source, tag) backs it up
in the database, so any number of concurrent requests from the GUI and the API dialects end
with exactly one running record per source and tag.

A record is committed before its file opens: the recorder starts only on a record the
catalog holds (a catalog that cannot be written starts nothing), and a file the recorder then
cannot start leaves its record `failed`, never a file no record points to. Events are
published once the lock is released, so a subscriber may call back into the service (or
wait for a thread that does) without deadlocking.

A recording ends whatever the catalog does: a record whose end cannot be committed (disk
full, database locked) is kept in memory with its true state (`RecordOverlay`), which every
read of this service shows (`RecordQueries`) and a retry thread writes once the catalog
takes it again. Long recordings roll over to a new file (`RecordingRollover`); protection and
deletion of files are in `RecordKeeping`.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from app.catalog import CATALOG_ERRORS, Catalog
from app.catalog_rows import group_by_name, tag_by_name
from app.dto import record_out_of, source_snapshot
from app.errors import Conflict, InvalidInput, NotFound, StationError, StorageFull, Unavailable
from app.events import Event, EventSink, RecordingStarted, RecordingStopped
from app.ffmpeg_cmd import profile_of
from app.files import safe_name
from app.models import GroupSource, Record, Source, Tag, utcnow
from app.recordings.live_rows import LiveRows
from app.recordings.record_keeping import RecordKeeping
from app.recordings.record_overlay import RecordOverlay, copy_row
from app.recordings.record_queries import RunningTag  # noqa: F401 - part of this module's API
from app.recordings.record_queries import RecordQueries
from app.recordings.recording_controls import RecordingControls
from app.recordings.rollover import RecordingRollover, wall_utc
from app.schemas import RecordOut, RecordStatus, SourceModel, iso_utc
from app.site.forwarding import Forwarding
from recorder.encoding import COPY, EncodeProfile
from recorder.manager import RecorderManager, UnknownSource
from recorder.mp4file import RecordingResult, file_md5, free_bytes, probe_duration

log = logging.getLogger(__name__)


def _profile(source: Source) -> EncodeProfile:
    """The source's `ffmpeg_cmd` as an encoding. It was checked when saved; should a stored
    template no longer pass (an older station accepted it), the footage is still recorded,
    by stream copy, and the log says why."""
    try:
        return profile_of(source.ffmpeg_cmd)
    except InvalidInput as exc:
        log.warning("source %s: %s; recording by stream copy", source.name, exc)
        return COPY


class AlreadyRecording(Conflict):
    """The source records under that tag already (`start_one`)."""


@dataclass
class _NewFile:
    """A record committed as `recording` whose file the recorder is yet to start."""

    row: Record
    path: Path
    profile: EncodeProfile
    next_file: Callable[[], tuple[str, Path]]


_utc = wall_utc


def gaps_of(result: RecordingResult) -> list[dict[str, str]] | None:
    """The recorder's outages (wall-clock pairs) as the catalog stores them."""
    gaps = [{"begin_utc": iso_utc(_utc(a)), "end_utc": iso_utc(_utc(b))}
            for a, b in (result.gaps or [])]
    return gaps or None


class RecordingService(RecordQueries, RecordingControls, RecordingRollover, RecordKeeping,
                       Forwarding):
    def __init__(self, catalog: Catalog, recorder: RecorderManager, bus: EventSink, *,
                 storage_dir: Path, disk_floor_bytes: int = 0, retry_s: float = 1.0,
                 busy: Callable[[], set[str]] | None = None):
        self.catalog, self.recorder, self.bus = catalog, recorder, bus
        self.storage_dir = storage_dir
        self.disk_floor_bytes = disk_floor_bytes
        self.busy = busy or set  # ids of records a sync copies now (retention leaves them)
        self._lock = threading.RLock()
        self._overlay = RecordOverlay(catalog, retry_s=retry_s)
        self._live = LiveRows()  # the running records, for when the catalog is away
        # Several stations on one catalog (app.site.stations): this one's id, and how a
        # source's status is found wherever it is read; a station alone keeps the defaults.
        self.station_id: str | None = None
        self.status_of: Callable[[int], tuple[str, str | None]] = recorder.status
        RecordingRollover.__init__(self)

    # --- writing the true state ------------------------------------------------------
    def _save(self, rows: list[Record]) -> bool:
        """Commit these rows' state (detached copies); a catalog that cannot take it keeps
        it in memory, shown by every read and written later. False then."""
        try:
            with self._overlay.unit(supersedes=[r.id for r in rows]) as s:
                for row in rows:
                    s.merge(copy_row(row))
                    s.flush()  # in order: a running_key is released before it is taken
        except CATALOG_ERRORS as exc:
            self._overlay.keep(rows, exc)
            return False
        return True

    def pending_ids(self) -> list[str]:
        """Records whose true state waits in memory for the catalog."""
        return self._overlay.ids()

    # --- start ---------------------------------------------------------------------
    @contextmanager
    def _starting(self) -> Iterator[object]:
        """The unit of work of a start: what waits in memory is written first (so the
        session sees the true running records). Nothing records yet while it is open: the
        files start after the commit (`_open_files`), so a refusal or a catalog that cannot
        be written (507) leaves nothing behind."""
        try:
            with self._overlay.unit() as s:
                yield s
        except CATALOG_ERRORS as exc:
            text = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            log.error("not starting a recording: the catalog cannot be written (%s)", text)
            if self.catalog.is_server and not isinstance(exc, OSError):  # a server away
                raise Unavailable(f"the catalog cannot be reached ({text}): not starting a "
                                  "recording; the running ones go on") from exc
            raise StorageFull(f"the catalog cannot be written ({text}): not starting a "
                              "recording") from exc

    def start(self, tag_name: str, group_name: str, model: SourceModel | str | None = None,
              origin: str = "core", forwarded: bool = False) -> list[RecordOut]:
        """Start every source of the group (of `model`, if given) under the tag: this
        station's own here, the others' on their owners (`Forwarding`; not when another
        station `forwarded` the request). Idempotent per source: one already recording under
        this tag is left as it is."""
        model = SourceModel(model) if model else None
        events: list[Event] = []
        with self._lock:
            with self._starting() as s:
                group = group_by_name(s, group_name)
                stmt = (select(Source).join(GroupSource, GroupSource.source_id == Source.id)
                        .where(GroupSource.group_id == group.id).order_by(Source.id))
                sources = [src for src in s.exec(stmt).all()
                           if model is None or src.model == model.value]
                local, remote = self._split(sources, forwarded)
                if not local and not remote:
                    raise InvalidInput(f"group {group_name!r} has no sources"
                                       + (f" of model {model.value}" if model else "")
                                       + (" on this station" if forwarded else ""),
                                       field="group_name")
                rows, new = (self._new_records(s, tag_name, local, field="group_name")
                             if local else ([], []))
            opened = self._open_files(rows, new, tag_name, origin, events, field="group_name")
        return self._joined(self._started(opened, events), *self._forward_start(tag_name, remote))

    def start_sources(self, tag_name: str, source_ids: list[int], origin: str = "core",
                      audio_muted: bool = False, forwarded: bool = False) -> list[RecordOut]:
        """Start the given sources (the tiles an operator selected) under the tag, each on
        its owner; `audio_muted` starts this station's files without audio (a Device Connect
        recorder whose track is muted) until `set_audio_muted` says otherwise."""
        if not tag_name or not tag_name.strip():
            raise InvalidInput("a tag name is required", field="tag_name", kind="missing")
        if not source_ids:
            raise InvalidInput("choose at least one source", field="source_ids", kind="missing")
        tag_name = tag_name.strip()
        events: list[Event] = []
        with self._lock:
            with self._starting() as s:
                sources = []
                for source_id in sorted(set(source_ids)):
                    src = s.get(Source, source_id)
                    if src is None:
                        raise NotFound("source", source_id, field="source_ids")
                    sources.append(src)
                local, remote = self._split(sources, forwarded)
                if not local and not remote:
                    raise Conflict("none of these sources belongs to this station",
                                   field="source_ids")
                rows, new = (self._new_records(s, tag_name, local, field="source_ids")
                             if local else ([], []))
            opened = self._open_files(rows, new, tag_name, origin, events, field="source_ids",
                                      audio_muted=audio_muted)
        return self._joined(self._started(opened, events), *self._forward_start(tag_name, remote))

    @staticmethod
    def _joined(here: list[RecordOut], there: list[RecordOut],
                refusals: list[StationError]) -> list[RecordOut]:
        """This station's records and the other owners' answers; the first refusal when
        nothing at all records (an owner away, its disk full)."""
        if refusals and not here and not there:
            raise refusals[0]
        return here + there

    def start_one(self, tag_name: str, source_id: int, *, profile: EncodeProfile | None = None,
                  file_name: str | None = None, origin: str = "core") -> RecordOut:
        """Start one source under the tag, encoded by `profile` (default: the source's own)
        into `file_name` inside the tag's folder (default: the usual name). Unlike `start`,
        a source already recording under the tag is refused with `AlreadyRecording`."""
        events: list[Event] = []
        with self._lock:
            with self._starting() as s:
                src = s.get(Source, source_id)
                if src is None:
                    raise NotFound("source", source_id, field="source_id")
                tag = tag_by_name(s, tag_name)
                if tag is not None and s.exec(select(Record.id).where(
                        Record.running_key == f"{src.id}:{tag.id}")).first() is not None:
                    raise AlreadyRecording(f"source {src.name!r} already records under tag "
                                           f"{tag_name!r}", field="source_id")
                rows, new = self._new_records(s, tag_name, [src], field="source_id",
                                              profile=profile, file_name=file_name)
            opened = self._open_files(rows, new, tag_name, origin, events, field="source_id")
        (out,) = self._started(opened, events)
        return out

    def _started(self, opened: tuple[list[RecordOut], Conflict | None],
                 events: list[Event]) -> list[RecordOut]:
        """Outside the lock: publish, then answer the records or, when none of them
        records, the reason (their records stay, `failed`)."""
        result, refused = opened
        self._publish(events)
        if refused is not None:
            raise refused
        return result

    def _publish(self, events: list[Event]) -> None:
        """Outside the lock, always: a subscriber runs on this thread and may hand the
        event to another that calls this service."""
        for event in events:
            self.bus.publish(event)

    def _new_records(self, s, tag_name: str, sources: list[Source], *, field: str,
                     profile: EncodeProfile | None = None, file_name: str | None = None,
                     ) -> tuple[list[Record], list[_NewFile]]:
        """Inside the lock and the caller's unit of work: a `recording` record per source
        not yet recording under the tag, with the file it is to be written to. Returns every
        record (the ones already running included) and the new files, which the recorder
        starts only once the unit of work has committed them (`_open_files`)."""
        tag = self._tag(s, tag_name)
        # One query for what already records under the tag (a group of 32 starts in one go).
        keys = [f"{src.id}:{tag.id}" for src in sources]
        running = {r.running_key: r for r in s.exec(select(Record).where(Record.running_key.in_(keys)))}
        # Every check before the first record: a refusal starts nothing at all.
        idle = [src for src, key in zip(sources, keys) if key not in running]
        for src in idle:
            if not self.recorder.has_source(src.id):
                raise Conflict(f"source {src.name!r} is not being read (disabled or not a "
                               "video stream)", field=field)
        if idle:
            self._check_disk()
        rows: list[Record] = []
        new: list[_NewFile] = []
        folder = self.storage_dir / safe_name(tag_name)
        for src, key in zip(sources, keys):
            existing = running.get(key)
            if existing is not None:
                rows.append(existing)
                continue
            row = Record(status=RecordStatus.recording, source_id=src.id, tag_id=tag.id, model=src.model,
                         running_key=key, source_snapshot=source_snapshot(src), begin_utc=utcnow(),
                         station_id=self.station_id)
            stem, suffix = (Path(file_name).stem, Path(file_name).suffix or ".mp4") if file_name \
                else (safe_name(src.name), ".mp4")
            path = folder / file_name if file_name else self.file_path(folder, stem, row.id,
                                                                       at=row.begin_utc)
            row.location = str(path)
            s.add(row)
            rows.append(row)
            new.append(_NewFile(row, path, profile or _profile(src),
                                self.next_file(folder, stem, suffix)))
        s.flush()
        return rows, new

    def _tag(self, s, tag_name: str) -> Tag:
        """The tag, created on first use. Stations sharing a catalog server may create the
        same tag at the same moment: the loser of the unique name takes the winner's row.
        (Not on SQLite, one station's own, where pysqlite's savepoints would commit early.)"""
        tag = tag_by_name(s, tag_name)
        if tag is not None:
            return tag
        if not self.catalog.is_server:
            tag = Tag(name=tag_name)
            s.add(tag)
            s.flush()
            return tag
        try:
            with s.begin_nested():
                tag = Tag(name=tag_name)
                s.add(tag)
            return tag
        except IntegrityError:
            found = tag_by_name(s, tag_name)
            assert found is not None  # the other station's, committed
            return found

    def _open_files(self, rows: list[Record], new: list[_NewFile], tag_name: str, origin: str,
                    events: list[Event], *, field: str, audio_muted: bool = False,
                    ) -> tuple[list[RecordOut], Conflict | None]:
        """After the commit, inside the lock: the recorder starts each new record's file.
        The record's begin becomes the file's (the pre-roll's first keyframe); a file the
        recorder cannot start leaves its record `failed` with the reason, as a recorder's
        failure does (`fail`). Collects the events for the caller to publish. Returns the
        records and, when not one of them records (a single start whose file failed), the
        Conflict to answer instead: a client asking for a recording must not get a success."""
        changed: list[Record] = []
        failures: list[tuple[str, str]] = []  # (record id, reason)
        for item in new:
            row = item.row
            try:
                begin = self.recorder.start_recording(row.source_id, row.id, item.path,
                                                      item.profile, next_file=item.next_file,
                                                      audio_muted=audio_muted)
            except Exception as exc:  # noqa: BLE001 - whatever it is, the record must say so
                reason = "the recorder could not start the file: " + (
                    "the source is no longer being read" if isinstance(exc, UnknownSource)
                    else f"{type(exc).__name__}: {exc}")
                log.error("record %s: %s", row.id, reason)
                failures.append((row.id, reason))
                self._apply(row, RecordingResult(item.path, None, None, 0.0, 0, None, 0,
                                                 error=reason), reason)
                changed.append(row)
                events.append(RecordingStopped(row.id, row.source_id, tag_name, row.status,
                                               "recorder"))
                continue
            if begin is not None:
                row.begin_utc = _utc(begin)
                changed.append(row)
            self._live.remember(row, tag_name)
            events.append(RecordingStarted(row.id, row.source_id, tag_name, origin))
        if changed:
            self._save(changed)  # kept in memory, and shown, if the catalog cannot take it
        with self.catalog.session() as s:
            result = [self._out(s, row) for row in rows]
        refused = None
        if failures and not any(row.status == RecordStatus.recording for row in rows):
            record_id, reason = failures[0]
            refused = Conflict(f"{reason} (record {record_id} is failed)", field=field)
        return result, refused

    # --- stop ----------------------------------------------------------------------
    def stop_record(self, record_id: str, origin: str = "core") -> RecordOut:
        """Finalize one running record (a record already stopped is returned as it is)."""
        events: list[Event] = []
        with self._lock:
            out = self._finalize(record_id, events, origin=origin)
        self._publish(events)
        return out

    def stop(self, tag_name: str, model: SourceModel | str | None = None,
             origin: str = "core", forwarded: bool = False) -> list[RecordOut]:
        """Stop the tag's running records (of `model`, if given), this station's here and the
        others' on their stations (unless another station `forwarded` the request);
        returns them finalized."""
        model = SourceModel(model) if model else None
        events: list[Event] = []
        ask_others = not forwarded
        with self._lock:
            try:
                with self.catalog.session() as s:
                    tag = tag_by_name(s, tag_name)
                    if tag is None:
                        raise NotFound("tag", repr(tag_name), field="tag_name")
                    rows = [r for r in self._running_rows(s, tag.id, mine=True)
                            if model is None or r.model == model.value]
            except CATALOG_ERRORS:
                if not self.catalog.is_server:
                    raise
                # The server is away: stop what this station records under the tag as it
                # knows it; the ends are kept and written once the server is back.
                rows = [r for r in self._live.of_tag(tag_name)
                        if model is None or r.model == model.value]
                ask_others = False  # the others cannot be found without the catalog either
            closed = self._close_files(rows)
            out = [self._finalize(r.id, events, origin=origin, result=closed.get(r.id))
                   for r in rows]
        self._publish(events)
        if not ask_others:
            return out
        return self._joined(out, *self._forward_stop(tag_name, model.value if model else None))

    def _close_files(self, rows: list[Record]) -> dict[str, RecordingResult | None]:
        """Close the recorder's files of these records side by side: most of a stop is the
        MD5 of each file, and hashing several at once (hashlib releases the GIL) lets a
        group of 32 finalize in the time of a few."""
        def close(row: Record) -> tuple[str, RecordingResult | None]:
            return row.id, (self.recorder.stop_recording(row.source_id, row.id)
                            if row.source_id else None)
        if len(rows) <= 1:
            return dict(map(close, rows))
        with ThreadPoolExecutor(max_workers=min(8, len(rows)), thread_name_prefix="finalize") as pool:
            return dict(pool.map(close, rows))

    def stop_all(self) -> list[RecordOut]:
        """Finalize every running record (station shutdown)."""
        events: list[Event] = []
        with self._lock:
            with self.catalog.session() as s:
                rows = self._running_rows(s, mine=True)
            closed = self._close_files(rows)
            out = [self._finalize(r.id, events, origin="shutdown", result=closed.get(r.id))
                   for r in rows]
        self._publish(events)
        return out

    def fail(self, record_id: str, reason: str) -> RecordOut:
        """The recorder lost the file (disk full ...), or the storage guard stops it: close
        it and mark the record failed. (The recorder reports a failure of a file it rolled
        over to only after `on_rollover` created its record.)"""
        events: list[Event] = []
        with self._lock:
            out = self._finalize(record_id, events, origin="recorder", error=reason)
        self._publish(events)
        return out

    def _finalize(self, record_id: str, events: list[Event], *, origin: str,
                  error: str | None = None, result: RecordingResult | None = None) -> RecordOut:
        """Close the record's file (unless `result` says how it closed) and store the end;
        stored in memory if the catalog cannot take it (`_save`). The RecordingStopped
        goes into `events`, which the caller publishes once it has released the lock."""
        row, tag_name = self._current(record_id)
        if row.status != RecordStatus.recording:
            return self._out_anyway(row, tag_name)
        if result is None and row.source_id:
            result = self.recorder.stop_recording(row.source_id, row.id)
        if result is None:
            result = self._measure(Path(row.location or ""), "the recorder had no open file")
        self._apply(row, result, error)
        self._save([row])
        self._live.forget(record_id)
        out = self._out_anyway(row, tag_name)
        events.append(RecordingStopped(record_id, row.source_id or 0, tag_name, out.status, origin))
        return out

    def _current(self, record_id: str) -> tuple[Record, str]:
        """The record's true state (a copy) and its tag's name: from the catalog with what
        waits in the overlay laid over it, or, when the catalog's server is away, from the
        overlay or this station's own memory of its running records."""
        try:
            with self.catalog.session() as s:
                row = copy_row(self._row(s, record_id))
                tag = s.get(Tag, row.tag_id)
                return row, tag.name if tag else ""
        except CATALOG_ERRORS:
            kept = self._overlay.get(record_id)
            if kept is not None:
                return kept, self._live.tag_of(record_id)
            known = self._live.get(record_id)
            if known is None:
                raise
            return known

    def _out_anyway(self, row: Record, tag_name: str) -> RecordOut:
        """The record as front ends see it; without its source's details when the catalog
        cannot be read now (the caller acts on it all the same)."""
        try:
            with self.catalog.session() as s:
                return self._out(s, row)
        except CATALOG_ERRORS:
            return record_out_of(row, None, tag_name)

    @staticmethod
    def _apply(row: Record, result: RecordingResult, error: str | None, status: str | None = None) -> None:
        error = error or result.error
        row.status = status or (RecordStatus.failed if error else RecordStatus.finished)
        row.error = error
        row.gaps = gaps_of(result)
        if result.dropped:
            row.error = ((row.error + "; " if row.error else "")
                         + f"{result.dropped} packets dropped: the encoder fell behind")
        if result.begin_wall is not None:
            row.begin_utc = _utc(result.begin_wall)
        row.end_utc = _utc(result.end_wall) if result.end_wall else utcnow()
        row.hash_md5, row.size_bytes, row.duration_s = result.md5, result.size_bytes, result.duration_s
        row.running_key = None

    @staticmethod
    def _measure(path: Path, missing: str) -> RecordingResult:
        if not path.is_file():
            return RecordingResult(path, None, None, 0.0, 0, None, 0, error=missing)
        end = path.stat().st_mtime
        return RecordingResult(path, None, end, probe_duration(path) or 0.0, path.stat().st_size,
                               file_md5(path), 0)

    def recover_interrupted(self) -> int:
        """At start-up: records left `recording` by a crash become `interrupted`, with the
        real end time (the file's last write), size, duration and MD5 of what was saved.
        Each file of a rolled-over recording is its own record: the ones finished before
        the crash were committed as they rolled over, only the last one is measured here."""
        with self.catalog.session() as s:
            rows = [r for r in s.exec(select(Record).where(Record.status == RecordStatus.recording))
                    if self._is_mine(r)]  # another station's records are its own to recover
            for row in rows:
                result = self._measure(Path(row.location or ""), "no file was written")
                self._apply(row, result, result.error, status=RecordStatus.interrupted)
                s.add(row)
        if rows:
            log.warning("closed %d record(s) interrupted by an earlier crash", len(rows))
        return len(rows)

    def close(self, timeout: float = 5.0) -> list[str]:
        """At shutdown, after `stop_all`: write what waits in memory, for up to `timeout`
        seconds; returns the records left unwritten (the next start recovers them)."""
        return self._overlay.close(timeout)

    # --- internals -----------------------------------------------------------------
    def _check_disk(self) -> None:
        if self.disk_floor_bytes and free_bytes(self.storage_dir) < self.disk_floor_bytes:
            raise StorageFull(f"less than {self.disk_floor_bytes // (1 << 20)} MB free in "
                              f"{self.storage_dir}: not starting a recording")
