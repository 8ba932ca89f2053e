"""Bookmarks: moments an operator marked on a source (`B` on a live tile or in the player,
or `POST /api/v1/bookmark`). Listed and searched here, drawn on the timeline
(app.recordings.timeline), and while one exists retention leaves the file of every record it
falls in (app.recordings.storage looks them up with `covered_records`).

Every bound is checked here, so the API and the GUI obey the same ones: a moment between
`EARLIEST` and a day from now (a year-9999 moment once made an export answer 500), a title
and a note without control characters (a note may hold line breaks and tabs), at most
`max_bookmarks_per_source` per source and `max_bookmarks` in all (settings), and searches
answer at most `limit` bookmarks."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from sqlalchemy import func, or_
from sqlmodel import Session, select

from app.alarms.event_service import EventService
from app.catalog import CATALOG_ERRORS, Catalog
from app.catalog_rows import get_source
from app.errors import Conflict, InvalidInput, NotFound
from app.events import CatalogChanged, EventSink
from app.models import Bookmark, Record
from app.schemas import BookmarkIn, BookmarkOut, RecordStatus, iso_utc, utc

log = logging.getLogger(__name__)

SEARCH_LIMIT = 5000  # a search answers at most this many, newest first
AROUND_S = 30.0  # "around a bookmark": this long before it to this long after (GUI and API)
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)  # no camera footage is older
AHEAD = timedelta(days=1)  # a moment may lie this far ahead of the station's clock (clocks differ)
DEFAULT_MAX_PER_SOURCE = 1000
DEFAULT_MAX_TOTAL = 10_000
# Control characters refused in a title; a note may hold line breaks and tabs.
TITLE_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
NOTE_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def as_utc(value: datetime, field: str) -> datetime:
    """`value` in UTC, or an InvalidInput on `field` when it has none (year 1 at +01:00)."""
    try:
        return utc(value)
    except (OverflowError, ValueError):
        raise InvalidInput("the moment is out of range", field=field) from None


def check_moment(value: datetime, field: str = "time_utc") -> datetime:
    """A bookmark's moment in UTC, between `EARLIEST` and a day from now."""
    moment = as_utc(value, field)
    latest = datetime.now(timezone.utc) + AHEAD
    if not EARLIEST <= moment <= latest:
        raise InvalidInput(f"must lie between {EARLIEST:%Y-%m-%d} and a day from now",
                           field=field)
    return moment


def check_text(data: BookmarkIn) -> None:
    """No control characters in the title; none but line breaks and tabs in the note."""
    if data.title and TITLE_CONTROL.search(data.title):
        raise InvalidInput("may not contain control characters", field="title")
    if data.note and NOTE_CONTROL.search(data.note):
        raise InvalidInput("may not contain control characters but line breaks and tabs",
                           field="note")


def bookmark_out(row: Bookmark) -> BookmarkOut:
    return BookmarkOut(id=row.id, created_utc=iso_utc(utc(row.created_utc)),
                       source_id=row.source_id, source_name=row.source_name,
                       time_utc=iso_utc(utc(row.time_utc)), title=row.title, note=row.note)


def _like(text: str) -> str:
    """`text` as a LIKE pattern matching it anywhere, its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class BookmarkService:
    def __init__(self, catalog: Catalog, bus: EventSink,
                 settings: Callable[[], Any] | None = None,
                 events: EventService | None = None):
        """`settings`: the station's live settings (`max_bookmarks_per_source`,
        `max_bookmarks`); the defaults without them. `events`: where a new bookmark is
        raised as a `bookmark` event (app.alarms)."""
        self.catalog, self.bus, self.settings, self.events = catalog, bus, settings, events

    def _limits(self) -> tuple[int, int]:
        """(per source, in all) from the live settings."""
        current = self.settings() if self.settings is not None else None
        if current is None:
            return DEFAULT_MAX_PER_SOURCE, DEFAULT_MAX_TOTAL
        return current.max_bookmarks_per_source, current.max_bookmarks

    def _check_room(self, s: Session, source_id: int, *, moved: bool = False) -> None:
        """One more bookmark of `source_id` fits under both caps (the per-source one only
        for a bookmark `moved` from another source), else an InvalidInput naming the setting."""
        per_source, total = self._limits()
        count = func.count(Bookmark.id)
        if s.exec(select(count).where(Bookmark.source_id == source_id)).one() >= per_source:
            raise InvalidInput(f"this source has {per_source} bookmarks already "
                               f"(max_bookmarks_per_source): delete one first",
                               field="max_bookmarks_per_source")
        if not moved and s.exec(select(count)).one() >= total:
            raise InvalidInput(f"the catalog holds {total} bookmarks already (max_bookmarks): "
                               "delete one first", field="max_bookmarks")

    def create(self, data: BookmarkIn) -> BookmarkOut:
        """A bookmark needs its source (which must exist), its moment and a title."""
        for name in ("source_id", "time_utc", "title"):
            if getattr(data, name) is None:
                raise InvalidInput("Field required", field=name, kind="missing")
        moment = check_moment(data.time_utc)
        check_text(data)
        with self.catalog.session() as s:
            source = get_source(s, data.source_id)
            self._check_room(s, source.id)
            row = Bookmark(source_id=source.id, source_name=source.name,
                           time_utc=moment, title=data.title, note=data.note or None)
            s.add(row)
            s.flush()
            s.refresh(row)
            out = bookmark_out(row)
        self.bus.publish(CatalogChanged("bookmark", out.id, "created"))
        self._raise_event(out)
        return out

    def _raise_event(self, out: BookmarkOut) -> None:
        """The `bookmark` event of a new bookmark; the bookmark stands when the catalog
        cannot take the event (logged, not raised)."""
        if self.events is None:
            return
        try:
            self.events.instant("bookmark", source_id=out.source_id,
                                text=f"{out.source_name}: bookmark {out.title}",
                                data={"bookmark_id": out.id, "time_utc": out.time_utc})
        except CATALOG_ERRORS as exc:
            log.warning("bookmark %s: its event could not be written (%s)", out.id,
                        str(exc).splitlines()[0][:200])

    def get(self, bookmark_id: int) -> BookmarkOut:
        with self.catalog.session() as s:
            return bookmark_out(self._row(s, bookmark_id))

    def update(self, bookmark_id: int, data: BookmarkIn) -> BookmarkOut:
        """Only the fields sent change; a new source must exist (its name is taken again)."""
        sent = data.model_fields_set
        moment = check_moment(data.time_utc) if data.time_utc is not None else None
        check_text(data)
        with self.catalog.session() as s:
            row = self._row(s, bookmark_id)
            for name in ("source_id", "time_utc", "title"):
                if name in sent and getattr(data, name) is None:
                    raise InvalidInput("may not be null", field=name)
            if "source_id" in sent:
                source = get_source(s, data.source_id)
                if source.id != row.source_id:
                    self._check_room(s, source.id, moved=True)
                row.source_id, row.source_name = source.id, source.name
            if "time_utc" in sent:
                row.time_utc = moment
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
            stmt = stmt.where(Bookmark.time_utc >= as_utc(begin, "begin"))
        if end is not None:
            stmt = stmt.where(Bookmark.time_utc < as_utc(end, "end"))
        if text:
            pattern = _like(text.lower())
            stmt = stmt.where(or_(Bookmark.title.ilike(pattern, escape="\\"),
                                  Bookmark.note.ilike(pattern, escape="\\")))
        with self.catalog.session() as s:
            return [bookmark_out(r) for r in s.exec(stmt).all()]

    def range_around(self, bookmark_id: int, before_s: float = AROUND_S,
                     after_s: float = AROUND_S) -> tuple[int, datetime, datetime]:
        """(source id, begin, end): the moment of the bookmark with `before_s` seconds before
        it and `after_s` after, for an export. Conflict when its source is gone.

        The one place "around a bookmark" is decided: the GUI's menus (timeline and bookmark
        list) and `GET /api/v1/bookmark/{id}/export` all ask it, with `AROUND_S` either side
        unless the API's caller names other bounds."""
        with self.catalog.session() as s:
            row = self._row(s, bookmark_id)
            if row.source_id is None:
                raise Conflict(f"the source of bookmark {bookmark_id} ({row.source_name}) was "
                               "deleted", field="bookmark_id")
            moment = utc(row.time_utc)
        try:  # a moment near year 1 or 9999 (written before the bounds, or by another station)
            return (row.source_id, moment - timedelta(seconds=before_s),
                    moment + timedelta(seconds=after_s))
        except OverflowError:
            raise InvalidInput(f"bookmark {bookmark_id} lies too close to the end of the "
                               "calendar to export around it", field="bookmark_id") from None

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
