"""The timeline of a source over a time range: what was recorded (records, with their tag,
status and whether retention keeps them), the outages inside the files (`record.gaps`), the
bookmarks, the source's events (app.alarms: camera lost, motion, recordings that failed ...)
and "now". One catalog read per call (and one for the events, asked of the event service, the
one reader of events, so the timeline and `GET /api/v1/event` select them by the same rule): `GET /api/v1/source/{id}/timeline` and the
Recordings tab's timeline (ui.recordings.timeline) both draw from it.

Every record of the shared catalog is listed, whichever station's disk holds it (`station`
says which), with whether it has footage to play (`has_footage`, decided in app.dto for
every front end); playing it is the front end's business (the GUI reads another station's
file through its owner's API)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import or_
from sqlmodel import func, select

from app.alarms.event_service import EventService
from app.catalog import Catalog
from app.catalog_rows import get_source
from app.dto import has_footage
from app.models import Bookmark, Record, Tag, utcnow
from app.recordings.bookmarks import bookmark_out, covered_records
from app.schemas import BookmarkOut, EventOut, RecordStatus, check_range, iso_utc, utc

MAX_RANGE = timedelta(days=62)  # a month and then some: the widest view the GUI draws
MAX_RECORDS = 20000             # a range holding more is answered with its first ones
MAX_BOOKMARKS = 500             # bookmarks in one answer: the first ones in time order
MAX_BOOKMARK_TEXT = 1 << 20     # and at most this many bytes of their titles and notes
MAX_EVENTS = 500                # events in one answer: the newest ones of the range


class RecordSpan(BaseModel):
    id: str
    tag_name: str | None
    status: RecordStatus
    begin_utc: str
    end_utc: str = Field(description="its end; \"now\" while it records")
    protected: bool = Field(description="retention keeps its file: protected by an operator "
                                        "or holding a bookmark")
    location: str | None = Field(description="the file, on the disk of `station`")
    station: str | None = Field(description="the station whose disk holds the file")
    has_footage: bool = Field(description="it has a file to play (app.dto.has_footage): "
                                          "an interrupted record plays too")


class GapSpan(BaseModel):
    record_id: str
    begin_utc: str = Field(description="the last packet before the outage")
    end_utc: str = Field(description="the first packet after it")


class TimelineOut(BaseModel):
    source_id: int
    source_name: str
    begin_utc: str
    end_utc: str
    now_utc: str
    records: list[RecordSpan] = Field(description="records overlapping the range, oldest first")
    gaps: list[GapSpan] = Field(description="outages inside those records, oldest first")
    bookmarks: list[BookmarkOut] = Field(description="bookmarks of the source in the range")
    truncated: bool = Field(False, description=f"more than {MAX_RECORDS} records: the first ones")
    bookmarks_truncated: bool = Field(False, description=(
        f"more bookmarks in the range than one answer holds ({MAX_BOOKMARKS}, or "
        f"{MAX_BOOKMARK_TEXT >> 20} MiB of titles and notes): `bookmarks` has the first ones; "
        "ask again from after the last one (or use GET /api/v1/bookmark) for the rest"))
    events: list[EventOut] = Field(default_factory=list, description=(
        "the source's events overlapping the range (an open one lasts until now), oldest "
        f"first: the newest {MAX_EVENTS} of them"))
    events_truncated: bool = Field(False, description=(
        f"more than {MAX_EVENTS} events in the range: `events` has the newest; GET "
        "/api/v1/event pages through the rest"))


class TimelineService:
    def __init__(self, catalog: Catalog, events: EventService):
        self.catalog, self.events = catalog, events

    def spans(self, source_id: int, begin: datetime, end: datetime) -> TimelineOut:
        begin, end = check_range(begin, end, MAX_RANGE)
        now = utcnow()
        start = func.coalesce(Record.begin_utc, Record.created_utc)
        with self.catalog.session() as s:
            source = get_source(s, source_id)
            rows = s.exec(
                select(Record, Tag.name).join(Tag, Tag.id == Record.tag_id, isouter=True)
                .where(Record.source_id == source_id, start < end,
                       or_(Record.end_utc.is_(None), Record.end_utc > begin))
                .order_by(start, Record.id).limit(MAX_RECORDS + 1)).all()
            bookmarked = covered_records(s)
            marks = s.exec(select(Bookmark).where(
                Bookmark.source_id == source_id, Bookmark.time_utc >= begin,
                Bookmark.time_utc < end).order_by(Bookmark.time_utc, Bookmark.id)
                .limit(MAX_BOOKMARKS + 1)).all()
            bookmarks, marks_cut = _bounded(marks)
            name = source.name
        records, gaps = [], []
        for record, tag_name in rows[:MAX_RECORDS]:
            first = utc(record.begin_utc or record.created_utc)
            last = record.end_utc or (now if record.status == RecordStatus.recording else None)
            last = utc(last) if last is not None else first
            if last <= begin and record.end_utc is not None:
                continue
            records.append(RecordSpan(
                id=record.id, tag_name=tag_name, status=record.status,
                begin_utc=iso_utc(first), end_utc=iso_utc(last),
                protected=bool(record.protected) or record.id in bookmarked,
                location=record.location, station=record.station_id,
                has_footage=has_footage(record.status, record.location)))
            for gap in record.gaps or []:
                if gap.get("begin_utc", "") < iso_utc(end) and gap.get("end_utc", "") > iso_utc(begin):
                    gaps.append(GapSpan(record_id=record.id, begin_utc=gap["begin_utc"],
                                        end_utc=gap["end_utc"]))
        gaps.sort(key=lambda g: (g.begin_utc, g.record_id))
        events = self.events.list(source_id=source_id, begin=begin, end=end,
                                  limit=MAX_EVENTS + 1)  # newest first
        return TimelineOut(source_id=source_id, source_name=name, begin_utc=iso_utc(begin),
                           end_utc=iso_utc(end), now_utc=iso_utc(now), records=records, gaps=gaps,
                           bookmarks=bookmarks, truncated=len(rows) > MAX_RECORDS,
                           bookmarks_truncated=marks_cut, events=events[:MAX_EVENTS][::-1],
                           events_truncated=len(events) > MAX_EVENTS)


def _bounded(marks: list[Bookmark]) -> tuple[list[BookmarkOut], bool]:
    """The first bookmarks that fit one answer (`MAX_BOOKMARKS`, `MAX_BOOKMARK_TEXT`), and
    whether some were left out: thousands of long notes once made a 12.8 MB answer."""
    shown, text = [], 0
    for mark in marks[:MAX_BOOKMARKS]:
        text += len(mark.title.encode()) + len((mark.note or "").encode())
        if text > MAX_BOOKMARK_TEXT:
            return shown, True
        shown.append(bookmark_out(mark))
    return shown, len(marks) > MAX_BOOKMARKS
