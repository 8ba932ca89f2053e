"""Storage: the guard that keeps the disk from filling up, and retention that makes room.

A station left alone for weeks must never run its disk full: once the filesystem is full,
the catalog cannot commit and the station's state goes stale. So while anything records, a
thread looks at the free space of the recordings' filesystem and of the catalog's once a
second (one `statvfs` each); idle, every ten seconds (the status bar's figures). Below
`disk_floor_mb` it first runs retention; if that frees too little, it stops the recordings
on the short filesystem itself (`RecordingService.fail`, reason `disk full: N MB free`)
while there is still room for the files' last bytes and the catalog's commits.

Copies of footage give way first: below the floor, before retention deletes anything or a
recording is stopped, the exports in progress are cancelled and their work files removed
(`reclaim`, app.recordings.export_space). Footage is never deleted, nor a recording stopped,
to keep a copy of footage; an export the disk has no room for is refused (507), never the
footage.

Retention runs every minute and whenever the guard asks. It deletes the files of the oldest
finished records first (the catalog row stays, marked `deleted` with when and why), for
three reasons: older than `retention_days`, recordings above `retention_max_gb`, free space
under the floor. It never touches a running record, a protected one or one a sync is still
copying; `RecordingService.expire` refuses those too, so no race with an operator (or a
sync that just started) can delete what must stay.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable

from pydantic import BaseModel, Field
from sqlmodel import func, select

from app.catalog import Catalog
from app.catalog_rows import tag_by_name
from app.errors import NotFound
from app.events import (
    EventSink, RecordingStarted, RecordingStopped, RetentionDeleted, StorageLow)
from app.models import Record, Source, Tag, utcnow
from app.recordings.bookmarks import covered_records
from app.schemas import RecordStatus, TagRetentionOut, iso_utc
from app.site.stations import owned_by

log = logging.getLogger(__name__)

MB = 1 << 20
GB = 1 << 30
# a file that no longer grows
FINISHED = (RecordStatus.finished, RecordStatus.failed, RecordStatus.interrupted)
# why retention deletes a file: older than retention_days, over retention_max_gb, disk floor
RETENTION_REASONS = ("age", "size", "floor")


# --- what the API and the GUI show --------------------------------------------------------
class FilesystemOut(BaseModel):
    path: str = Field(description="The folder (recordings) or file (catalog) measured.")
    total_bytes: int
    free_bytes: int = Field(description="Bytes free to the station's user (statvfs f_bavail).")
    below_floor: bool = Field(description="free_bytes is under disk_floor_mb.")


class OldestRecord(BaseModel):
    id: str
    tag_name: str | None
    begin_utc: str | None
    size_bytes: int
    protected: bool


class RetentionOut(BaseModel):
    retention_days: int = Field(description="Files of finished records older than this are "
                                "deleted (0 = off).")
    retention_max_gb: float = Field(description="Recordings are kept under this many GB "
                                    "(0 = off).")
    last_pass_utc: str | None = Field(description="When retention last looked.")
    deleted_last_pass: int
    deleted_since_start: int


class StorageOut(BaseModel):
    floor_mb: int = Field(description="disk_floor_mb: recording stops (and is refused) below it.")
    storage: FilesystemOut
    catalog: FilesystemOut | None = Field(description="The SQLite catalog's filesystem; null "
                                          "for a database server.")
    same_filesystem: bool = Field(description="Catalog and recordings share a filesystem.")
    used_by_recordings_bytes: int = Field(description="Files of the records not deleted, "
                                          "running ones included, as they are on disk now.")
    records_with_files: int
    protected_records: int
    oldest_record: OldestRecord | None = Field(description="The oldest record whose file is "
                                               "kept (what retention deletes next, unless "
                                               "protected).")
    retention: RetentionOut
    stopped_utc: str | None = Field(description="When the guard last stopped recordings for "
                                    "a full disk (null: never since start).")
    stopped_reason: str | None


# --- measuring ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Disk:
    """One filesystem as the guard saw it."""

    path: Path
    device: int
    total: int
    free: int

    def below(self, floor: int) -> bool:
        return floor > 0 and self.free < floor


def measure(path: Path) -> Disk:
    """One `statvfs` (and a `stat` for the device id): cheap enough for every second."""
    st = os.statvfs(path)
    return Disk(path, os.stat(path).st_dev, st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize)


def mb(size: int) -> int:
    return size // MB


@dataclass
class Candidate:
    """A finished record whose file retention may delete."""

    id: str
    begin: datetime
    end: datetime
    location: str
    protected: bool
    size: int = 0
    device: int | None = None
    # Days its source's or its tag's `retention_days` keep it (None: the station's).
    keep_days: int | None = None


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class StorageService:
    def __init__(self, catalog: Catalog, recordings, bus: EventSink, *, storage_dir: Path,
                 floor_bytes: int = 0, retention_days: int = 0, retention_max_gb: float = 0.0,
                 busy: Callable[[], Iterable[str]] = set, now: Callable[[], datetime] = utcnow,
                 reclaim: Callable[[str], int] = lambda why: 0,
                 guard_interval: float = 1.0, idle_interval: float = 10.0,
                 retention_interval: float = 60.0,
                 prune_grids: Callable[[int, datetime], int] = lambda days, now: 0):
        """`recordings`: the RecordingService (`fail`, `expire`); `busy`: the ids a sync is
        copying now (`SyncService.busy_record_ids`); `now`: the clock record ages are taken
        against (tests make records old by handing in a later one); `reclaim(why)`: cancels
        the exports in progress and removes their work files, returning the bytes they held
        (ExportService's work space): called before any footage is deleted or any recording
        stopped for room. `prune_grids(retention_days, now)`: removes the motion grids
        retention no longer keeps (app.motion_search.grids.GridStore.prune), after each pass's
        files, so grids follow the footage in the one pass."""
        self.catalog, self.recordings, self.bus = catalog, recordings, bus
        self.storage_dir = storage_dir
        self.catalog_path = catalog.path
        self.floor_bytes, self.retention_days = floor_bytes, retention_days
        self.retention_max_gb = retention_max_gb
        self.busy, self.now = busy, now
        self.guard_interval, self.idle_interval = guard_interval, idle_interval
        self.retention_interval = retention_interval
        self._running: set[str] = set()   # record ids recording now (from the events)
        self._resync = True               # read them from the catalog on the next look
        self._lock = threading.Lock()
        self._retention_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.disks: tuple[Disk, Disk | None] | None = None  # the last look
        self.last_pass_utc: datetime | None = None
        self.deleted_last_pass = self.deleted_total = 0
        # Files deleted since start by why (monitoring): "age", "size", "floor".
        self.deleted_by_reason = dict.fromkeys(RETENTION_REASONS, 0)
        self.stopped_utc: datetime | None = None
        self.stopped_reason: str | None = None
        self._next_retention = 0.0
        self.reclaim = reclaim
        self.prune_grids = prune_grids

    # --- settings (live) ---------------------------------------------------------------
    def configure(self, *, floor_bytes: int, retention_days: int, retention_max_gb: float) -> None:
        """The station's live settings changed: the next look uses them (at once)."""
        changed = (floor_bytes, retention_days, retention_max_gb) != (
            self.floor_bytes, self.retention_days, self.retention_max_gb)
        self.floor_bytes, self.retention_days = floor_bytes, retention_days
        self.retention_max_gb = retention_max_gb
        if changed:
            self._next_retention = 0.0
            self._wake.set()

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._unsubscribe = self.bus.subscribe(self._on_event) if hasattr(self.bus, "subscribe") else None
        self._thread = threading.Thread(target=self._loop, name="storage-guard", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _on_event(self, event) -> None:
        """Called on the publisher's thread: only note it and wake the guard."""
        if isinstance(event, RecordingStarted):
            with self._lock:
                self._running.add(event.record_id)
            self._wake.set()
        elif isinstance(event, RecordingStopped):
            with self._lock:
                self._running.discard(event.record_id)
                self._resync = True  # a rolled-over file may go on as another record

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the guard must outlive any one bad look
                log.exception("storage guard: a look failed; trying again")
            interval = self.guard_interval if self.recording() else self.idle_interval
            self._wake.wait(interval)
            self._wake.clear()

    # --- the guard ---------------------------------------------------------------------
    def recording(self) -> bool:
        with self._lock:
            return bool(self._running)

    def _sync_running(self) -> None:
        with self._lock:
            if not self._resync:
                return
            self._resync = False
        try:
            ids = self.recordings.running_ids()
        except Exception as exc:  # noqa: BLE001 - a catalog that cannot answer now: next time
            log.warning("storage guard: cannot read the running records (%s)", exc)
            with self._lock:
                self._resync = True
            return
        with self._lock:
            self._running = ids

    def look(self) -> tuple[Disk, Disk | None]:
        """Measure both filesystems (the catalog's is None for a database server)."""
        storage = measure(self.storage_dir)
        catalog = None
        if self.catalog_path is not None:
            catalog = measure(self.catalog_path if self.catalog_path.exists()
                              else self.catalog_path.parent)
        self.disks = (storage, catalog)
        return self.disks

    def low_disks(self, disks: tuple[Disk, Disk | None] | None = None) -> list[Disk]:
        return [d for d in (disks or self.look()) if d is not None and d.below(self.floor_bytes)]

    def check(self) -> list[str]:
        """One look: measure, retention when due or when short of space, and stop the
        recordings on a filesystem still under the floor. Returns the records stopped."""
        recording_before = self.recording()
        if not recording_before or self._resync:
            self._sync_running()
        low = self.low_disks()
        if low and self._reclaim_copies(low):
            low = self.low_disks()
        due = time.monotonic() >= self._next_retention
        if due or low:
            self.retention_pass("the disk floor" if low else "scheduled")
            low = self.low_disks()
        if not low or not self.recording():
            return []
        return self._stop_for(low)

    def _reclaim_copies(self, low: list[Disk]) -> bool:
        """The recordings' filesystem is short: exports' work files (copies of footage) go
        before any footage or recording does. True when some were removed."""
        storage = (self.disks or self.look())[0]
        if not any(d.device == storage.device for d in low):
            return False
        why = (f"the disk needed the room ({mb(storage.free)} MB free, under the "
               f"{mb(self.floor_bytes)} MB floor)")
        return self.reclaim(why) > 0

    def _stop_for(self, low: list[Disk]) -> list[str]:
        """Stop every recording on a short filesystem; all of them when it is the catalog's
        (without it nothing can be committed)."""
        storage, catalog = self.disks or self.look()
        catalog_short = catalog is not None and any(d is catalog for d in low)
        short_devices = {d.device for d in low}
        # The recordings service's view: what the catalog holds, with any state it could
        # not take yet (a full disk) laid over it.
        running = self.recordings.own_running()
        affected = [r.id for r in running
                    if catalog_short or _device_of(r.location, storage.device) in short_devices]
        if not affected:
            return []
        worst = min(low, key=lambda d: d.free)
        reason = f"disk full: {mb(worst.free)} MB free"
        stopped = []
        for record_id in affected:
            try:
                self.recordings.fail(record_id, reason)
                stopped.append(record_id)
            except Exception:  # noqa: BLE001 - the others still have to stop
                log.exception("storage guard: could not stop record %s", record_id)
        with self._lock:
            self._running.difference_update(stopped)
        if not stopped:
            return []
        protected = self._protected_count()
        why = (f"{mb(worst.free)} MB free on {worst.path}, under the {mb(self.floor_bytes)} MB "
               "floor, and retention found nothing more to delete"
               + (f" ({protected} protected record(s) kept)" if protected else ""))
        message = f"Stopped {len(stopped)} recording(s): {why}."
        log.error("storage guard: %s", message)
        self.stopped_utc, self.stopped_reason = utcnow(), message
        self.bus.publish(StorageLow(message=message, record_ids=tuple(stopped),
                                    free_bytes=worst.free, floor_bytes=self.floor_bytes))
        return stopped

    # --- retention ---------------------------------------------------------------------
    def retention_pass(self, why: str = "scheduled") -> list[str]:
        """Delete what the settings say must go, oldest first; returns the records expired."""
        with self._retention_lock:
            self._next_retention = time.monotonic() + self.retention_interval
            deleted: list[str] = []
            by_reason: dict[str, int] = {}
            try:
                candidates, used = self._candidates()
                busy = set(self.busy())
                free = [c for c in candidates if not c.protected and c.id not in busy]
                deleted += self._counted("age", self._by_age(free), by_reason)
                free = [c for c in free if c.id not in deleted]
                deleted += self._counted("size", self._by_size(
                    free, used - sum(c.size for c in candidates if c.id in deleted)), by_reason)
                free = [c for c in free if c.id not in deleted]
                deleted += self._counted("floor", self._by_floor(free), by_reason)
            finally:
                self.last_pass_utc, self.deleted_last_pass = utcnow(), len(deleted)
                self.deleted_total += len(deleted)
            try:
                self.prune_grids(self.retention_days, self.now())
            except Exception:  # noqa: BLE001 - grids that cannot go now go on the next pass
                log.exception("retention: motion grids not pruned")
            if deleted:
                log.info("retention (%s): %d record file(s) deleted", why, len(deleted))
                # app.alarms raises a `retention_deleted` event from it, on its own thread
                self.bus.publish(RetentionDeleted(tuple(deleted), tuple(by_reason.items()), why))
            return deleted

    def _counted(self, reason: str, deleted: list[str], by_reason: dict[str, int]) -> list[str]:
        self.deleted_by_reason[reason] += len(deleted)
        by_reason[reason] = len(deleted)
        return deleted

    def _expire(self, candidate: Candidate, reason: str) -> bool:
        try:
            return bool(self.recordings.expire(candidate.id, reason))
        except Exception:  # noqa: BLE001 - one record that cannot go stops no other
            log.exception("retention: could not delete record %s", candidate.id)
            return False

    def _by_age(self, candidates: list[Candidate]) -> list[str]:
        """Older than its days: its source's `retention_days`, else its tag's, else the
        station's (operators keep motion footage longer than continuous)."""
        now, deleted = self.now(), []
        for c in candidates:
            days = c.keep_days if c.keep_days is not None else self.retention_days
            if not days or c.end >= now - timedelta(days=days):
                continue
            whose = "" if c.keep_days is None else " (its source's or tag's retention)"
            if self._expire(c, f"retention: older than {days} day(s){whose}"):
                deleted.append(c.id)
        return deleted

    def _by_size(self, candidates: list[Candidate], used: int) -> list[str]:
        if not self.retention_max_gb:
            return []
        cap = int(self.retention_max_gb * GB)
        reason = f"retention: recordings over {self.retention_max_gb:g} GB"
        deleted = []
        for c in candidates:
            if used <= cap:
                break
            if self._expire(c, reason):
                deleted.append(c.id)
                used -= c.size
        return deleted

    def _by_floor(self, candidates: list[Candidate]) -> list[str]:
        """Under the floor, the oldest files make room for what records now. Once nothing
        records (the guard stopped it all), nothing needs the room: the footage stays, the
        footage just saved from a full disk first of all."""
        if not self.recording():
            return []
        low = self.low_disks()
        deleted = []
        for c in candidates:
            if not low:
                break
            if c.device not in {d.device for d in low}:
                continue  # its file is elsewhere: deleting it frees nothing here
            short = min(low, key=lambda d: d.free)
            if self._expire(c, f"retention: under the disk floor ({mb(short.free)} MB free)"):
                deleted.append(c.id)
                low = self.low_disks()
        return deleted

    def _candidates(self) -> tuple[list[Candidate], int]:
        """Finished records with a file, oldest first, and the bytes every record's file
        (running ones included) takes on disk now."""
        protected_col = getattr(Record, "protected", None)
        columns = [Record.id, Record.status, Record.begin_utc, Record.end_utc,
                   Record.created_utc, Record.location]
        if protected_col is not None:
            columns.append(protected_col)
        columns += [Record.source_id, Record.tag_id]
        with self.catalog.session() as s:
            rows = s.exec(select(*columns).where(Record.status != RecordStatus.deleted,
                                                 Record.location.is_not(None),
                                                 self._own(Record.station_id))).all()
            bookmarked = covered_records(s)  # a bookmark protects the record it falls in
            by_source = dict(s.exec(select(Source.id, Source.retention_days).where(
                Source.retention_days.is_not(None))).all())
            by_tag = dict(s.exec(select(Tag.id, Tag.retention_days).where(
                Tag.retention_days.is_not(None))).all())
        candidates, used = [], 0
        for row in rows:
            record_id, status, begin, end, created, location = row[:6]
            try:
                st = os.stat(location)
            except OSError:
                continue  # no file: nothing to free, nothing used
            used += st.st_size
            if status not in FINISHED:
                continue
            begin = _aware(begin) or _aware(created)
            candidates.append(Candidate(record_id, begin, _aware(end) or begin, location,
                                        (bool(row[6]) if protected_col is not None else False)
                                        or record_id in bookmarked,
                                        st.st_size, st.st_dev,
                                        by_source.get(row[-2], by_tag.get(row[-1]))))
        candidates.sort(key=lambda c: (c.begin, c.id))
        return candidates, used

    def _own(self, column):
        """Only this station's records: the others' files are on their own disks."""
        return owned_by(column, getattr(self.recordings, "station_id", None))

    def _protected_count(self) -> int:
        protected_col = getattr(Record, "protected", None)
        if protected_col is None:
            return 0
        with self.catalog.session() as s:
            return s.exec(select(func.count()).select_from(Record).where(
                protected_col.is_(True), Record.status != RecordStatus.deleted)).one()

    def set_tag_retention(self, tag_name: str, days: int | None) -> TagRetentionOut:
        """Keep the tag's finished records `days` (0 or None: as the station says); the
        next pass applies it."""
        with self.catalog.session() as s:
            tag = tag_by_name(s, tag_name)
            if tag is None:
                raise NotFound("tag", repr(tag_name), field="name")
            tag.retention_days = days or None
            s.add(tag)
        self._next_retention = 0.0
        self._wake.set()
        return TagRetentionOut(name=tag_name, retention_days=days or None)

    # --- figures -----------------------------------------------------------------------
    def figures(self) -> tuple[Disk, Disk | None]:
        """The last look (measured now if there was none): no catalog, no waiting — for
        the status bar, every couple of seconds on the GUI thread."""
        return self.disks or self.look()

    def status(self) -> StorageOut:
        """Where the disk stands: `GET /api/v1/storage`, the settings dialog."""
        storage, catalog = self.look()
        candidates, used = self._candidates()
        protected_col = getattr(Record, "protected", None)
        oldest = None
        if candidates:
            first = candidates[0]
            with self.catalog.session() as s:
                tag = s.exec(select(Tag.name).join(Record, Record.tag_id == Tag.id)
                             .where(Record.id == first.id)).first()
            oldest = OldestRecord(id=first.id, tag_name=tag, begin_utc=iso_utc(first.begin),
                                  size_bytes=first.size, protected=first.protected)
        with self.catalog.session() as s:
            with_files = s.exec(select(func.count()).select_from(Record).where(
                Record.status != RecordStatus.deleted, Record.location.is_not(None),
                self._own(Record.station_id))).one()
        return StorageOut(
            floor_mb=mb(self.floor_bytes),
            storage=self._fs_out(storage),
            catalog=self._fs_out(catalog) if catalog is not None else None,
            same_filesystem=catalog is None or catalog.device == storage.device,
            used_by_recordings_bytes=used, records_with_files=with_files,
            protected_records=self._protected_count() if protected_col is not None else 0,
            oldest_record=oldest,
            retention=RetentionOut(retention_days=self.retention_days,
                                   retention_max_gb=self.retention_max_gb,
                                   last_pass_utc=iso_utc(self.last_pass_utc),
                                   deleted_last_pass=self.deleted_last_pass,
                                   deleted_since_start=self.deleted_total),
            stopped_utc=iso_utc(self.stopped_utc), stopped_reason=self.stopped_reason)

    def _fs_out(self, disk: Disk) -> FilesystemOut:
        return FilesystemOut(path=str(disk.path), total_bytes=disk.total, free_bytes=disk.free,
                             below_floor=disk.below(self.floor_bytes))


def _device_of(location: str | None, default: int) -> int:
    """The filesystem a running record's file is on (its folder's, while the file is new)."""
    for path in (location, os.path.dirname(location or "")):
        if path:
            try:
                return os.stat(path).st_dev
            except OSError:
                continue
    return default
