"""Motion search (#28): "what moved in this part of the picture?" over days of footage,
answered from the stored grids (app.motion_search.grids) without decoding a frame.

`search` reads the busy minutes of each source in the range (one indexed query a source),
decompresses their packed grids into one (seconds, 72 bytes) array, ANDs it with the regions'
cells packed alike and counts the bits per second with a table: seconds with at least
`min_cells` changed cells in the regions are motion, seconds at most `merge_s` apart one hit.
Each hit carries the records whose footage overlaps it (the records service's own query), so a
client plays or exports it. `heatmap` sums the grids cell by cell.

Validation is here, for every front end (the GUI's drag, the API, a script): an InvalidInput
names the field, the native API answers 422. On a site another station's sources are searched
by their owner, as other reads are (one request per owner, side by side), since only the owner
holds the minutes it has not stored yet; a request another station passed here (`forwarded`)
is answered here. An owner that is offline or does not answer is no reason to fail: the
stations share the catalog, so its sources are then searched here from what it stored (all
but its last minute or two).
"""

from __future__ import annotations

import bisect
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Sequence

import numpy as np
from sqlmodel import select

from app.catalog import Catalog
from app.errors import InvalidInput, NotFound, StationError
from app.models import Source
from app.motion_search.grids import (
    CELL_BYTES, CELLS, GRID_COLS, GRID_ROWS, GridStore, moved, seconds_grids)
from app.schemas import RecordOut, iso_utc
from app.site.client import SiteClient
from app.site.stations import StationRegistry
from vision.grid import heatmap_png

log = logging.getLogger(__name__)
Region = tuple[float, float, float, float]  # x0, y0, x1, y1, normalised 0..1, x0<x1, y0<y1
MAX_RANGE = timedelta(days=366)
MAX_REGIONS = 16
MAX_SOURCES = 64
MAX_MERGE_S = 3600.0
_SECOND = np.arange(60, dtype=np.int64)
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint8)
RECORDS_PER_SOURCE = 20_000  # a year of hourly files, and some
# the records with footage overlapping a range, at most so many (RecordingService.overlapping)
RecordsOf = Callable[[list[int], datetime, datetime, int], list[RecordOut]]


@dataclass(frozen=True)
class MotionHit:
    source_id: int
    begin: datetime          # UTC, aware
    end: datetime            # UTC, aware (end > begin; a one-second hit lasts 1 s)
    peak: float              # 0..1: the largest share of the region's cells changed in one second
    record_ids: tuple        # ids of the records holding that footage


@dataclass(frozen=True)
class Heatmap:
    source_id: int
    cols: int
    rows: int
    counts: tuple[tuple[int, ...], ...]   # rows x cols: seconds each cell changed in the range


def region_cells(regions: Sequence[Region]) -> np.ndarray:
    """(GRID_ROWS, GRID_COLS) bool: the cells any of the regions covers a part of."""
    mask = np.zeros((GRID_ROWS, GRID_COLS), bool)
    for x0, y0, x1, y1 in regions:
        c0, c1 = int(math.floor(x0 * GRID_COLS)), int(math.ceil(x1 * GRID_COLS))
        r0, r1 = int(math.floor(y0 * GRID_ROWS)), int(math.ceil(y1 * GRID_ROWS))
        mask[min(r0, GRID_ROWS - 1):max(r1, r0 + 1), min(c0, GRID_COLS - 1):max(c1, c0 + 1)] = True
    return mask


def _utc(moment: datetime, field: str) -> datetime:
    if not isinstance(moment, datetime):
        raise InvalidInput("must be a date and time", field=field)
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None \
        else moment.astimezone(timezone.utc)


def check_range(begin: datetime, end: datetime) -> tuple[datetime, datetime]:
    try:
        begin, end = _utc(begin, "begin"), _utc(end, "end")
    except (OverflowError, ValueError):  # year 1 at +01:00 has no UTC
        raise InvalidInput("the range lies outside the calendar", field="begin") from None
    if end <= begin:
        raise InvalidInput("end must be after begin", field="end")
    if end - begin > MAX_RANGE:
        raise InvalidInput(f"the range may span {MAX_RANGE.days} days at most", field="end")
    return begin, end


def check_regions(regions: Sequence) -> list[Region]:
    """1..MAX_REGIONS rectangles of four finite numbers in [0, 1], x0 < x1 and y0 < y1."""
    if not isinstance(regions, (list, tuple)) or not 1 <= len(regions) <= MAX_REGIONS:
        raise InvalidInput(f"give 1 to {MAX_REGIONS} regions", field="region")
    checked = []
    for region in regions:
        try:
            values = tuple(float(v) for v in region)
        except (TypeError, ValueError):
            raise InvalidInput("a region is four numbers x0,y0,x1,y1", field="region") from None
        if len(values) != 4:
            raise InvalidInput("a region is four numbers x0,y0,x1,y1", field="region")
        if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
            raise InvalidInput("a region's values are finite numbers from 0 to 1 (a share of "
                               "the picture)", field="region")
        x0, y0, x1, y1 = values
        if not (x0 < x1 and y0 < y1):
            raise InvalidInput("a region needs x0 < x1 and y0 < y1", field="region")
        checked.append((x0, y0, x1, y1))
    return checked


class MotionSearchService:
    """Search and heat maps over the stored grids (module docstring). `records(source_ids,
    begin, end)`: the records with footage overlapping a range (RecordingService.overlapping)."""

    def __init__(self, catalog: Catalog, grids: GridStore, records: RecordsOf, *,
                 site: StationRegistry | None = None, peers: SiteClient | None = None):
        self._catalog, self._grids, self._records = catalog, grids, records
        self._site, self._peers = site, peers

    def _owners(self, sources: list[int], forwarded: bool) -> dict[str, list[int]]:
        """The sources another station owns, by owner (none when this station answers a
        forwarded request, or is alone)."""
        if forwarded or self._site is None or self._peers is None:
            return {}
        owners: dict[str, list[int]] = {}
        for source_id in sources:
            owner = self._site.owner(source_id)
            if owner is not None and not self._site.is_local(owner):
                owners.setdefault(owner, []).append(source_id)
        return owners

    def _online(self, owners: dict[str, list[int]]) -> dict[str, list[int]]:
        assert self._site is not None
        return {owner: ids for owner, ids in owners.items()
                if self._site.offline_reason(owner) is None}

    def _check_sources(self, source_ids: Sequence[int]) -> list[int]:
        if not isinstance(source_ids, (list, tuple)) or not 1 <= len(source_ids) <= MAX_SOURCES:
            raise InvalidInput(f"give 1 to {MAX_SOURCES} sources", field="source_id")
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in source_ids):
            raise InvalidInput("a source id is an integer", field="source_id")
        wanted = sorted(set(source_ids))
        for source_id in wanted:
            if not 0 < source_id < 2**63:  # (no database takes a bigger one as a parameter)
                raise NotFound("source", source_id, field="source_id")
        with self._catalog.session() as s:
            known = set(s.exec(select(Source.id).where(Source.id.in_(wanted))).all())
        for source_id in wanted:
            if source_id not in known:
                raise NotFound("source", source_id, field="source_id")
        return wanted

    def _seconds(self, source_id: int, begin: datetime, end: datetime, wanted: np.ndarray,
                 used: np.ndarray, min_cells: int) -> tuple[np.ndarray, np.ndarray]:
        """(UTC second of each busy second, (n, CELL_BYTES) packed grids) within [begin, end),
        of the minutes that moved in the regions."""
        first = int(begin.timestamp()) // 60 * 60
        starts, bitmaps, cells = self._grids.columns(source_id, first, math.ceil(end.timestamp()))
        return _busy_seconds(*_touching(starts, bitmaps, cells, wanted, used, min_cells),
                             begin, end)

    def search(self, source_ids: list[int], begin: datetime, end: datetime,
               regions: list[Region], *, min_cells: int = 1, merge_s: float = 5.0,
               forwarded: bool = False) -> list[MotionHit]:
        """The intervals with motion in the regions, sorted by (begin, source_id)."""
        begin, end = check_range(begin, end)
        checked = check_regions(regions)
        if isinstance(min_cells, bool) or not isinstance(min_cells, int) or min_cells < 1:
            raise InvalidInput("min_cells is a whole number from 1", field="min_cells")
        try:
            merge = float(merge_s)
        except (TypeError, ValueError):
            raise InvalidInput("merge_s is a number of seconds", field="merge_s") from None
        if not (math.isfinite(merge) and 0.0 <= merge <= MAX_MERGE_S):
            raise InvalidInput(f"merge_s is 0 to {MAX_MERGE_S:g} seconds", field="merge_s")
        sources = self._check_sources(source_ids)
        remote: list[MotionHit] = []
        asked = self._online(self._owners(sources, forwarded))
        if asked:
            query = {"begin": iso_utc(begin), "end": iso_utc(end), "min_cells": min_cells,
                     "region": [",".join(repr(v) for v in r) for r in checked],
                     "merge_s": f"{merge:g}"}
            answers, _ = self._peers.each({  # type: ignore[union-attr]
                owner: lambda owner, ids=ids: self._ask_owner(owner, {**query, "source_id": ids})
                for owner, ids in asked.items()})
            for owner, hits in answers:
                if hits is None:
                    continue  # searched here, from what the owner stored
                remote += hits
                sources = [sid for sid in sources if sid not in asked[owner]]
        mask = region_cells(checked)
        mask = region_cells(checked)
        wanted = np.packbits(mask.reshape(CELLS))
        used = np.flatnonzero(wanted)
        size = int(mask.sum())
        found: list[tuple[int, int, int, float]] = []  # (begin s, end s, source, peak)
        for source_id in sources:
            times, packed = self._seconds(source_id, begin, end, wanted, used, min_cells)
            if not len(times):
                continue
            # only the bytes holding the regions' cells (a door is a few of the 72)
            counts = _POPCOUNT[packed[:, used] & wanted[used]].sum(axis=1, dtype=np.int64)
            busy = counts >= min_cells
            times, counts = times[busy], counts[busy]
            if not len(times):
                continue
            # a new hit where the quiet gap since the last busy second is over merge_s
            firsts = np.concatenate([[0], np.flatnonzero(np.diff(times) - 1 > merge) + 1])
            lasts = np.concatenate([firsts[1:] - 1, [len(times) - 1]])
            peaks = np.maximum.reduceat(counts, firsts) / size
            found += zip(times[firsts].tolist(), (times[lasts] + 1).tolist(),
                         [source_id] * len(firsts), peaks.tolist())
        hits = self._with_records(found, sources, begin, end) + remote
        hits.sort(key=lambda hit: (hit.begin, hit.source_id))
        return hits

    def _ask_owner(self, owner: str, query: dict) -> tuple[str, list[MotionHit] | None]:
        """(owner, its hits), or (owner, None) when it refused or did not answer."""
        try:
            answer = self._peers.motion_search(owner, query)  # type: ignore[union-attr]
            return owner, [MotionHit(int(h["source_id"]), _parsed(h["begin"]), _parsed(h["end"]),
                                     float(h["peak"]), tuple(h["record_ids"])) for h in answer]
        except StationError as exc:
            log.warning("motion search: %s; its sources searched here", exc.message)
            return owner, None
        except (KeyError, TypeError, ValueError) as exc:  # an answer of another version
            log.warning("motion search: station %s answered what this version cannot read "
                        "(%s); its sources searched here", self._site.name_of(owner), exc)  # type: ignore
            return owner, None

    def _with_records(self, found: list[tuple[int, int, int, float]], sources: list[int],
                      begin: datetime, end: datetime) -> list[MotionHit]:
        """The hits with the ids of the records overlapping each: the records service asked
        once per source with hits, over the span of its hits; each hit then finds its own by
        bisection (a month of hourly files and thousands of hits stays milliseconds)."""
        spans: dict[int, tuple[list[float], list[tuple[float, float, str]], float]] = {}
        now = datetime.now(timezone.utc).timestamp()
        for source_id in sources:
            mine = [hit for hit in found if hit[2] == source_id]
            if not mine:
                continue
            first = datetime.fromtimestamp(mine[0][0], timezone.utc)
            last = datetime.fromtimestamp(max(hit[1] for hit in mine), timezone.utc)
            rows = []
            for record in self._records([source_id], max(begin, first), min(end, last),
                                        RECORDS_PER_SOURCE):
                start = _seconds_of(record.begin_utc or record.created_utc)
                stop = _seconds_of(record.end_utc) if record.end_utc else now
                rows.append((start, stop, record.id))
            rows.sort()
            spans[source_id] = ([row[0] for row in rows], rows,
                                max((b - a for a, b, _ in rows), default=0.0))
        hits = []
        for start, stop, source_id, peak in found:
            starts, rows, longest = spans.get(source_id, ([], [], 0.0))
            ids, j = [], bisect.bisect_left(starts, stop) - 1
            while j >= 0 and starts[j] >= start - longest:  # no record began earlier and reaches
                if rows[j][1] > start:
                    ids.append(rows[j][2])
                j -= 1
            hits.append(MotionHit(source_id, datetime.fromtimestamp(start, timezone.utc),
                                  datetime.fromtimestamp(stop, timezone.utc),
                                  round(min(1.0, peak), 4), tuple(reversed(ids))))
        return hits

    def heatmap(self, source_id: int, begin: datetime, end: datetime, *,
                forwarded: bool = False) -> Heatmap:
        """Seconds each cell changed in [begin, end)."""
        begin, end = check_range(begin, end)
        (source_id,) = self._check_sources([source_id])
        for owner in self._online(self._owners([source_id], forwarded)):
            try:
                answer = self._peers.motion_heatmap(owner, source_id, begin, end)  # type: ignore
                return Heatmap(source_id, int(answer["cols"]), int(answer["rows"]),
                               tuple(tuple(int(v) for v in row) for row in answer["counts"]))
            except StationError as exc:
                log.warning("motion heat map: %s; searched here", exc.message)
        totals = np.zeros((CELL_BYTES, 8), np.int64)  # byte, bit (the first cell the highest)
        first = int(begin.timestamp()) // 60 * 60
        starts, bitmaps, cells = self._grids.columns(source_id, first, math.ceil(end.timestamp()))
        for chunk in range(0, len(starts), 5000):  # ~200 000 seconds, 14 MB, at a time
            part = slice(chunk, chunk + 5000)
            _, packed = _busy_seconds(starts[part], bitmaps[part], cells[part], begin, end)
            for bit in range(8):  # each bit of every byte counted in place: no unpacking
                totals[:, bit] += ((packed >> (7 - bit)) & 1).sum(axis=0, dtype=np.int64)
        grid = totals.reshape(GRID_ROWS, GRID_COLS)
        return Heatmap(source_id, GRID_COLS, GRID_ROWS,
                       tuple(tuple(int(v) for v in row) for row in grid))


    def heatmap_png(self, source_id: int, begin: datetime, end: datetime, *,
                    forwarded: bool = False) -> bytes:
        """`heatmap` as a PNG to lay over the picture (vision.grid.heatmap_png)."""
        found = self.heatmap(source_id, begin, end, forwarded=forwarded)
        return heatmap_png(np.array(found.counts, np.int64))


def _touching(starts: np.ndarray, bitmaps: np.ndarray, cells: list[bytes], wanted: np.ndarray,
              used: np.ndarray, min_cells: int) -> tuple[np.ndarray, np.ndarray, list[bytes]]:
    """Only the minutes whose moved cells (each row's header) hold `min_cells` of the regions'
    cells: no second of another can, so it is never decompressed."""
    if not len(starts):
        return starts, bitmaps, cells
    heads = np.frombuffer(b"".join([moved(c) for c in cells]), np.uint8).reshape(-1, CELL_BYTES)
    touch = _POPCOUNT[heads[:, used] & wanted[used]].sum(axis=1, dtype=np.int64) >= min_cells
    if touch.all():
        return starts, bitmaps, cells
    return starts[touch], bitmaps[touch], [c for c, t in zip(cells, touch.tolist()) if t]


def _busy_seconds(starts: np.ndarray, bitmaps: np.ndarray, cells: list[bytes], begin: datetime,
                  end: datetime) -> tuple[np.ndarray, np.ndarray]:
    """Stored minutes as (UTC second of each busy second, (n, CELL_BYTES) packed grids) within
    [begin, end). Every row's busy seconds at once: row-major order is each row's seconds
    ascending, rows in time order, the order their grids were packed and are joined in."""
    if not len(starts):
        return np.zeros(0, np.int64), np.zeros((0, CELL_BYTES), np.uint8)
    busy = ((bitmaps[:, None] >> _SECOND) & 1).astype(bool)
    times = (starts[:, None] + _SECOND)[busy]
    packed = np.frombuffer(b"".join([seconds_grids(c) for c in cells]),
                           np.uint8).reshape(-1, CELL_BYTES)
    if len(times) != len(packed):
        raise ValueError("a stored motion minute's cells do not match its seconds")
    keep = (times >= math.floor(begin.timestamp())) & (times < end.timestamp())
    if keep.all():  # whole minutes: no copy of what may be hundreds of megabytes
        return times, packed
    return times[keep], packed[keep]


def _parsed(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(timezone.utc)


def _seconds_of(iso: str) -> float:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
