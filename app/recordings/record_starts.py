"""Starting recordings: a group under a tag, chosen sources, or one source into a named file.

The store's lock serialises start and stop, and a unique `running_key` per (source, tag)
backs it up in the database, so any number of concurrent requests from the GUI and the API
dialects end with exactly one running record per source and tag.

A record is committed before its file opens: the recorder starts only on a record the
catalog holds (a catalog that cannot be written starts nothing), and a file the recorder then
cannot start leaves its record `failed`, never a file no record points to. Events are
published once the lock is released (`publish_outside_lock`).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from app.catalog import CATALOG_ERRORS
from app.catalog_rows import group_by_name, tag_by_name
from app.dto import source_snapshot
from app.errors import Conflict, InvalidInput, NotFound, StorageFull, Unavailable
from app.events import Event, EventSink, RecordingStarted, RecordingStopped
from app.ffmpeg_cmd import profile_of
from app.files import safe_name
from app.models import GroupSource, Record, Source, Tag, utcnow
from app.recordings.record_forwarding import RecordForwarding, joined
from app.recordings.record_results import apply_result, wall_utc
from app.recordings.record_store import RecordStore, publish_outside_lock
from app.recordings.rollover import RecordingRollover
from app.schemas import RecordOut, RecordStatus, SourceModel
from recorder.encoding import COPY, EncodeProfile
from recorder.manager import RecorderManager, UnknownSource
from recorder.mp4file import RecordingResult, free_bytes

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


class RecordingStarts:
    """Given the store, the recorder that opens the files, the bus, the forwarding part (the
    other owners' sources), the rollover part (how files are named), the storage folder and
    the disk floor below which nothing starts (`disk_floor_bytes`: a number, or a function
    read at each start, the station's live settings)."""

    def __init__(self, store: RecordStore, recorder: RecorderManager, bus: EventSink,
                 forwarding: RecordForwarding, rollover: RecordingRollover, *,
                 storage_dir: Path, disk_floor_bytes: int | Callable[[], int] = 0):
        self._store, self._recorder, self._bus = store, recorder, bus
        self._forwarding, self._rollover = forwarding, rollover
        self.storage_dir = storage_dir
        self.disk_floor_bytes = disk_floor_bytes

    @property
    def disk_floor_bytes(self) -> int:
        return self._floor()

    @disk_floor_bytes.setter
    def disk_floor_bytes(self, value: int | Callable[[], int]) -> None:
        self._floor = value if callable(value) else (lambda: value)

    @contextmanager
    def _starting(self) -> Iterator[object]:
        """The unit of work of a start: what waits in memory is written first (so the
        session sees the true running records). Nothing records yet while it is open: the
        files start after the commit (`_open_files`), so a refusal or a catalog that cannot
        be written (507) leaves nothing behind."""
        try:
            with self._store.unit() as s:
                yield s
        except CATALOG_ERRORS as exc:
            text = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            log.error("not starting a recording: the catalog cannot be written (%s)", text)
            if self._store.catalog.is_server and not isinstance(exc, OSError):  # a server away
                raise Unavailable(f"the catalog cannot be reached ({text}): not starting a "
                                  "recording; the running ones go on") from exc
            raise StorageFull(f"the catalog cannot be written ({text}): not starting a "
                              "recording") from exc

    def start(self, tag_name: str, group_name: str, model: SourceModel | str | None = None,
              origin: str = "core", forwarded: bool = False) -> list[RecordOut]:
        """Start every source of the group (of `model`, if given) under the tag: this
        station's own here, the others' on their owners (not when another station
        `forwarded` the request). Idempotent per source: one already recording under this
        tag is left as it is."""
        model = SourceModel(model) if model else None
        events: list[Event] = []
        with self._store.lock:
            with self._starting() as s:
                group = group_by_name(s, group_name)
                stmt = (select(Source).join(GroupSource, GroupSource.source_id == Source.id)
                        .where(GroupSource.group_id == group.id).order_by(Source.id))
                sources = [src for src in s.exec(stmt).all()
                           if model is None or src.model == model.value]
                local, remote = self._forwarding.split(sources, forwarded)
                if not local and not remote:
                    raise InvalidInput(f"group {group_name!r} has no sources"
                                       + (f" of model {model.value}" if model else "")
                                       + (" on this station" if forwarded else ""),
                                       field="group_name")
                rows, new = (self._new_records(s, tag_name, local, field="group_name")
                             if local else ([], []))
            opened = self._open_files(rows, new, tag_name, origin, events, field="group_name")
        return joined(self._started(opened, events),
                      *self._forwarding.start_there(tag_name, remote))

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
        with self._store.lock:
            with self._starting() as s:
                sources = []
                for source_id in sorted(set(source_ids)):
                    src = s.get(Source, source_id)
                    if src is None:
                        raise NotFound("source", source_id, field="source_ids")
                    sources.append(src)
                local, remote = self._forwarding.split(sources, forwarded)
                if not local and not remote:
                    raise Conflict("none of these sources belongs to this station",
                                   field="source_ids")
                rows, new = (self._new_records(s, tag_name, local, field="source_ids")
                             if local else ([], []))
            opened = self._open_files(rows, new, tag_name, origin, events, field="source_ids",
                                      audio_muted=audio_muted)
        return joined(self._started(opened, events),
                      *self._forwarding.start_there(tag_name, remote))

    def start_one(self, tag_name: str, source_id: int, *, profile: EncodeProfile | None = None,
                  file_name: str | None = None, origin: str = "core",
                  preroll_s: float | None = None) -> RecordOut:
        """Start one source under the tag, encoded by `profile` (default: the source's own)
        into `file_name` inside the tag's folder (default: the usual name), beginning
        `preroll_s` back (default: the `preroll_s` setting; a motion record's pre-capture).
        Unlike `start`, a source already recording under the tag is refused with
        `AlreadyRecording`."""
        events: list[Event] = []
        with self._store.lock:
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
            opened = self._open_files(rows, new, tag_name, origin, events, field="source_id",
                                      preroll_s=preroll_s)
        (out,) = self._started(opened, events)
        return out

    def _started(self, opened: tuple[list[RecordOut], Conflict | None],
                 events: list[Event]) -> list[RecordOut]:
        """Outside the lock: publish, then answer the records or, when none of them
        records, the reason (their records stay, `failed`)."""
        result, refused = opened
        publish_outside_lock(self._bus, events)
        if refused is not None:
            raise refused
        return result

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
        running = {r.running_key: r
                   for r in s.exec(select(Record).where(Record.running_key.in_(keys)))}
        # Every check before the first record: a refusal starts nothing at all.
        idle = [src for src, key in zip(sources, keys) if key not in running]
        for src in idle:
            if not self._recorder.has_source(src.id):
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
            row = Record(status=RecordStatus.recording, source_id=src.id, tag_id=tag.id,
                         model=src.model, running_key=key, source_snapshot=source_snapshot(src),
                         begin_utc=utcnow(), station_id=self._store.station_id)
            stem, suffix = (Path(file_name).stem, Path(file_name).suffix or ".mp4") if file_name \
                else (safe_name(src.name), ".mp4")
            path = folder / file_name if file_name else self._rollover.file_path(
                folder, stem, row.id, at=row.begin_utc)
            row.location = str(path)
            s.add(row)
            rows.append(row)
            new.append(_NewFile(row, path, profile or _profile(src),
                                self._rollover.next_file(folder, stem, suffix)))
        s.flush()
        return rows, new

    def _tag(self, s, tag_name: str) -> Tag:
        """The tag, created on first use. Stations sharing a catalog server may create the
        same tag at the same moment: the loser of the unique name takes the winner's row.
        (Not on SQLite, one station's own, where pysqlite's savepoints would commit early.)"""
        tag = tag_by_name(s, tag_name)
        if tag is not None:
            return tag
        if not self._store.catalog.is_server:
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
                    preroll_s: float | None = None) -> tuple[list[RecordOut], Conflict | None]:
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
                begin = self._recorder.start_recording(row.source_id, row.id, item.path,
                                                       item.profile, next_file=item.next_file,
                                                       audio_muted=audio_muted,
                                                       preroll_s=preroll_s)
            except Exception as exc:  # noqa: BLE001 - whatever it is, the record must say so
                reason = "the recorder could not start the file: " + (
                    "the source is no longer being read" if isinstance(exc, UnknownSource)
                    else f"{type(exc).__name__}: {exc}")
                log.error("record %s: %s", row.id, reason)
                failures.append((row.id, reason))
                apply_result(row, RecordingResult(item.path, None, None, 0.0, 0, None, 0,
                                                  error=reason), reason)
                changed.append(row)
                events.append(RecordingStopped(row.id, row.source_id, tag_name, row.status,
                                               "recorder"))
                continue
            if begin is not None:
                row.begin_utc = wall_utc(begin)
                changed.append(row)
            self._store.live.remember(row, tag_name)
            events.append(RecordingStarted(row.id, row.source_id, tag_name, origin))
        if changed:
            self._store.save(changed)  # kept in memory, and shown, if the catalog cannot take it
        with self._store.catalog.session() as s:
            result = [self._store.out(s, row) for row in rows]
        refused = None
        if failures and not any(row.status == RecordStatus.recording for row in rows):
            record_id, reason = failures[0]
            refused = Conflict(f"{reason} (record {record_id} is failed)", field=field)
        return result, refused

    def _check_disk(self) -> None:
        if self.disk_floor_bytes and free_bytes(self.storage_dir) < self.disk_floor_bytes:
            raise StorageFull(f"less than {self.disk_floor_bytes // (1 << 20)} MB free in "
                              f"{self.storage_dir}: not starting a recording")
