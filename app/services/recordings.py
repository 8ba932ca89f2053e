"""Recordings: start a group under a tag, stop a tag, finalize files into the catalog.

One lock serialises start and stop, and a unique `running_key` per (source, tag) backs it up
in the database, so any number of concurrent requests from the GUI and the API dialects end
with exactly one running record per source and tag.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlmodel import func, select

from app.catalog import Catalog
from app.errors import Conflict, InvalidInput, NotFound, StorageFull
from app.events import (
    EventSink,
    RecordChanged,
    RecordingStarted,
    RecordingStopped,
)
from app.ffmpeg_cmd import profile_of
from app.models import GroupSource, Record, Source, Tag, utcnow
from app.schemas import RecordOut, RecordStatus, SourceModel, TagOut, iso_utc
from app.services.common import (
    group_by_name,
    record_out,
    safe_name,
    source_snapshot,
    tag_by_name,
)
from app.services.recording_controls import RecordingControls
from recorder.encoding import COPY, EncodeProfile
from recorder.manager import RecorderManager
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


@dataclass(frozen=True)
class RunningTag:
    name: str
    since: datetime
    records: int
    size_bytes: int


def _size(location: str | None) -> int:
    try:
        return Path(location).stat().st_size if location else 0
    except OSError:
        return 0


def _utc(wall: float) -> datetime:
    return datetime.fromtimestamp(wall, timezone.utc)


class RecordingService(RecordingControls):
    def __init__(self, catalog: Catalog, recorder: RecorderManager, bus: EventSink, *,
                 storage_dir: Path, disk_floor_bytes: int = 0):
        self.catalog, self.recorder, self.bus = catalog, recorder, bus
        self.storage_dir = storage_dir
        self.disk_floor_bytes = disk_floor_bytes
        self._lock = threading.RLock()

    # --- queries -------------------------------------------------------------------
    def _out(self, session, row: Record) -> RecordOut:
        return record_out(session, row, self.recorder.status)

    def list(self, tag_name: str | None = None, *, status: str | None = None) -> list[RecordOut]:
        with self.catalog.session() as s:
            # One query: each record with its source and tag, which record_out then finds in
            # the session (the rows hold them; the identity map alone is weak).
            stmt = (select(Record, Source, Tag)
                    .outerjoin(Source, Source.id == Record.source_id)
                    .outerjoin(Tag, Tag.id == Record.tag_id)
                    .order_by(Record.created_utc, Record.id))
            if tag_name is not None:
                stmt = stmt.where(Tag.name == tag_name)
            if status is not None:
                stmt = stmt.where(Record.status == status)
            rows = s.exec(stmt).all()
            return [self._out(s, record) for record, _source, _tag in rows]

    def find(self, *, tag_name: str | None = None, source_id: int | None = None,
             status: str | None = None, begin_from: datetime | None = None,
             begin_to: datetime | None = None, limit: int = 2000) -> list[RecordOut]:
        """Records matching every filter given, newest first: the operator's browser.
        `begin_from` is inclusive, `begin_to` exclusive (timezone-aware); a record not yet
        begun counts from its creation."""
        if status is not None and status not in RecordStatus.__members__:
            raise InvalidInput(f"unknown record status {status!r}", field="status")
        begin = func.coalesce(Record.begin_utc, Record.created_utc)
        with self.catalog.session() as s:
            stmt = select(Record).order_by(begin.desc(), Record.id).limit(limit)
            if tag_name is not None:
                tag = tag_by_name(s, tag_name)
                if tag is None:
                    return []
                stmt = stmt.where(Record.tag_id == tag.id)
            if source_id is not None:
                stmt = stmt.where(Record.source_id == source_id)
            if status is not None:
                stmt = stmt.where(Record.status == status)
            if begin_from is not None:
                stmt = stmt.where(begin >= begin_from.astimezone(timezone.utc))
            if begin_to is not None:
                stmt = stmt.where(begin < begin_to.astimezone(timezone.utc))
            return [self._out(s, r) for r in s.exec(stmt).all()]

    def tag_names(self) -> list[str]:
        """Every tag ever used, by name."""
        with self.catalog.session() as s:
            return list(s.exec(select(Tag.name).order_by(Tag.name)).all())

    def get(self, record_id: str) -> RecordOut:
        with self.catalog.session() as s:
            return self._out(s, self._row(s, record_id))

    def is_running(self, tag_name: str) -> bool:
        with self.catalog.session() as s:
            tag = tag_by_name(s, tag_name)
            if tag is None:
                return False
            stmt = select(Record.id).where(Record.tag_id == tag.id, Record.status == "recording")
            return s.exec(stmt).first() is not None

    def running_tags(self) -> list[str]:
        with self.catalog.session() as s:
            stmt = (select(Tag.name).join(Record, Record.tag_id == Tag.id)
                    .where(Record.status == "recording").distinct().order_by(Tag.name))
            return list(s.exec(stmt).all())

    def running_summary(self) -> list[RunningTag]:
        """Each tag that records now: since when, how many sources, bytes on disk so far."""
        with self.catalog.session() as s:
            stmt = (select(Tag.name, Record.begin_utc, Record.location)
                    .join(Record, Record.tag_id == Tag.id).where(Record.status == "recording"))
            rows = s.exec(stmt).all()
        tags: dict[str, RunningTag] = {}
        for name, begin, location in rows:
            size = _size(location)
            current = tags.get(name)
            if current is None:
                tags[name] = RunningTag(name, begin, 1, size)
            else:
                tags[name] = RunningTag(name, min(current.since, begin), current.records + 1,
                                        current.size_bytes + size)
        return sorted(tags.values(), key=lambda t: t.since)

    def tag(self, name: str) -> TagOut:
        with self.catalog.session() as s:
            tag = tag_by_name(s, name)
            if tag is None:
                raise NotFound("tag", repr(name), field="name")
            rows = s.exec(select(Record).where(Record.tag_id == tag.id)
                          .order_by(Record.created_utc, Record.id)).all()
            return TagOut(id=tag.id, created_utc=iso_utc(tag.created_utc), name=tag.name,
                          records=[self._out(s, r) for r in rows])

    def video_path(self, record_id: str) -> Path:
        """The record's file, for download; also while it is still being written."""
        record = self.get(record_id)
        if record.status == "deleted" or not record.location:
            raise NotFound("file of record", record_id, field="record_id")
        path = Path(record.location)
        if not path.is_file():
            raise NotFound("file of record", record_id, field="record_id")
        return path

    # --- start / stop --------------------------------------------------------------
    def start(self, tag_name: str, group_name: str, model: SourceModel | str | None = None,
              origin: str = "core") -> list[RecordOut]:
        """Start every source of the group (of `model`, if given) under the tag.
        Idempotent per source: one already recording under this tag is left as it is."""
        model = SourceModel(model) if model else None
        with self._lock, self.catalog.session() as s:
            group = group_by_name(s, group_name)
            stmt = (select(Source).join(GroupSource, GroupSource.source_id == Source.id)
                    .where(GroupSource.group_id == group.id).order_by(Source.id))
            sources = [src for src in s.exec(stmt).all() if model is None or src.model == model.value]
            if not sources:
                raise InvalidInput(f"group {group_name!r} has no sources"
                                   + (f" of model {model.value}" if model else ""), field="group_name")
            result, started = self._start_sources(s, tag_name, sources, field="group_name")
        self._announce(started, tag_name, origin)
        return result

    def start_sources(self, tag_name: str, source_ids: list[int], origin: str = "core") -> list[RecordOut]:
        """Start the given sources (the tiles an operator selected) under the tag."""
        if not tag_name or not tag_name.strip():
            raise InvalidInput("a tag name is required", field="tag_name", kind="missing")
        if not source_ids:
            raise InvalidInput("choose at least one source", field="source_ids", kind="missing")
        with self._lock, self.catalog.session() as s:
            sources = []
            for source_id in sorted(set(source_ids)):
                src = s.get(Source, source_id)
                if src is None:
                    raise NotFound("source", source_id, field="source_ids")
                sources.append(src)
            result, started = self._start_sources(s, tag_name.strip(), sources,
                                                  field="source_ids")
        self._announce(started, tag_name.strip(), origin)
        return result

    def _announce(self, started: list[tuple[str, int]], tag_name: str, origin: str) -> None:
        for record_id, source_id in started:
            self.bus.publish(RecordingStarted(record_id, source_id, tag_name, origin))

    def _start_sources(self, s, tag_name: str, sources: list[Source], *, field: str,
                       profile: EncodeProfile | None = None, file_name: str | None = None,
                       ) -> tuple[list[RecordOut], list[tuple[str, int]]]:
        """Inside the lock and the caller's unit of work: a record per source not yet
        recording under the tag. Returns the records and the (record, source) pairs started,
        whose events the caller publishes once the catalog has committed them."""
        started: list[tuple[str, int]] = []
        tag = tag_by_name(s, tag_name)
        if tag is None:
            tag = Tag(name=tag_name)
            s.add(tag)
            s.flush()
        # One query for what already records under the tag (a group of 32 starts in one go).
        keys = [f"{src.id}:{tag.id}" for src in sources]
        running = {r.running_key: r for r in s.exec(select(Record).where(Record.running_key.in_(keys)))}
        # Every check before the first file opens: a refusal starts nothing at all.
        idle = [src for src, key in zip(sources, keys) if key not in running]
        for src in idle:
            if not self.recorder.has_source(src.id):
                raise Conflict(f"source {src.name!r} is not being read (disabled or not a "
                               "video stream)", field=field)
        if idle:
            self._check_disk()
        rows: list[Record] = []
        for src, key in zip(sources, keys):
            existing = running.get(key)
            if existing is not None:
                rows.append(existing)
                continue
            row = Record(status="recording", source_id=src.id, tag_id=tag.id, model=src.model,
                         running_key=key, source_snapshot=source_snapshot(src), begin_utc=utcnow())
            now = datetime.now().strftime("%Y%m%dT%H%M%S")
            path = self.storage_dir / safe_name(tag_name) / (
                file_name or f"{safe_name(src.name)}_{now}_{row.id[:8]}.mp4")
            row.location = str(path)
            begin = self.recorder.start_recording(src.id, row.id, path, profile or _profile(src))
            if begin is not None:
                row.begin_utc = _utc(begin)
            s.add(row)
            rows.append(row)
            started.append((row.id, src.id))
        s.flush()
        return [self._out(s, r) for r in rows], started

    # --- one source (the Huawei dialects: a Live stream, an RTC job) ------------------
    def start_one(self, tag_name: str, source_id: int, *, profile: EncodeProfile | None = None,
                  file_name: str | None = None, origin: str = "core") -> RecordOut:
        """Start one source under the tag, encoded by `profile` (default: the source's own)
        into `file_name` inside the tag's folder (default: the usual name). Unlike `start`,
        a source already recording under the tag is refused with `AlreadyRecording`."""
        with self._lock, self.catalog.session() as s:
            src = s.get(Source, source_id)
            if src is None:
                raise NotFound("source", source_id, field="source_id")
            tag = tag_by_name(s, tag_name)
            if tag is not None and s.exec(select(Record.id).where(
                    Record.running_key == f"{src.id}:{tag.id}")).first() is not None:
                raise AlreadyRecording(f"source {src.name!r} already records under tag "
                                       f"{tag_name!r}", field="source_id")
            (out,), started = self._start_sources(s, tag_name, [src], field="source_id",
                                                  profile=profile, file_name=file_name)
        self._announce(started, tag_name, origin)
        return out

    def running_record(self, tag_name: str, source_id: int) -> RecordOut | None:
        """The source's running record under the tag, if any."""
        with self.catalog.session() as s:
            tag = tag_by_name(s, tag_name)
            row = None if tag is None else s.exec(select(Record).where(
                Record.running_key == f"{source_id}:{tag.id}")).first()
            return self._out(s, row) if row is not None else None

    def stop_record(self, record_id: str, origin: str = "core") -> RecordOut:
        """Finalize one running record (a record already stopped is returned as it is)."""
        with self._lock:
            return self._finalize(record_id, origin=origin)

    def stop(self, tag_name: str, model: SourceModel | str | None = None,
             origin: str = "core") -> list[RecordOut]:
        """Stop the tag's running records (of `model`, if given); returns them finalized."""
        model = SourceModel(model) if model else None
        with self._lock:
            with self.catalog.session() as s:
                tag = tag_by_name(s, tag_name)
                if tag is None:
                    raise NotFound("tag", repr(tag_name), field="tag_name")
                stmt = select(Record).where(Record.tag_id == tag.id, Record.status == "recording")
                rows = [r for r in s.exec(stmt).all() if model is None or r.model == model.value]
            closed = self._close_files(rows)
            return [self._finalize(r.id, origin=origin, result=closed.get(r.id)) for r in rows]

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
        with self._lock:
            with self.catalog.session() as s:
                rows = s.exec(select(Record).where(Record.status == "recording")).all()
            closed = self._close_files(rows)
            return [self._finalize(r.id, origin="shutdown", result=closed.get(r.id)) for r in rows]

    def fail(self, record_id: str, reason: str) -> RecordOut:
        """The recorder lost the file (disk full ...): close it and mark the record failed."""
        with self._lock:
            return self._finalize(record_id, origin="recorder", error=reason)

    def _finalize(self, record_id: str, *, origin: str, error: str | None = None,
                  result: RecordingResult | None = None) -> RecordOut:
        """Close the record's file (unless `result` says how it closed) and store the end."""
        with self.catalog.session() as s:
            row = self._row(s, record_id)
            if row.status != "recording":
                return self._out(s, row)
            if result is None and row.source_id:
                result = self.recorder.stop_recording(row.source_id, row.id)
            if result is None:
                result = self._measure(Path(row.location), "the recorder had no open file")
            self._apply(row, result, error)
            tag = s.get(Tag, row.tag_id)
            out = self._out(s, row)
        self.bus.publish(RecordingStopped(record_id, row.source_id or 0, tag.name if tag else "",
                                          out.status.value, origin))
        return out

    @staticmethod
    def _apply(row: Record, result: RecordingResult, error: str | None, status: str | None = None) -> None:
        error = error or result.error
        row.status = status or ("failed" if error else "finished")
        row.error = error
        if result.gaps:
            gaps = ", ".join(f"{a:.1f}-{b:.1f}s" for a, b in result.gaps)
            row.error = (row.error + "; " if row.error else "") + f"gaps: {gaps}"
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
        real end time (the file's last write), size, duration and MD5 of what was saved."""
        with self.catalog.session() as s:
            rows = s.exec(select(Record).where(Record.status == "recording")).all()
            for row in rows:
                result = self._measure(Path(row.location or ""), "no file was written")
                self._apply(row, result, result.error, status="interrupted")
                s.add(row)
        if rows:
            log.warning("closed %d record(s) interrupted by an earlier crash", len(rows))
        return len(rows)

    def delete_file(self, record_id: str, location: str) -> RecordOut:
        """Delete the record's own file; nothing else, never a running one."""
        with self._lock, self.catalog.session() as s:
            row = self._row(s, record_id)
            if row.status == "recording":
                raise Conflict("the record is still recording", field="record_id")
            if row.status == "deleted":
                raise Conflict("the record's file is already deleted", field="record_id")
            if not location or location != row.location:
                raise InvalidInput("location must be the record's own file location", field="location")
            path = Path(row.location)
            storage = self.storage_dir.resolve()
            if (not path.is_absolute() or ".." in path.parts or path.is_symlink()
                    or not path.resolve().is_relative_to(storage)):
                raise InvalidInput("location is outside the storage folder", field="location")
            path.unlink(missing_ok=True)
            row.status = "deleted"
            s.add(row)
            out = self._out(s, row)
        self.bus.publish(RecordChanged(record_id, "deleted"))
        return out

    # --- internals -----------------------------------------------------------------
    def _row(self, session, record_id: str) -> Record:
        row = session.get(Record, record_id)
        if row is None:
            raise NotFound("record", record_id, field="record_id")
        return row

    def _check_disk(self) -> None:
        if self.disk_floor_bytes and free_bytes(self.storage_dir) < self.disk_floor_bytes:
            raise StorageFull(f"less than {self.disk_floor_bytes // (1 << 20)} MB free in "
                              f"{self.storage_dir}: not starting a recording")


