"""Bookmarks: moments an operator marked on a source (`B` on a live tile or in the player,
or `POST /api/v1/bookmark`). Listed and searched here, drawn on the timeline
(app.services.timeline), and while one exists retention leaves the file of every record it
falls in (app.services.storage looks them up with `covered_records`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlmodel import Session, select

from app.catalog import Catalog
from app.errors import Conflict, InvalidInput, NotFound
from app.events import CatalogChanged, EventSink
from app.models import Bookmark, Record
from app.schemas import BookmarkIn, BookmarkOut, RecordStatus, iso_utc
from app.services.common import get_source, utc

SEARCH_LIMIT = 5000  # a search answers at most this many, newest first


def bookmark_out(row: Bookmark) -> BookmarkOut:
    return BookmarkOut(id=row.id, created_utc=iso_utc(utc(row.created_utc)),
                       source_id=row.source_id, source_name=row.source_name,
                       time_utc=iso_utc(utc(row.time_utc)), title=row.title, note=row.note)


def _like(text: str) -> str:
    """`text` as a LIKE pattern matching it anywhere, its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class BookmarkService:
    def __init__(self, catalog: Catalog, bus: EventSink):
        self.catalog, self.bus = catalog, bus

    def create(self, data: BookmarkIn) -> BookmarkOut:
        """A bookmark needs its source (which must exist), its moment and a title."""
        for name in ("source_id", "time_utc", "title"):
            if getattr(data, name) is None:
                raise InvalidInput("Field required", field=name, kind="missing")
        with self.catalog.session() as s:
            source = get_source(s, data.source_id)
            row = Bookmark(source_id=source.id, source_name=source.name,
                           time_utc=utc(data.time_utc), title=data.title, note=data.note or None)
            s.add(row)
            s.flush()
            s.refresh(row)
            out = bookmark_out(row)
        self.bus.publish(CatalogChanged("bookmark", out.id, "created"))
        return out

    def get(self, bookmark_id: int) -> BookmarkOut:
        with self.catalog.session() as s:
            return bookmark_out(self._row(s, bookmark_id))

    def update(self, bookmark_id: int, data: BookmarkIn) -> BookmarkOut:
        """Only the fields sent change; a new source must exist (its name is taken again)."""
        sent = data.model_fields_set
        with self.catalog.session() as s:
            row = self._row(s, bookmark_id)
            for name in ("source_id", "time_utc", "title"):
                if name in sent and getattr(data, name) is None:
                    raise InvalidInput("may not be null", field=name)
            if "source_id" in sent:
                source = get_source(s, data.source_id)
                row.source_id, row.source_name = source.id, source.name
            if "time_utc" in sent:
                row.time_utc = utc(data.time_utc)
            if "title" in sent:
                row.title = data.title
            if "note" in sent:
                row.note = data.note or None
            s.add(row)
            s.flush()
            out = bookmark_out(row)
        self.bus.publish(CatalogChanged("bookmark", bookmark_id, "updated"))
        return out

    def delete(self, bookmark_id: int) -> BookmarkOut:
        with self.catalog.session() as s:
            row = self._row(s, bookmark_id)
            out = bookmark_out(row)
            s.delete(row)
        self.bus.publish(CatalogChanged("bookmark", bookmark_id, "deleted"))
        return out

    def search(self, *, source_id: int | None = None, begin: datetime | None = None,
               end: datetime | None = None, text: str | None = None,
               limit: int = SEARCH_LIMIT) -> list[BookmarkOut]:
        """Bookmarks matching every filter given, in time order: of a source, in
        [begin, end), with `text` in the title or the note (case-insensitive)."""
        stmt = select(Bookmark).order_by(Bookmark.time_utc, Bookmark.id).limit(limit)
        if source_id is not None:
            stmt = stmt.where(Bookmark.source_id == source_id)
        if begin is not None:
            stmt = stmt.where(Bookmark.time_utc >= utc(begin))
        if end is not None:
            stmt = stmt.where(Bookmark.time_utc < utc(end))
        if text:
            pattern = _like(text.lower())
            stmt = stmt.where(or_(Bookmark.title.ilike(pattern, escape="\\"),
                                  Bookmark.note.ilike(pattern, escape="\\")))
        with self.catalog.session() as s:
            return [bookmark_out(r) for r in s.exec(stmt).all()]

    def range_around(self, bookmark_id: int, before_s: float, after_s: float
                     ) -> tuple[int, datetime, datetime]:
        """(source id, begin, end): the moment of the bookmark with `before_s` seconds before
        it and `after_s` after, for an export. Conflict when its source is gone."""
        with self.catalog.session() as s:
            row = self._row(s, bookmark_id)
            if row.source_id is None:
                raise Conflict(f"the source of bookmark {bookmark_id} ({row.source_name}) was "
                               "deleted", field="bookmark_id")
            moment = utc(row.time_utc)
        return (row.source_id, moment - timedelta(seconds=before_s),
                moment + timedelta(seconds=after_s))

    @staticmethod
    def _row(session: Session, bookmark_id: int) -> Bookmark:
        row = session.get(Bookmark, bookmark_id)
        if row is None:
            raise NotFound("bookmark", bookmark_id, field="bookmark_id")
        return row


def covered_records(session: Session) -> set[str]:
    """The records a bookmark falls in (its source, begin <= time <= end): the files
    retention must leave while the bookmarks exist."""
    stmt = (select(Record.id).join(Bookmark, Bookmark.source_id == Record.source_id)
            .where(Record.status != RecordStatus.deleted,
                   Bookmark.time_utc >= Record.begin_utc, Bookmark.time_utc <= Record.end_utc)
            .distinct())
    return set(session.exec(stmt).all())
