"""Recordings: start a group under a tag, stop a tag, finalize files into the catalog.

One lock serialises start and stop, and a unique `running_key` per (source, tag) backs it up
in the database, so any number of concurrent requests from the GUI and the API dialects end
with exactly one running record per source and tag.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import datetime, timezone
from pathlib import Path

from sqlmodel import select

from app.catalog import Catalog
from app.errors import Conflict, InvalidInput, NotFound, StorageFull
from app.events import EventSink, RecordingStarted, RecordingStopped
from app.ffmpeg_cmd import profile_of
from app.models import GroupSource, Record, Source, Tag, utcnow
from app.schemas import RecordOut, SourceModel, TagOut, iso_utc
from app.services.common import group_by_name, record_out, source_snapshot, tag_by_name
from recorder.encoding import COPY, EncodeProfile
from recorder.manager import RecorderManager
from recorder.mp4file import RecordingResult, file_md5, free_bytes, probe_duration

log = logging.getLogger(__name__)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "untitled"


def _profile(source: Source) -> EncodeProfile:
    """The source's `ffmpeg_cmd` as an encoding. It was checked when saved; should a stored
    template no longer pass (an older station accepted it), the footage is still recorded,
    by stream copy, and the log says why."""
    try:
        return profile_of(source.ffmpeg_cmd)
    except InvalidInput as exc:
        log.warning("source %s: %s; recording by stream copy", source.name, exc)
        return COPY


def _utc(wall: float) -> datetime:
    return datetime.fromtimestamp(wall, timezone.utc)


class RecordingService:
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
            stmt = select(Record).order_by(Record.created_utc, Record.id)
            if tag_name is not None:
                tag = tag_by_name(s, tag_name)
                if tag is None:
                    return []
                stmt = stmt.where(Record.tag_id == tag.id)
            if status is not None:
                stmt = stmt.where(Record.status == status)
            return [self._out(s, r) for r in s.exec(stmt).all()]

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
        started: list[tuple[str, int]] = []
        with self._lock, self.catalog.session() as s:
            group = group_by_name(s, group_name)
            stmt = (select(Source).join(GroupSource, GroupSource.source_id == Source.id)
                    .where(GroupSource.group_id == group.id).order_by(Source.id))
            sources = [src for src in s.exec(stmt).all() if model is None or src.model == model.value]
            if not sources:
                raise InvalidInput(f"group {group_name!r} has no sources"
                                   + (f" of model {model.value}" if model else ""), field="group_name")
            tag = tag_by_name(s, tag_name)
            if tag is None:
                tag = Tag(name=tag_name)
                s.add(tag)
                s.flush()
            rows: list[Record] = []
            for src in sources:
                key = f"{src.id}:{tag.id}"
                existing = s.exec(select(Record).where(Record.running_key == key)).first()
                if existing is not None:
                    rows.append(existing)
                    continue
                if not self.recorder.has_source(src.id):
                    raise Conflict(f"source {src.name!r} is not being read (disabled or not a "
                                   "video stream)", field="group_name")
                self._check_disk()
                row = Record(status="recording", source_id=src.id, tag_id=tag.id, model=src.model,
                             running_key=key, source_snapshot=source_snapshot(src), begin_utc=utcnow())
                now = datetime.now().strftime("%Y%m%dT%H%M%S")
                path = self.storage_dir / _safe(tag_name) / f"{_safe(src.name)}_{now}_{row.id[:8]}.mp4"
                row.location = str(path)
                begin = self.recorder.start_recording(src.id, row.id, path, _profile(src))
                if begin is not None:
                    row.begin_utc = _utc(begin)
                s.add(row)
                rows.append(row)
                started.append((row.id, src.id))
            s.flush()
            result = [self._out(s, r) for r in rows]
        for record_id, source_id in started:
            self.bus.publish(RecordingStarted(record_id, source_id, tag_name, origin))
        return result

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
            return [self._finalize(r.id, origin=origin) for r in rows]

    def stop_all(self) -> list[RecordOut]:
        """Finalize every running record (station shutdown)."""
        with self._lock:
            with self.catalog.session() as s:
                ids = s.exec(select(Record.id).where(Record.status == "recording")).all()
            return [self._finalize(rid, origin="shutdown") for rid in ids]

    def fail(self, record_id: str, reason: str) -> RecordOut:
        """The recorder lost the file (disk full ...): close it and mark the record failed."""
        with self._lock:
            return self._finalize(record_id, origin="recorder", error=reason)

    def _finalize(self, record_id: str, *, origin: str, error: str | None = None) -> RecordOut:
        with self.catalog.session() as s:
            row = self._row(s, record_id)
            if row.status != "recording":
                return self._out(s, row)
            result = self.recorder.stop_recording(row.source_id, row.id) if row.source_id else None
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
            if path.is_symlink() or not path.resolve().is_relative_to(storage):
                raise InvalidInput("location is outside the storage folder", field="location")
            path.unlink(missing_ok=True)
            row.status = "deleted"
            s.add(row)
            return self._out(s, row)

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


