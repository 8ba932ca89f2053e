"""The records' store: the one place a record's true state is written and read back.

Every part of `RecordingService` that changes a record (a start, a stop, a rollover, a
deletion) does it through this store, under its one `lock`, and every read lays what the
catalog could not take yet (`RecordOverlay`) over what the catalog answers. So the store owns
the three things the parts used to share by reaching into each other: the lock that
serialises start and stop, the overlay, and the save that falls back to it. It also keeps
this station's running records in memory (`live`, for when the catalog's server is away)
and knows which station it is (`station_id`) and how a source's status is found
(`status_of`), both set by the composition once the site is known.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import Callable, Iterable

from sqlmodel import select

from app.catalog import CATALOG_ERRORS, Catalog
from app.dto import record_out, record_out_of
from app.errors import NotFound, StorageFull
from app.events import Event, EventSink
from app.models import Record, Tag
from app.recordings.live_rows import LiveRows
from app.recordings.record_overlay import RecordOverlay, copy_row
from app.schemas import RecordOut, RecordStatus
from app.site.stations import is_own


class RecordStore:
    def __init__(self, catalog: Catalog, *, status_of: Callable[[int], tuple[str, str | None]],
                 station_id: str | None = None, retry_s: float = 1.0):
        self.catalog = catalog
        # One writer of record changes at a time: start and stop, rollovers, deletions.
        self.lock = threading.RLock()
        self.live = LiveRows()  # this station's running records, for when the catalog is away
        # Several stations on one catalog (app.site.stations): this one's id, and how a
        # source's status is found wherever it is read; a station alone keeps the defaults.
        self.station_id = station_id
        self.status_of = status_of
        self._overlay = RecordOverlay(catalog, retry_s=retry_s)

    # --- writing -----------------------------------------------------------------------
    def unit(self, supersedes: Iterable[str] = ()) -> AbstractContextManager:
        """A unit of work on records that first writes what waits in memory
        (`RecordOverlay.unit`)."""
        return self._overlay.unit(supersedes)

    def save(self, rows: list[Record]) -> bool:
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

    def commit(self, rows: list[Record]) -> None:
        """An operator's change: committed, or refused (507) when the catalog cannot take
        it; nothing is changed then, so nothing needs keeping."""
        try:
            with self._overlay.unit(supersedes=[r.id for r in rows]) as s:
                for row in rows:
                    s.merge(copy_row(row))
        except CATALOG_ERRORS as exc:
            text = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise StorageFull(f"the catalog cannot be written ({text}): nothing changed") from exc

    def pending_ids(self) -> list[str]:
        """Records whose true state waits in memory for the catalog."""
        return self._overlay.ids()

    def close(self, timeout: float = 5.0) -> list[str]:
        """Write what waits in memory, for up to `timeout` seconds; the ids left unwritten."""
        return self._overlay.close(timeout)

    # --- reading the true state ----------------------------------------------------------
    def has_pending(self) -> bool:
        """Something waits in memory (reads must then lay it over the catalog's answer)."""
        return bool(self._overlay)

    def lay_over(self, rows: Iterable[Record], keep: Callable[[Record], bool]) -> list[Record]:
        """The catalog's answer to a query with the true state laid over
        (`RecordOverlay.lay_over`)."""
        return self._overlay.lay_over(rows, keep)

    def row(self, session, record_id: str) -> Record:
        """The record as it truly stands (NotFound if there is none)."""
        row = self._overlay.get(record_id) or session.get(Record, record_id)
        if row is None:
            raise NotFound("record", record_id, field="record_id")
        return row

    def current(self, record_id: str) -> tuple[Record, str]:
        """The record's true state (a copy) and its tag's name: from the catalog with what
        waits in the overlay laid over it, or, when the catalog's server is away, from the
        overlay or this station's own memory of its running records."""
        try:
            with self.catalog.session() as s:
                row = copy_row(self.row(s, record_id))
                tag = s.get(Tag, row.tag_id)
                return row, tag.name if tag else ""
        except CATALOG_ERRORS:
            kept = self._overlay.get(record_id)
            if kept is not None:
                return kept, self.live.tag_of(record_id)
            known = self.live.get(record_id)
            if known is None:
                raise
            return known

    def running_rows(self, session, tag_id: int | None = None, *,
                     mine: bool = False) -> list[Record]:
        """What records now, on every station of the site (`mine`: on this one only)."""
        stmt = select(Record).where(Record.status == RecordStatus.recording)
        if tag_id is not None:
            stmt = stmt.where(Record.tag_id == tag_id)
        rows = self._overlay.lay_over(
            session.exec(stmt).all(),
            lambda r: r.status == RecordStatus.recording and (tag_id is None or r.tag_id == tag_id))
        return [r for r in rows if self.is_mine(r)] if mine else rows

    def is_mine(self, row: Record) -> bool:
        """The record's file is on this station's disk (its recorder writes it)."""
        return is_own(row.station_id, self.station_id)

    def out(self, session, row: Record) -> RecordOut:
        """The record as front ends see it."""
        return record_out(session, row, self.status_of)

    def out_anyway(self, row: Record, tag_name: str) -> RecordOut:
        """The record as front ends see it; without its source's details when the catalog
        cannot be read now (the caller acts on it all the same)."""
        try:
            with self.catalog.session() as s:
                return self.out(s, row)
        except CATALOG_ERRORS:
            return record_out_of(row, None, tag_name)


def publish_outside_lock(bus: EventSink, events: list[Event]) -> None:
    """Publish what a change of records collected, once the store's lock is released: a
    subscriber runs on this thread and may hand the event to another that calls the
    service (or wait for one that does) without deadlocking."""
    for event in events:
        bus.publish(event)
