"""Stored motion grids (#28): what moved where, second by second, kept in the catalog so that
a search over weeks reads a few kilobytes per busy minute and never decodes a frame.

The analyser threads hand their changed masks in (`add`, a few µs: the mask becomes a
GRID_ROWS x GRID_COLS grid and is ORed into its second of its minute, in memory). A writer
thread of its own stores each minute once it is over (`motion_minute`: one row per source and
minute with motion, app.models.MotionMinute), so an analyser never waits on the catalog; a
catalog that cannot be written keeps the minutes in memory (up to MAX_PENDING) and the writer
tries again. A minute written twice (a flush mid-minute, a restart) is ORed with its row.

A row's `cells` are a format byte (1), the minute's cells that moved at all (the OR of its
seconds, 72 bytes as they are: a search skips a minute that never touched its region without
decompressing it), then the zlib of the grids of the seconds set in its `seconds` bitmap only,
packed 8 cells a byte in second order (72 bytes a second): a small moving blob makes about
200 bytes a minute, well under the 1 MB a camera-day budget (docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

import numpy as np
from sqlalchemy import delete, func, insert
from sqlmodel import select

from app.catalog import CATALOG_ERRORS, Catalog
from app.models import MotionMinute, Record, Source
from app.schemas import RecordStatus
from app.site.stations import owned_by
from vision.grid import cell_grid

log = logging.getLogger(__name__)

GRID_COLS, GRID_ROWS = 32, 18  # cells over the whole picture
CELLS = GRID_COLS * GRID_ROWS
CELL_BYTES = CELLS // 8        # one second's grid, packed
WRITE_AFTER_S = 2.0            # a minute is written this long after it ended (late pictures)
LOOK_S = 1.0                   # the writer's look at the finished minutes
MAX_PENDING = 20_000           # minutes kept in memory while the catalog refuses them
_SECOND_BITS = np.arange(60, dtype=np.int64)


@dataclass(frozen=True)
class StoredMinute:
    """One source's minute as stored: `seconds` (bit i: second i had motion) and the grids
    of those seconds, packed (`pack`)."""

    source_id: int
    minute_s: int
    seconds: int
    cells: bytes


FORMAT = b"\x01"               # cells: this byte, the minute's moved cells, the zlib
HEADER = len(FORMAT) + CELL_BYTES


def pack(grids: np.ndarray) -> tuple[int, bytes]:
    """(60, GRID_ROWS, GRID_COLS) bool → (the bitmap of the seconds with any cell set, the
    cells: FORMAT, the cells any second set, the zlib of those seconds' grids packed in
    second order)."""
    flat = grids.reshape(60, CELLS)
    busy = flat.any(axis=1)
    seconds = int((busy.astype(np.int64) << _SECOND_BITS).sum())
    union = np.packbits(flat.any(axis=0)).tobytes()
    return seconds, FORMAT + union + zlib.compress(np.packbits(flat[busy], axis=1).tobytes(), 6)


def moved(cells: bytes) -> bytes:
    """The minute's cells that moved at all, packed (72 bytes)."""
    return cells[1:HEADER]


def seconds_grids(cells: bytes) -> bytes:
    """The packed grids of the minute's busy seconds (72 bytes each, in second order)."""
    return zlib.decompress(cells[HEADER:])


def second_offsets(seconds: int) -> np.ndarray:
    """The seconds (0..59) set in a minute's bitmap, ascending."""
    return np.flatnonzero((np.int64(seconds) >> _SECOND_BITS) & 1)


def unpack(seconds: int, cells: bytes) -> np.ndarray:
    """A stored minute back to (60, GRID_ROWS, GRID_COLS) bool."""
    grids = np.zeros((60, CELLS), bool)
    packed = np.frombuffer(seconds_grids(cells), np.uint8).reshape(-1, CELL_BYTES)
    grids[second_offsets(seconds)] = np.unpackbits(packed, axis=1).astype(bool)
    return grids.reshape(60, GRID_ROWS, GRID_COLS)


class GridStore:
    """The motion grids of this station's analysers (module docstring). `station_id`: the
    station writing (a site's stations share the catalog; each writes its own sources')."""

    def __init__(self, catalog: Catalog, *, station_id: str | None,
                 clock: Callable[[], float] = time.time, look_s: float = LOOK_S):
        self._catalog, self._station_id = catalog, station_id
        self._clock, self._look_s = clock, look_s
        self._lock = threading.Lock()
        self._pending: dict[tuple[int, int], np.ndarray] = {}  # (source, minute_s) -> grids
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.written = 0   # minutes stored (tests wait on it)
        self.failed = 0    # writes the catalog refused (tried again)

    # --- the analysers' side (their threads; never the catalog) --------------------------
    def add(self, source_id: int, wall: float, changed: np.ndarray) -> None:
        """A picture's changed pixels (0/255 at analysis size, masks applied) at wall time
        `wall` (UTC seconds), ORed into its second's grid."""
        grid = cell_grid(changed, GRID_COLS, GRID_ROWS)
        if not grid.any():
            return
        whole = int(wall)
        key = (source_id, whole - whole % 60)
        with self._lock:
            grids = self._pending.get(key)
            if grids is None:
                if len(self._pending) >= MAX_PENDING:
                    return  # the catalog has refused for hours: the newest motion waits
                grids = self._pending[key] = np.zeros((60, GRID_ROWS, GRID_COLS), bool)
            grids[whole % 60] |= grid

    def pending(self, source_id: int, first_s: int, last_s: int) -> list[StoredMinute]:
        """The minutes of `source_id` in [first_s, last_s) not stored yet (a search of the
        last minutes sees them too)."""
        with self._lock:
            found = [(minute, grids.copy()) for (sid, minute), grids in self._pending.items()
                     if sid == source_id and first_s <= minute < last_s]
        return [StoredMinute(source_id, minute, *pack(grids)) for minute, grids in found]

    # --- the writer ------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="motion-grids", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the writer and store every minute still in memory (the current ones too)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stopping.wait(self._look_s):
            try:
                self.flush(self._clock() - 60.0 - WRITE_AFTER_S)
            except Exception:  # noqa: BLE001 - the writer must outlive one bad write
                log.exception("motion grids: a write failed")

    def flush(self, before_s: float | None = None) -> int:
        """Store the minutes that began before `before_s` (None: all of them, the current
        ones too); the number stored. Those the catalog refuses stay in memory."""
        with self._lock:
            keys = [k for k in self._pending if before_s is None or k[1] < before_s]
            taken = {k: self._pending.pop(k) for k in keys}
        if not taken:
            return 0
        minutes = [StoredMinute(sid, minute, *pack(grids)) for (sid, minute), grids
                   in sorted(taken.items())]
        try:
            self.merge(minutes)
        except CATALOG_ERRORS as exc:
            self.failed += 1
            log.warning("motion grids: %d minute(s) not stored yet (%s)", len(minutes),
                        str(exc).splitlines()[0][:200])
            with self._lock:
                for key, grids in taken.items():
                    grids |= self._pending.get(key, False)
                    self._pending[key] = grids
            return 0
        self.written += len(minutes)
        return len(minutes)

    def merge(self, minutes: Iterable[StoredMinute]) -> None:
        """Store minutes, ORed into a row already stored for the same source and minute."""
        minutes = list(minutes)
        with self._catalog.session() as s:
            for minute in minutes:
                row = s.get(MotionMinute, (minute.source_id, minute.minute_s))
                if row is None:
                    s.add(MotionMinute(source_id=minute.source_id, minute_s=minute.minute_s,
                                       station_id=self._station_id, seconds=minute.seconds,
                                       cells=minute.cells))
                    continue
                both = unpack(row.seconds, row.cells) | unpack(minute.seconds, minute.cells)
                row.seconds, row.cells = pack(both)
                s.add(row)

    def insert(self, minutes: Iterable[StoredMinute]) -> None:
        """Store minutes that are not stored yet, in one bulk insert (the benchmark writes a
        month this way; the writer merges)."""
        rows = [{"source_id": m.source_id, "minute_s": m.minute_s,
                 "station_id": self._station_id, "seconds": m.seconds, "cells": m.cells}
                for m in minutes]
        if rows:
            with self._catalog.session() as s:
                s.execute(insert(MotionMinute), rows)

    # --- reading -----------------------------------------------------------------------------
    def columns(self, source_id: int, first_s: int,
                last_s: int) -> tuple[np.ndarray, np.ndarray, list[bytes]]:
        """`read` as columns for a search of many minutes: (minute starts, seconds bitmaps,
        cells), in time order; no object per row (a month of 16 cameras is 100 000 rows)."""
        stmt = (select(MotionMinute.minute_s, MotionMinute.seconds, MotionMinute.cells)
                .where(MotionMinute.source_id == source_id, MotionMinute.minute_s >= first_s,
                       MotionMinute.minute_s < last_s)
                .order_by(MotionMinute.minute_s))
        with self._catalog.session() as s:
            rows = s.connection().execute(stmt).all()
        rows += [(m.minute_s, m.seconds, m.cells)
                 for m in self.pending(source_id, first_s, last_s)]
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), []
        starts, bitmaps, cells = zip(*rows)
        order = np.argsort(np.array(starts, np.int64), kind="stable")
        if np.any(np.diff(order) != 1):  # minutes still in memory fall among stored ones
            rows = [rows[i] for i in order]
            starts, bitmaps, cells = zip(*rows)
        return np.array(starts, np.int64), np.array(bitmaps, np.int64), list(cells)

    def read(self, source_id: int, first_s: int, last_s: int) -> list[StoredMinute]:
        """The source's minutes beginning in [first_s, last_s): stored (one indexed query)
        and still in memory, in time order."""
        with self._catalog.session() as s:
            rows = s.exec(select(MotionMinute.minute_s, MotionMinute.seconds, MotionMinute.cells)
                          .where(MotionMinute.source_id == source_id,
                                 MotionMinute.minute_s >= first_s,
                                 MotionMinute.minute_s < last_s)
                          .order_by(MotionMinute.minute_s)).all()
        stored = [StoredMinute(source_id, int(m), int(sec), bytes(c)) for m, sec, c in rows]
        fresh = self.pending(source_id, first_s, last_s)
        if not fresh:
            return stored
        return sorted(stored + fresh, key=lambda m: m.minute_s)

    # --- retention -----------------------------------------------------------------------
    def prune(self, retention_days: int, now: datetime | None = None) -> int:
        """Retention's one rule for grids (called by its pass, app.recordings.storage): a
        minute of this station's source goes once it is older than the source's days (its
        `retention_days`, else the station's; 0 keeps forever) and older than the oldest
        footage of the source still kept. Grids of time without footage so live their days;
        grids of footage kept longer (protected, a longer tag) live as long as it."""
        now = now or datetime.now(timezone.utc)
        with self._catalog.session() as s:
            sources = s.exec(select(Source.id, Source.retention_days)
                             .where(owned_by(Source.station_id, self._station_id))).all()
            oldest = dict(s.exec(
                select(Record.source_id,
                       func.min(func.coalesce(Record.begin_utc, Record.created_utc)))
                .where(Record.status != RecordStatus.deleted, Record.location.is_not(None),
                       Record.source_id.is_not(None))
                .group_by(Record.source_id)).all())
            removed = 0
            for source_id, own_days in sources:
                days = own_days if own_days is not None else retention_days
                if not days:
                    continue
                cutoff = now - timedelta(days=days)
                kept = oldest.get(source_id)
                if kept is not None:
                    kept = kept if kept.tzinfo else kept.replace(tzinfo=timezone.utc)
                    cutoff = min(cutoff, kept)
                # a minute goes once all of it is older than the cutoff
                result = s.execute(delete(MotionMinute).where(
                    MotionMinute.source_id == source_id,
                    MotionMinute.minute_s + 60 <= int(cutoff.timestamp())))
                removed += result.rowcount or 0
        if removed:
            log.info("retention: motion grids of %d minute(s) removed", removed)
        return removed
