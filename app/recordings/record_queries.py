"""Reading records: every query of `RecordingService`, each showing the true state.

The catalog answers first; what it could not take yet (the `RecordStore`'s overlay: a stop, a
failure, a rollover or a deletion the disk had no room to commit) is laid over its answer,
filtered and ordered the same way, so the GUI and every dialect see a record as it really
stands. A part of its own, given the store, so any other part (keeping, rollover) reads
records the way the front ends do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import or_
from sqlmodel import func, select

from app.catalog import CATALOG_ERRORS
from app.catalog_rows import tag_by_name
from app.errors import InvalidInput, NotFound
from app.files import file_size
from app.models import Record, Source, Tag
from app.recordings.record_store import RecordStore
from app.schemas import RecordOut, RecordStatus, TagOut, iso_utc


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without a zone; they are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


@dataclass(frozen=True)
class RunningTag:
    name: str
    since: datetime
    records: int
    size_bytes: int


class RecordQueries:
    """Every read of records, given the store (the catalog with the true state laid over)."""

    def __init__(self, store: RecordStore):
        self._store = store
        self._catalog = store.catalog

    # --- queries -------------------------------------------------------------------
    def list(self, tag_name: str | None = None, *, status: str | None = None) -> list[RecordOut]:
        with self._catalog.session() as s:
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
            rows = [record for record, _source, _tag in s.exec(stmt).all()]
            if self._store.has_pending():
                tag = tag_by_name(s, tag_name) if tag_name is not None else None
                rows = sorted(self._store.lay_over(rows, lambda r: (
                    (status is None or r.status == status)
                    and (tag_name is None or (tag is not None and r.tag_id == tag.id)))),
                    key=lambda r: (aware(r.created_utc), r.id))
            return [self._store.out(s, record) for record in rows]

    def find(self, *, tag_name: str | None = None, source_id: int | None = None,
             status: str | None = None, begin_from: datetime | None = None,
             begin_to: datetime | None = None, limit: int = 2000) -> list[RecordOut]:
        """Records matching every filter given, newest first: the operator's browser.
        `begin_from` is inclusive, `begin_to` exclusive (timezone-aware); a record not yet
        begun counts from its creation."""
        if status is not None and status not in RecordStatus.__members__:
            raise InvalidInput(f"unknown record status {status!r}", field="status")
        begin = func.coalesce(Record.begin_utc, Record.created_utc)
        with self._catalog.session() as s:
            tag = None
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
            rows = s.exec(stmt).all()
            if self._store.has_pending():
                def keep(r: Record) -> bool:
                    at = aware(r.begin_utc or r.created_utc)
                    return ((tag is None or r.tag_id == tag.id)
                            and (source_id is None or r.source_id == source_id)
                            and (status is None or r.status == status)
                            and (begin_from is None or at >= begin_from)
                            and (begin_to is None or at < begin_to))
                rows = sorted(self._store.lay_over(rows, keep),
                              key=lambda r: (-aware(r.begin_utc or r.created_utc).timestamp(), r.id))
                rows = rows[:limit]
            return [self._store.out(s, r) for r in rows]

    def overlapping(self, source_ids: list[int], begin: datetime, end: datetime,
                    limit: int = 5000) -> list[RecordOut]:
        """Records of these sources whose span meets [begin, end) and that have footage,
        oldest first (synchronised playback's plan, app.recordings.playback_plan). A record
        still being written reaches until now; `begin`/`end` are timezone-aware."""
        if not source_ids:
            return []
        start = func.coalesce(Record.begin_utc, Record.created_utc)
        begin, end = begin.astimezone(timezone.utc), end.astimezone(timezone.utc)
        with self._catalog.session() as s:
            stmt = (select(Record).where(Record.source_id.in_(source_ids), start < end,
                                         or_(Record.end_utc.is_(None), Record.end_utc > begin))
                    .order_by(start, Record.id).limit(limit))
            rows = s.exec(stmt).all()
            if self._store.has_pending():
                def keep(r: Record) -> bool:
                    first, last = aware(r.begin_utc or r.created_utc), aware(r.end_utc)
                    return (r.source_id in source_ids and first < end
                            and (last is None or last > begin))
                rows = sorted(self._store.lay_over(rows, keep),
                              key=lambda r: (aware(r.begin_utc or r.created_utc), r.id))[:limit]
            return [out for out in (self._store.out(s, r) for r in rows) if out.has_footage]

    def source_names(self, source_ids: list[int]) -> dict[int, str]:
        """Each existing source's name, by id (a source deleted since has none)."""
        if not source_ids:
            return {}
        with self._catalog.session() as s:
            rows = s.exec(select(Source.id, Source.name).where(Source.id.in_(source_ids))).all()
            return {source_id: name for source_id, name in rows}

    def tag_names(self) -> list[str]:
        """Every tag ever used, by name."""
        with self._catalog.session() as s:
            return list(s.exec(select(Tag.name).order_by(Tag.name)).all())

    def get(self, record_id: str) -> RecordOut:
        with self._catalog.session() as s:
            return self._store.out(s, self._store.row(s, record_id))

    def is_running(self, tag_name: str) -> bool:
        with self._catalog.session() as s:
            tag = tag_by_name(s, tag_name)
            return tag is not None and bool(self._store.running_rows(s, tag.id))

    def running_ids(self) -> set[str]:
        """The records this station records now, as they truly stand (also while the
        catalog lags, or its server is away)."""
        return {r.id for r in self.own_running()}

    def running_keys(self) -> dict[tuple[int, str], str]:
        """(source id, tag name) -> record id of what this station's recorder writes now,
        from memory (the store's live rows): no catalog read."""
        return self._store.live.keys()

    def own_running(self) -> list[RecordOut]:
        """The records this station's recorder writes now (the storage guard's concern),
        from memory while the catalog's server is away."""
        try:
            with self._catalog.session() as s:
                return [self._store.out(s, r) for r in self._store.running_rows(s, mine=True)]
        except CATALOG_ERRORS:
            if not self._catalog.is_server:
                raise
            return [self._store.out_anyway(r, tag) for r, tag in self._store.live.all()]

    def running_tags(self) -> list[str]:
        with self._catalog.session() as s:
            tag_ids = {r.tag_id for r in self._store.running_rows(s)}
            return sorted(t.name for t in (s.get(Tag, i) for i in tag_ids) if t is not None)

    def running_summary(self) -> list[RunningTag]:
        """Each tag that records now: since when, how many sources, bytes on disk so far."""
        with self._catalog.session() as s:
            rows = [(s.get(Tag, r.tag_id), r) for r in self._store.running_rows(s)]
        tags: dict[str, RunningTag] = {}
        for tag, row in rows:
            if tag is None:
                continue
            size, begin = file_size(row.location), aware(row.begin_utc or row.created_utc)
            current = tags.get(tag.name)
            if current is None:
                tags[tag.name] = RunningTag(tag.name, begin, 1, size)
            else:
                tags[tag.name] = RunningTag(tag.name, min(current.since, begin),
                                            current.records + 1, current.size_bytes + size)
        return sorted(tags.values(), key=lambda t: t.since)

    def tag(self, name: str) -> TagOut:
        with self._catalog.session() as s:
            tag = tag_by_name(s, name)
            if tag is None:
                raise NotFound("tag", repr(name), field="name")
            rows = s.exec(select(Record).where(Record.tag_id == tag.id)
                          .order_by(Record.created_utc, Record.id)).all()
            if self._store.has_pending():
                rows = sorted(self._store.lay_over(rows, lambda r: r.tag_id == tag.id),
                              key=lambda r: (aware(r.created_utc), r.id))
            return TagOut(id=tag.id, created_utc=iso_utc(tag.created_utc), name=tag.name,
                          records=[self._store.out(s, r) for r in rows])

    def video_path(self, record_id: str) -> Path:
        """The record's file, for download; also while it is still being written."""
        record = self.get(record_id)
        if not record.has_footage:
            raise NotFound("file of record", record_id, field="record_id")
        path = Path(record.location)
        if not path.is_file():
            raise NotFound("file of record", record_id, field="record_id")
        return path

    def running_record(self, tag_name: str, source_id: int) -> RecordOut | None:
        """The source's running record under the tag, if any."""
        with self._catalog.session() as s:
            tag = tag_by_name(s, tag_name)
            rows = [] if tag is None else [r for r in self._store.running_rows(s, tag.id, mine=True)
                                           if r.source_id == source_id]
            return self._store.out(s, rows[0]) if rows else None
