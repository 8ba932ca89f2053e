"""Exports: any time range of a source's footage as one MP4, several sources as a zip.

The footage of a range is cut from the records of the source that cover it, one after the
other, by stream copy (recorder/export.py: no decoding, an edit list so playback starts at
`begin`). Only files on this station's disk can be cut here; where a range's footage is, is
decided here once (`holder`): all of it on another station's disk, that station cuts it. The
native API streams such a request from it (api/native/export.py); the GUI's export
(`export_to`) has it fetched through the site client (app.site.client), so an operator and an
API client may export from any station of the site alike. A range split between stations, or
another station's footage in a zip of several sources, is refused with a `RemoteFootage`
naming the station.

Work files go to `<storage>/.exports/` and are removed once served (left-overs of a crash
on the next start): an export never leaves a copy of footage behind on the station. Range
and concurrent cuts are capped, because an export reads as fast as the disk allows. Each
export holds a lease of the work space (app.recordings.export_space) from before its cut until
its file has been sent or its reader gave up: room reserved against the disk floor from an
estimate made of the records' sizes, caps in all and per client, a stalled reader timed out,
and the storage guard taking the room back before it would touch footage.
"""

from __future__ import annotations

import logging
import threading
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from sqlmodel import select

from app.catalog import Catalog
from app.errors import Conflict, InvalidInput, NotFound, Unavailable
from app.files import safe_name
from app.models import Record, Source
from app.recordings.export_space import ExportLimits, Lease, WorkSpace
from app.recordings.record_queries import aware
from app.schemas import RecordStatus, check_range
from app.site.client import SiteClient
from recorder.export import CutResult, ExportCancelled, ExportError, Piece, cut

log = logging.getLogger(__name__)

MAX_RANGE = timedelta(hours=24)
MAX_CONCURRENT = 2
FETCH_CHUNK = 1 << 20  # bytes of another station's export written at a time
FETCH_TIMEOUT_S = 120.0  # the owner answers once its cut is done: a long range takes a while
OVERLAP_S = 0.5  # records of one source overlapping more than this are the same footage twice
# The estimate of an export's size: its records' bytes in proportion to the time taken of
# each, plus the keyframe group before `begin`, a margin for uneven bitrates and the header.
KEYFRAME_LEAD_S = 2.0
ESTIMATE_MARGIN = 1.1
ESTIMATE_OVERHEAD = 1 << 20
WITH_FILES = (RecordStatus.finished, RecordStatus.recording, RecordStatus.interrupted)

Fraction = Callable[[float], None]  # progress of the whole export, 0.0 → 1.0


class RemoteFootage(Conflict):
    """The range's footage lies on another station's disk (`station_id`)."""

    def __init__(self, source_id: int, station_id: str):
        super().__init__(f"the footage of source {source_id} in this range was recorded by "
                         f"station {station_id}: export it from that station", field="source_id")
        self.station_id = station_id


@dataclass(frozen=True)
class ExportFile:
    """A finished export: `path` is a work file the caller hands back (`ExportService.discard`)
    once it has been sent or its reader gave up; until then its lease holds the work space."""

    path: Path
    filename: str      # what to call it on the operator's side
    media_type: str    # video/mp4 or application/zip
    size_bytes: int
    lease: Lease | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Cut:
    """One source's MP4 as an export wrote it, with the footage it actually holds (what an
    evidence manifest states beside the range asked for): `begin`/`end` None when another
    station cut it (only the bytes came back)."""

    source_id: int
    path: Path
    begin: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class Parts:
    """An export in parts, reserved (`ExportService.reserve_parts`) and not cut yet."""

    source_ids: list[int]
    plans: list["_Plan"]
    begin: datetime
    end: datetime
    lease: Lease


@dataclass(frozen=True)
class _Plan:
    """What one source's export reads: its files, its records, the bytes it should take."""

    pieces: list[Piece]
    record_ids: frozenset[str]
    estimate: int
    owner: str | None = None  # another station that holds all of it and cuts it there


class ExportService:
    def __init__(self, catalog: Catalog, *, storage_dir: Path,
                 is_local: Callable[[str | None], bool],
                 max_range: timedelta = MAX_RANGE, max_concurrent: int = MAX_CONCURRENT,
                 limits: Callable[[], ExportLimits] = ExportLimits,
                 reserved_elsewhere: Callable[[], int] = lambda: 0,
                 site_client: SiteClient | None = None):
        """`limits`: the caps, the stall timeout and the disk floor, read for every export
        (the station's live settings); `reserved_elsewhere`: bytes unfinished uploads have
        reserved on the recordings' disk; `site_client`: how another station that holds a
        range's footage is asked to cut it (None: a station alone)."""
        self.catalog = catalog
        self.storage_dir = storage_dir
        self.work_dir = storage_dir / ".exports"
        self.is_local = is_local
        self.site_client = site_client
        self.max_range = max_range
        self.max_concurrent = max_concurrent
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self.space = WorkSpace(self.work_dir, storage_dir, limits, reserved_elsewhere)

    def start(self) -> None:
        """Times out stalled readers from now on."""
        self.space.start()

    def stop(self) -> None:
        """Cancels every export and removes the work files."""
        self.space.stop()

    # --- what covers a range ------------------------------------------------------------
    def _records(self, source_id: int, begin: datetime, end: datetime) -> list[Record]:
        """The source's records with a file overlapping [begin, end), earliest first; of
        records overlapping each other (two tags recording the source at once) the first."""
        with self.catalog.session() as s:
            if s.get(Source, source_id) is None:
                raise NotFound("source", source_id, field="source_id")
            rows = s.exec(select(Record).where(
                Record.source_id == source_id, Record.status.in_([str(w) for w in WITH_FILES]),
                Record.location.is_not(None), Record.begin_utc.is_not(None),
                Record.begin_utc < end).order_by(Record.begin_utc)).all()
        chosen: list[Record] = []
        last_end: datetime | None = None
        for row in rows:
            row_begin, row_end = aware(row.begin_utc), _end_of(row)
            if row_end <= begin:
                continue
            if last_end is not None and row_begin < last_end - timedelta(seconds=OVERLAP_S):
                continue
            chosen.append(row)
            last_end = row_end
        return chosen

    def holder(self, source_id: int, begin: datetime, end: datetime) -> str | None:
        """The other station whose disk holds all of this range's footage, or None (this
        station's own, or nothing recorded)."""
        begin, end = check_range(begin, end, self.max_range)
        return self._holder_of(self._records(source_id, begin, end))

    def _holder_of(self, rows: list[Record]) -> str | None:
        """Here or at the owner, decided once for the API and the GUI alike: the other
        station when it holds every one of `rows`, else None."""
        stations = {row.station_id for row in rows}
        owner = stations.pop() if len(stations) == 1 else None
        return owner if owner is not None and not self.is_local(owner) else None

    def _plan(self, source_id: int, begin: datetime, end: datetime, *,
              at_owner: bool = False) -> _Plan:
        """The files to cut and the size to reserve: each record's bytes in proportion to
        the part of its time the range takes (a record still recording: its size now).
        `at_owner`: a range another station holds all of is that station's to cut (a plan
        naming it, sized from the catalog); otherwise such footage is a `RemoteFootage`."""
        rows = self._records(source_id, begin, end)
        owner = self._holder_of(rows) if at_owner and self.site_client is not None else None
        there = owner is not None
        pieces, ids, estimate = [], set(), 0.0
        for row in rows:
            if there:
                size = row.size_bytes or 0
            elif not self.is_local(row.station_id):
                raise RemoteFootage(source_id, row.station_id)
            else:
                try:
                    size = Path(row.location).stat().st_size
                except OSError:
                    continue
            row_begin, row_end = aware(row.begin_utc), _end_of(row)
            span = max((row_end - row_begin).total_seconds(), 0.001)
            taken = (min(end, row_end) - max(begin, row_begin)).total_seconds()
            estimate += size * min(1.0, (max(taken, 0.0) + KEYFRAME_LEAD_S) / span)
            pieces.append(Piece(Path(row.location), row_begin.timestamp()))
            ids.add(row.id)
        if there:
            return _Plan(pieces, frozenset(), int(estimate * ESTIMATE_MARGIN) + ESTIMATE_OVERHEAD,
                         owner)
        if not pieces:
            raise NotFound("footage of source", f"{source_id} between {begin.isoformat()} and "
                           f"{end.isoformat()}", field="begin")
        return _Plan(pieces, frozenset(ids),
                     int(estimate * ESTIMATE_MARGIN) + ESTIMATE_OVERHEAD)

    def _source_name(self, source_id: int) -> str:
        with self.catalog.session() as s:
            source = s.get(Source, source_id)
            return safe_name(source.name) if source is not None else f"source-{source_id}"

    def filename(self, source_id: int, begin: datetime, suffix: str = ".mp4") -> str:
        return f"{self._source_name(source_id)}_{begin.strftime('%Y%m%dT%H%M%SZ')}{suffix}"

    # --- exporting ---------------------------------------------------------------------
    def _cut(self, source_id: int, plan: _Plan, begin: datetime, end: datetime, out: Path,
             lease: Lease, progress: Fraction | None,
             cancelled: Callable[[], bool] | None) -> CutResult:
        def stop() -> bool:
            """Every few hundred packets: the caller's cancel, then the lease (cancelled by
            the storage guard, or grown past the room it may take: raises)."""
            if cancelled is not None and cancelled():
                return True
            self.space.progress(lease)
            return False

        try:
            return cut(plan.pieces, begin.timestamp(), end.timestamp(), out,
                progress=(lambda done, total: progress(done / total if total else 1.0))
                if progress else None, cancelled=stop)
        except ExportError as exc:
            raise NotFound("footage of source", f"{source_id}: {exc}", field="begin") from None
        except ExportCancelled:
            raise Conflict("the export was cancelled") from None

    def _slot(self) -> None:
        if not self._slots.acquire(blocking=False):
            raise Unavailable(f"{self.max_concurrent} exports are being cut already: "
                              "try again when one has finished")

    def _take(self, client: str | None, plans: list[_Plan], *, on_storage: bool = True) -> Lease:
        """A lease for these plans (a zip holds every part plus the one being added)."""
        estimate = sum(p.estimate for p in plans) + (max(p.estimate for p in plans)
                                                     if len(plans) > 1 else 0)
        records = frozenset(r for p in plans for r in p.record_ids)
        return self.space.take(client, estimate, records, on_storage=on_storage)

    def export(self, source_ids: list[int], begin: datetime, end: datetime, *,
               client: str = "local", progress: Fraction | None = None,
               cancelled: Callable[[], bool] | None = None) -> ExportFile:
        """One source: its MP4; several: a zip (stored, not deflated: video does not
        compress) of one MP4 per source. A work file: `discard` it once sent. `client`
        names who asks (their share of the caps)."""
        if not source_ids:
            raise InvalidInput("no source to export", field="source_ids")
        begin, end = check_range(begin, end, self.max_range)
        ids = list(dict.fromkeys(source_ids))
        plans = [self._plan(source_id, begin, end) for source_id in ids]
        self._slot()
        try:
            lease = self._take(client, plans)
            try:
                if len(ids) == 1:
                    path = self.space.work_file(lease, ".mp4")
                    self._cut(ids[0], plans[0], begin, end, path, lease, progress, cancelled)
                    made = ExportFile(path, self.filename(ids[0], begin), "video/mp4",
                                      path.stat().st_size, lease)
                else:
                    made = self._zip(ids, plans, begin, end, lease, progress, cancelled)
            except BaseException:
                self.space.release(lease)
                raise
        finally:
            self._slots.release()
        self.space.cut_done(lease)
        return made

    def _zip(self, source_ids: list[int], plans: list[_Plan], begin: datetime, end: datetime,
             lease: Lease, progress: Fraction | None,
             cancelled: Callable[[], bool] | None) -> ExportFile:
        path = self.space.work_file(lease, ".zip")
        part = self.space.work_file(lease, ".mp4")
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED,
                             allowZip64=True) as archive:
            for n, (source_id, plan) in enumerate(zip(source_ids, plans)):
                share = (lambda f, n=n: progress((n + f) / len(source_ids))) if progress else None
                self._cut(source_id, plan, begin, end, part, lease, share, cancelled)
                archive.write(part, self.filename(source_id, begin))
                part.unlink()
        return ExportFile(path, f"export_{begin.strftime('%Y%m%dT%H%M%SZ')}.zip",
                          "application/zip", path.stat().st_size, lease)

    def export_to(self, source_ids: list[int], begin: datetime, end: datetime, folder: Path, *,
                  progress: Fraction | None = None,
                  cancelled: Callable[[], bool] | None = None) -> list[Path]:
        """The GUI's export: one MP4 per source written into `folder` (a `.part` until whole,
        an existing file never overwritten). The operator's own: not capped, but room is
        reserved above the floor when `folder` is on the recordings' disk."""
        return [c.path for c in self.export_cuts(source_ids, begin, end, folder,
                                                 progress=progress, cancelled=cancelled)]

    def export_cuts(self, source_ids: list[int], begin: datetime, end: datetime, folder: Path,
                    *, progress: Fraction | None = None,
                    cancelled: Callable[[], bool] | None = None) -> list[Cut]:
        """`export_to`, telling what each file holds (an evidence package states it)."""
        begin, end = check_range(begin, end, self.max_range)
        ids = list(dict.fromkeys(source_ids))
        plans = [self._plan(source_id, begin, end, at_owner=True) for source_id in ids]
        self._slot()
        written: list[Cut] = []
        try:
            lease = self._take(None, plans, on_storage=_same_filesystem(folder, self.storage_dir))
            try:
                for n, (source_id, plan) in enumerate(zip(ids, plans)):
                    target = _free_name(folder / self.filename(source_id, begin))
                    part = self.space.add_path(lease, target.with_name(target.name + ".part"))
                    share = (lambda f, n=n: progress((n + f) / len(ids))) if progress else None
                    if plan.owner is not None:
                        self._fetch(source_id, plan.owner, begin, end, part, lease, share,
                                    cancelled)
                        made = Cut(source_id, target, None, None)
                    else:
                        result = self._cut(source_id, plan, begin, end, part, lease, share,
                                           cancelled)
                        made = _cut_of(source_id, target, result)
                    part.rename(target)
                    written.append(made)
            finally:
                self.space.release(lease)  # removes a `.part` left by a failure
        finally:
            self._slots.release()
        log.info("exported %d file(s) to %s", len(written), folder)
        return written

    def reserve_parts(self, source_ids: list[int], begin: datetime, end: datetime, *,
                      client: str, copies: float = 1.0) -> "Parts":
        """An API client's export kept in parts (an evidence package is made of them), asked
        now: what to cut and a lease counted against `client`'s caps (ExportsBusy,
        StorageFull, NotFound, RemoteFootage: this station's footage only). `copies`: room
        reserved beyond the parts themselves, as a multiple of them (a package writes a zip
        of them, and maybe burned-in copies). Cut them with `cut_parts`; the caller owns the
        lease (`space.release` it, or hand its files out)."""
        if not source_ids:
            raise InvalidInput("no source to export", field="source_ids")
        begin, end = check_range(begin, end, self.max_range)
        ids = list(dict.fromkeys(source_ids))
        plans = [self._plan(source_id, begin, end) for source_id in ids]
        estimate = sum(p.estimate for p in plans) * (1.0 + copies)
        lease = self.space.take(client, int(estimate),
                                frozenset(r for p in plans for r in p.record_ids))
        return Parts(ids, plans, begin, end, lease)

    def cut_parts(self, parts: "Parts", *, progress: Fraction | None = None,
                  cancelled: Callable[[], bool] | None = None) -> list[Cut]:
        """One MP4 work file per source of `parts`, under its lease; waits its turn for one
        of the `max_concurrent` cuts (this runs on a job's own thread)."""
        ids, lease = parts.source_ids, parts.lease
        while not self._slots.acquire(timeout=0.5):
            if cancelled is not None and cancelled():
                raise Conflict("the export was cancelled")
            self.space.progress(lease)  # waiting is not stalling; a cancelled lease raises
        made: list[Cut] = []
        try:
            for n, (source_id, plan) in enumerate(zip(ids, parts.plans)):
                path = self.space.work_file(lease, ".mp4")
                share = (lambda f, n=n: progress((n + f) / len(ids))) if progress else None
                result = self._cut(source_id, plan, parts.begin, parts.end, path, lease, share,
                                   cancelled)
                made.append(_cut_of(source_id, path, result))
        finally:
            self._slots.release()
        self.space.cut_done(lease)
        return made

    def _fetch(self, source_id: int, owner: str, begin: datetime, end: datetime, out: Path,
               lease: Lease, progress: Fraction | None,
               cancelled: Callable[[], bool] | None) -> None:
        """Have `owner` cut the range and write its MP4 to `out`, a chunk at a time (never
        whole in memory), stopping as a cut would: the caller's cancel, the lease's."""
        assert self.site_client is not None
        with self.site_client.export(owner, source_id, begin, end,
                                     timeout=FETCH_TIMEOUT_S) as answer, open(out, "wb") as file:
            length = answer.headers.get("Content-Length", "")
            total = int(length) if length.isdigit() else 0
            done = 0
            while chunk := answer.read(FETCH_CHUNK):
                if cancelled is not None and cancelled():
                    raise Conflict("the export was cancelled")
                file.write(chunk)
                done += len(chunk)
                self.space.progress(lease)
                if progress is not None and total:
                    progress(min(1.0, done / total))
            if total and done < total:
                raise Unavailable(f"the station that holds the footage of source {source_id} "
                                  f"stopped sending it ({done} of {total} bytes)")

    def discard(self, export: ExportFile) -> None:
        """The export has been sent, or its reader gave up: its work file goes."""
        if export.lease is not None:
            self.space.release(export.lease)
        else:
            export.path.unlink(missing_ok=True)


def _end_of(row: Record) -> datetime:
    """When a record's footage ends (now, for one still recording)."""
    if row.status == RecordStatus.recording:
        return datetime.now(timezone.utc)
    begin = aware(row.begin_utc)
    return aware(row.end_utc) or begin + timedelta(seconds=row.duration_s or 0)


def _cut_of(source_id: int, path: Path, result: CutResult) -> Cut:
    return Cut(source_id, path, datetime.fromtimestamp(result.begin_s, timezone.utc),
               datetime.fromtimestamp(result.end_s, timezone.utc))


def _same_filesystem(folder: Path, storage_dir: Path) -> bool:
    try:
        return folder.stat().st_dev == storage_dir.stat().st_dev
    except OSError:
        return True  # cannot tell: reserve, as if it were


def _free_name(path: Path) -> Path:
    n = 1
    candidate = path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate
