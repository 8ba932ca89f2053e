"""Exports: any time range of a source's footage as one MP4, several sources as a zip.

The footage of a range is cut from the records of the source that cover it, one after the
other, by stream copy (recorder/export.py: no decoding, an edit list so playback starts at
`begin`). Only files on this station's disk can be cut: footage another station recorded is
refused here with a `RemoteFootage` naming that station, and the native API forwards such a
request to it whole (api/native/export.py), so a client may ask any station of the site.

Work files go to `<storage>/.exports/` and are removed once served (left-overs of a crash
on the next start): an export never leaves a copy of footage behind on the station. Range
and concurrency are capped, because an export reads as fast as the disk allows.
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from sqlmodel import select

from app.catalog import Catalog
from app.errors import Conflict, InvalidInput, NotFound, Unavailable
from app.models import Record, Source
from app.schemas import RecordStatus
from app.services.common import check_range, safe_name
from app.services.record_queries import aware
from recorder.export import ExportError, Piece, cut

log = logging.getLogger(__name__)

MAX_RANGE = timedelta(hours=24)
MAX_CONCURRENT = 2
OVERLAP_S = 0.5  # records of one source overlapping more than this are the same footage twice
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
    """A finished export: `path` is a work file the caller removes (`ExportService.discard`)."""

    path: Path
    filename: str      # what to call it on the operator's side
    media_type: str    # video/mp4 or application/zip
    size_bytes: int


class ExportService:
    def __init__(self, catalog: Catalog, *, storage_dir: Path,
                 is_local: Callable[[str | None], bool],
                 max_range: timedelta = MAX_RANGE, max_concurrent: int = MAX_CONCURRENT):
        self.catalog = catalog
        self.work_dir = storage_dir / ".exports"
        self.is_local = is_local
        self.max_range = max_range
        self.max_concurrent = max_concurrent
        self._slots = threading.BoundedSemaphore(max_concurrent)
        shutil.rmtree(self.work_dir, ignore_errors=True)  # what a crash left

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
            row_begin = aware(row.begin_utc)
            if row.status == RecordStatus.recording:
                row_end = datetime.now(timezone.utc)
            else:
                row_end = aware(row.end_utc) or row_begin + timedelta(seconds=row.duration_s or 0)
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
        stations = {r.station_id for r in self._records(source_id, begin, end)}
        remote = {s for s in stations if not self.is_local(s)}
        return remote.pop() if len(remote) == 1 and len(stations) == 1 else None

    def _pieces(self, source_id: int, begin: datetime, end: datetime) -> list[Piece]:
        pieces = []
        for row in self._records(source_id, begin, end):
            if not self.is_local(row.station_id):
                raise RemoteFootage(source_id, row.station_id)
            path = Path(row.location)
            if path.is_file():
                pieces.append(Piece(path, aware(row.begin_utc).timestamp()))
        if not pieces:
            raise NotFound("footage of source", f"{source_id} between {begin.isoformat()} and "
                           f"{end.isoformat()}", field="begin")
        return pieces

    def _source_name(self, source_id: int) -> str:
        with self.catalog.session() as s:
            source = s.get(Source, source_id)
            return safe_name(source.name) if source is not None else f"source-{source_id}"

    def filename(self, source_id: int, begin: datetime, suffix: str = ".mp4") -> str:
        return f"{self._source_name(source_id)}_{begin.strftime('%Y%m%dT%H%M%SZ')}{suffix}"

    # --- exporting ---------------------------------------------------------------------
    def _cut(self, source_id: int, begin: datetime, end: datetime, out: Path,
             progress: Fraction | None, cancelled: Callable[[], bool] | None) -> None:
        pieces = self._pieces(source_id, begin, end)
        try:
            cut(pieces, begin.timestamp(), end.timestamp(), out,
                progress=(lambda done, total: progress(done / total if total else 1.0))
                if progress else None, cancelled=cancelled)
        except ExportError as exc:
            raise NotFound("footage of source", f"{source_id}: {exc}", field="begin") from None

    def _slot(self) -> None:
        if not self._slots.acquire(blocking=False):
            raise Unavailable(f"{self.max_concurrent} exports are running already: "
                              "try again when one has finished")

    def _work_file(self, suffix: str) -> Path:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return self.work_dir / f"{uuid.uuid4().hex}{suffix}"

    def export(self, source_ids: list[int], begin: datetime, end: datetime, *,
               progress: Fraction | None = None,
               cancelled: Callable[[], bool] | None = None) -> ExportFile:
        """One source: its MP4; several: a zip (stored, not deflated: video does not
        compress) of one MP4 per source. A work file: `discard` it once sent."""
        if not source_ids:
            raise InvalidInput("no source to export", field="source_ids")
        begin, end = check_range(begin, end, self.max_range)
        self._slot()
        try:
            if len(source_ids) == 1:
                path = self._work_file(".mp4")
                self._cut(source_ids[0], begin, end, path, progress, cancelled)
                return ExportFile(path, self.filename(source_ids[0], begin), "video/mp4",
                                  path.stat().st_size)
            return self._zip(source_ids, begin, end, progress, cancelled)
        finally:
            self._slots.release()

    def _zip(self, source_ids: list[int], begin: datetime, end: datetime,
             progress: Fraction | None, cancelled: Callable[[], bool] | None) -> ExportFile:
        path = self._work_file(".zip")
        part = self._work_file(".mp4")
        try:
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED,
                                 allowZip64=True) as archive:
                for n, source_id in enumerate(dict.fromkeys(source_ids)):
                    share = (lambda f, n=n: progress((n + f) / len(source_ids))) if progress else None
                    self._cut(source_id, begin, end, part, share, cancelled)
                    archive.write(part, self.filename(source_id, begin))
                    part.unlink()
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        finally:
            part.unlink(missing_ok=True)
        return ExportFile(path, f"export_{begin.strftime('%Y%m%dT%H%M%SZ')}.zip",
                          "application/zip", path.stat().st_size)

    def export_to(self, source_ids: list[int], begin: datetime, end: datetime, folder: Path, *,
                  progress: Fraction | None = None,
                  cancelled: Callable[[], bool] | None = None) -> list[Path]:
        """The GUI's export: one MP4 per source written into `folder` (a `.part` until whole,
        an existing file never overwritten)."""
        begin, end = check_range(begin, end, self.max_range)
        self._slot()
        written: list[Path] = []
        try:
            for n, source_id in enumerate(dict.fromkeys(source_ids)):
                target = _free_name(folder / self.filename(source_id, begin))
                part = target.with_name(target.name + ".part")
                share = (lambda f, n=n: progress((n + f) / len(source_ids))) if progress else None
                self._cut(source_id, begin, end, part, share, cancelled)
                part.rename(target)
                written.append(target)
        finally:
            self._slots.release()
        log.info("exported %d file(s) to %s", len(written), folder)
        return written

    @staticmethod
    def discard(export: ExportFile) -> None:
        export.path.unlink(missing_ok=True)


def _free_name(path: Path) -> Path:
    n = 1
    candidate = path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate
