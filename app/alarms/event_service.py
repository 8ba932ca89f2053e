"""`EventService`: the one writer and reader of the catalog's events (#23 item 3).

Every part of the station that has something to tell an operator raises it here: the camera
watch (`camera_lost`, `camera_back`), the raiser that follows the bus (recordings, the disk,
retention), the bookmarks, the recording modes (`motion`). Every front end reads them here:
the native API's list, acknowledgement and live stream, `/metrics`, MQTT and the GUI, which
follow `EventChanged` on the bus for every open, close and acknowledgement.

The rules are decided here once: which kinds exist (`app.alarms.kinds`), what a text and a
`data` may hold (no control characters, bounded sizes), what a filter matches (`EventFilter`,
the same in the catalog's query and for a live event of a stream; `count` answers how many
match, so the status bar's count of waiting alarms is the catalog's, not the newest page's),
and the cursor: ids only
grow, lists are newest first, `after_id` answers the events right after the cursor (so a
client polling with the highest id it saw misses none) and `before_id` pages back.

Each station writes its own sources' events with its `station_id`; lists show the site's.
A catalog that cannot be written raises its error here (`CATALOG_ERRORS`); the threads that
raise events by themselves (`raiser`, `camera_watch`) catch it, log once and go on, so an
unwritable catalog never stops a recording.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import select

from app.visibility import event_visible
from app.alarms.kinds import kind_of
from app.catalog import CATALOG_ERRORS, Catalog
from app.errors import InvalidInput, NotFound
from app.events import EventChanged, EventSink
from app.models import Source, StationEvent, utcnow
from app.schemas import EventOut, EventSeverity, iso_utc, utc

MAX_LIMIT = 1000  # events in one answer
DEFAULT_LIMIT = 100
MAX_TEXT = 1024
MAX_ACTOR = 128
MAX_DATA_BYTES = 4096  # a small JSON object: zones of a motion, a few record ids
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean_text(value: str | None, field: str, limit: int) -> str:
    """`value` without control characters (each becomes a space), stripped, at most `limit`
    characters; an InvalidInput on `field` when nothing is left."""
    text = CONTROL.sub(" ", value or "").strip()[:limit]
    if not text:
        raise InvalidInput("may not be empty", field=field)
    return text


def check_data(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """A JSON object of at most `MAX_DATA_BYTES`, else an InvalidInput on `data`."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise InvalidInput("must be a JSON object", field="data")
    try:
        size = len(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError):
        raise InvalidInput("must be plain JSON (strings, numbers, lists, objects)",
                           field="data") from None
    if size > MAX_DATA_BYTES:
        raise InvalidInput(f"may hold {MAX_DATA_BYTES} bytes of JSON at most", field="data")
    return data


def event_out(row: StationEvent) -> EventOut:
    return EventOut(
        id=row.id, kind=row.kind, source_id=row.source_id, station_id=row.station_id,
        begin=iso_utc(utc(row.begin)), end=iso_utc(utc(row.end)) if row.end else None,
        severity=row.severity, text=row.text, caused_by=row.caused_by,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=iso_utc(utc(row.acknowledged_at)) if row.acknowledged_at else None,
        data=row.data)


@dataclass(frozen=True)
class EventFilter:
    """What a list, an acknowledge-all and a live stream select; every field given must
    match. `begin`/`end`: the event overlaps [begin, end) (an open one lasts until now)."""

    source_id: int | None = None
    kind: str | None = None
    begin: datetime | None = None
    end: datetime | None = None
    open: bool | None = None
    unacknowledged: bool | None = None
    severity: EventSeverity | None = None  # exactly this one (an operator's alarms: `alarm`)
    # A user's scope (app.accounts.scope): events of these sources and station-wide ones
    # (no source); None: every event.
    sources: frozenset[int] | None = None

    def __post_init__(self) -> None:
        if self.kind is not None:
            kind_of(self.kind)
        if self.severity is not None:
            try:
                object.__setattr__(self, "severity", EventSeverity(self.severity))
            except ValueError:
                raise InvalidInput("one of info, warning, alarm", field="severity") from None
        if self.begin is not None and self.end is not None and utc(self.end) <= utc(self.begin):
            raise InvalidInput("end must be after begin", field="end")

    def clauses(self) -> list:
        """The filter as the catalog's WHERE clauses."""
        where = []
        if self.source_id is not None:
            where.append(StationEvent.source_id == self.source_id)
        if self.kind is not None:
            where.append(StationEvent.kind == self.kind)
        if self.end is not None:
            where.append(StationEvent.begin < utc(self.end))
        if self.begin is not None:
            where.append(or_(StationEvent.end.is_(None), StationEvent.end >= utc(self.begin)))
        if self.open is not None:
            where.append(StationEvent.end.is_(None) if self.open
                         else StationEvent.end.is_not(None))
        if self.unacknowledged is not None:
            where.append(StationEvent.acknowledged_at.is_(None) if self.unacknowledged
                         else StationEvent.acknowledged_at.is_not(None))
        if self.severity is not None:
            where.append(StationEvent.severity == self.severity)
        if self.sources is not None:
            where.append(or_(StationEvent.source_id.is_(None),  # type: ignore[union-attr]
                             StationEvent.source_id.in_(sorted(self.sources))))  # type: ignore[union-attr]
        return where

    def matches(self, event: EventOut) -> bool:
        """The same filter on an event as front ends see it (a live stream's events)."""
        if self.source_id is not None and event.source_id != self.source_id:
            return False
        if self.kind is not None and event.kind != self.kind:
            return False
        begin, end = _parse(event.begin), _parse(event.end)
        if self.end is not None and begin >= utc(self.end):
            return False
        if self.begin is not None and end is not None and end < utc(self.begin):
            return False
        if self.open is not None and (event.end is None) != self.open:
            return False
        if self.unacknowledged is not None \
                and (event.acknowledged_at is None) != self.unacknowledged:
            return False
        if self.severity is not None and event.severity != self.severity:
            return False
        return event_visible(event.source_id, self.sources)


def _parse(value: str | None) -> datetime | None:
    return utc(datetime.fromisoformat(value.replace("Z", "+00:00"))) if value else None


class EventService:
    def __init__(self, catalog: Catalog, bus: EventSink, *, station_id: str | None):
        self.catalog, self.bus, self.station_id = catalog, bus, station_id
        # Events this station raised since it started, by kind (GET /metrics' counter).
        self.raised_by_kind: Counter[str] = Counter()
        # This station's open alarms, by id (GET /metrics' gauge, read without a query): a
        # station's open alarms left by a stop are closed at its next start (camera_watch).
        self._open_alarms: set[int] = set()
        self._counts = threading.Lock()

    # --- raising ---------------------------------------------------------------------------
    def open(self, kind: str, *, source_id: int | None, severity: EventSeverity | str | None = None,
             text: str, caused_by: str | None = None,
             data: dict[str, Any] | None = None, begin: datetime | None = None) -> EventOut:
        """A lasting event begins now, or at `begin` when what it is about began before it
        was known (a motion counts only once it lasted its make time): closed by `close` or
        `close_open`. `severity`: the kind's own when not given."""
        return self._add(kind, source_id=source_id, severity=severity, text=text,
                         caused_by=caused_by, data=data, instant=False, begin=begin)

    def instant(self, kind: str, *, source_id: int | None = None,
                severity: EventSeverity | str | None = None, text: str,
                caused_by: str | None = None, data: dict[str, Any] | None = None) -> EventOut:
        """An event of a moment: it begins and ends now."""
        return self._add(kind, source_id=source_id, severity=severity, text=text,
                         caused_by=caused_by, data=data, instant=True)

    def _add(self, kind: str, *, source_id: int | None, severity, text: str,
             caused_by: str | None, data: dict[str, Any] | None, instant: bool,
             begin: datetime | None = None) -> EventOut:
        known = kind_of(kind)
        try:
            level = EventSeverity(severity) if severity is not None else known.severity
        except ValueError:
            raise InvalidInput("one of info, warning, alarm", field="severity") from None
        now = utcnow()
        row = StationEvent(
            kind=known.name, source_id=source_id, station_id=self.station_id,
            begin=min(begin, now) if begin is not None and not instant else now,
            end=now if instant else None, severity=level,
            text=clean_text(text, "text", MAX_TEXT),
            caused_by=clean_text(caused_by, "caused_by", MAX_ACTOR) if caused_by else None,
            data=check_data(data))
        with self.catalog.session() as s:
            s.add(row)
            s.flush()
            s.refresh(row)
            out = event_out(row)
        with self._counts:
            self.raised_by_kind[out.kind] += 1
            if out.end is None and out.severity == EventSeverity.alarm:
                self._open_alarms.add(out.id)
        self.bus.publish(EventChanged(out, "opened"))
        return out

    # --- closing ---------------------------------------------------------------------------
    def close(self, event_id: int, data: dict[str, Any] | None = None,
              end: datetime | None = None) -> EventOut:
        """The event ends now, or at `end` when its end is known only later (a motion ends at
        its last moving picture, seen as the end only seconds after); an event closed already
        stays as it is. `data`, when given, replaces its details with what is known at its
        end (the zones a motion touched)."""
        with self.catalog.session() as s:
            row = self._row(s, event_id)
            changed = row.end is None
            if changed:
                now = utcnow()
                row.end = now if end is None else max(min(end, now), utc(row.begin))
                if data is not None:
                    row.data = check_data(data)
                s.add(row)
            out = event_out(row)
        self._closed([out.id])
        if changed:
            self.bus.publish(EventChanged(out, "closed"))
        return out

    def close_open(self, kind: str, source_id: int | None) -> list[EventOut]:
        """Close this station's open events of `kind` of the source (none: none open)."""
        kind_of(kind)
        stmt = select(StationEvent).where(
            StationEvent.kind == kind, StationEvent.end.is_(None),
            StationEvent.source_id == source_id if source_id is not None
            else StationEvent.source_id.is_(None), self._own())
        now = utcnow()
        with self.catalog.session() as s:
            rows = s.exec(stmt).all()
            for row in rows:
                row.end = now
                s.add(row)
            closed = [event_out(r) for r in rows]
        self._closed([out.id for out in closed])
        for out in closed:
            self.bus.publish(EventChanged(out, "closed"))
        return closed

    def _closed(self, ids: list[int]) -> None:
        with self._counts:
            self._open_alarms.difference_update(ids)

    def _own(self):
        return (StationEvent.station_id == self.station_id if self.station_id is not None
                else StationEvent.station_id.is_(None))

    # --- acknowledging -----------------------------------------------------------------
    def acknowledge(self, event_id: int, actor: str) -> EventOut:
        """`actor` (a user, a client's id) has seen the event; the first acknowledgement
        stays."""
        who = clean_text(actor, "actor", MAX_ACTOR)
        with self.catalog.session() as s:
            row = self._row(s, event_id)
            changed = row.acknowledged_at is None
            if changed:
                row.acknowledged_by, row.acknowledged_at = who, utcnow()
                s.add(row)
            out = event_out(row)
        if changed:
            self.bus.publish(EventChanged(out, "acknowledged"))
        return out

    def acknowledge_all(self, actor: str, **filters: Any) -> int:
        """Acknowledge every unacknowledged event the filters (as `list`'s) select; how many."""
        who = clean_text(actor, "actor", MAX_ACTOR)
        chosen = EventFilter(**{**filters, "unacknowledged": True})
        now = utcnow()
        with self.catalog.session() as s:
            ids = list(s.exec(select(StationEvent.id).where(*chosen.clauses())).all())
            for start in range(0, len(ids), 500):
                s.exec(update(StationEvent)
                       .where(StationEvent.id.in_(ids[start:start + 500]),
                              StationEvent.acknowledged_at.is_(None))
                       .values(acknowledged_by=who, acknowledged_at=now))
            rows = [s.get(StationEvent, i) for i in ids[-MAX_LIMIT:]]
            done = [event_out(r) for r in rows if r is not None]
        for out in done:  # the newest ones: a panel reloads on the first anyway
            self.bus.publish(EventChanged(out, "acknowledged"))
        return len(ids)

    # --- reading ---------------------------------------------------------------------------
    def list(self, source_id: int | None = None, kind: str | None = None,
             begin: datetime | None = None, end: datetime | None = None,
             open: bool | None = None, unacknowledged: bool | None = None,
             after_id: int | None = None, limit: int = DEFAULT_LIMIT, *,
             before_id: int | None = None,
             severity: EventSeverity | str | None = None,
             sources: frozenset[int] | None = None) -> list[EventOut]:
        """The site's events that match every filter given, newest first, at most `limit`.
        `after_id`: the `limit` events right after that id (a poller's cursor: none is
        skipped); `before_id`: the ones before it (paging back)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"between 1 and {MAX_LIMIT}", field="limit")
        chosen = EventFilter(source_id=source_id, kind=kind, begin=begin, end=end, open=open,
                             unacknowledged=unacknowledged, severity=severity, sources=sources)
        stmt = select(StationEvent).where(*chosen.clauses())
        if before_id is not None:
            stmt = stmt.where(StationEvent.id < before_id)
        if after_id is not None:
            stmt = stmt.where(StationEvent.id > after_id).order_by(StationEvent.id).limit(limit)
        else:
            stmt = stmt.order_by(StationEvent.id.desc()).limit(limit)
        with self.catalog.session() as s:
            rows = s.exec(stmt).all()
        out = [event_out(r) for r in rows]
        return out[::-1] if after_id is not None else out

    def count(self, **filters: Any) -> int:
        """How many of the site's events the filters (as `list`'s, without the cursor)
        select: one query, however many there are (the status bar's unacknowledged alarms
        stay right behind thousands of newer info events)."""
        chosen = EventFilter(**filters)
        stmt = select(func.count()).select_from(StationEvent).where(*chosen.clauses())
        with self.catalog.session() as s:
            return int(s.exec(stmt).one())

    def get(self, event_id: int) -> EventOut:
        with self.catalog.session() as s:
            return event_out(self._row(s, event_id))

    def source_label(self, source_id: int) -> str:
        """How an event's text names a source: its name, `source <id>` when it cannot be read."""
        try:
            with self.catalog.session() as s:
                row = s.get(Source, source_id)
                return row.name if row is not None else f"source {source_id}"
        except CATALOG_ERRORS:
            return f"source {source_id}"

    def open_alarms(self) -> int:
        """The events of severity `alarm` this station opened and has not closed yet (GET
        /metrics' gauge), from memory."""
        with self._counts:
            return len(self._open_alarms)

    def raised_counts(self) -> dict[str, int]:
        with self._counts:
            return dict(self.raised_by_kind)

    @staticmethod
    def _row(session, event_id: int) -> StationEvent:
        row = session.get(StationEvent, event_id)
        if row is None:
            raise NotFound("event", event_id, field="event_id")
        return row
