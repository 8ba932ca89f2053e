"""Sync: copy a tag's finished records to a folder or to another station, MD5-verified.

A job and its files live in the catalog (`sync_job`, `sync_item`), so one cut short by a
stop or a crash is picked up again by `start()` on the next run: files already verified are
skipped, and the file that was in flight continues from the offset the destination reports.
Jobs run one at a time on a worker thread of their own; `get()` shows their progress, the
file in flight counted live. A record's `sync_location` is written only after the
destination has confirmed the copy's MD5.

Far-station tokens come inside the location URL. The catalog stores the location masked;
the token of an unfinished job waits in a file of its own in the data folder, readable by
the station's user only (the catalog may be a shared database server), and is dropped when
the job ends.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import json
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Callable

from sqlmodel import select

from app.catalog import Catalog
from app.catalog_rows import tag_by_name
from app.credentials import CredentialKeyError
from app.errors import InvalidInput, NotFound
from app.events import EventSink, RecordChanged
from app.models import Record, SyncItem, SyncJob, Tag, utcnow
from app.schemas import RecordStatus, SyncFileOut, SyncFileStatus, SyncJobOut, SyncStatus, iso_utc
from app.settings import Settings
from app.site.stations import owned_by
from app.site.sync_targets import (
    CHUNK,
    DirectoryTarget,
    FileProblem,
    Location,
    NotVerified,
    Progress,
    StationTarget,
    SyncInterrupted,
    Target,
    TargetRefused,
    TargetUnreachable,
    parse_location,
)
from recorder.outgoing import OutgoingPolicy

log = logging.getLogger(__name__)
UNFINISHED = (SyncStatus.queued, SyncStatus.running)
UNSENT = (SyncFileStatus.pending, SyncFileStatus.sending)  # a file not yet verified nor failed


@dataclass
class InFlight:
    """The file a job is sending now: what the destination holds of it, and what this run
    has sent (more than the difference when a broken-off request is sent again)."""

    item_id: int
    done: int
    sent: int = 0


class TokenStore:
    """Tokens of unfinished jobs, by job id, in a JSON file only the owner may read (0600,
    re-asserted on every write), each token encrypted with the catalog's credentials key
    (app.credentials); a file an older version wrote in clear is re-written on start."""

    def __init__(self, path: Path, catalog: Catalog | None = None):
        self.path = path
        self._catalog = catalog
        self._lock = threading.Lock()
        if path.exists():  # a file an older version wrote: encrypted and 0600 from the start
            with self._lock:
                self._save(self._load())

    def _cipher(self):
        return getattr(self._catalog, "cipher", None)

    def _load(self) -> dict[str, str]:
        try:
            stored = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(stored, dict):
            return {}
        cipher = self._cipher()
        tokens = {}
        for job_id, value in stored.items():
            try:
                tokens[job_id] = cipher.decrypt(value) if cipher else value
            except (CredentialKeyError, AttributeError):  # another key's, or not a string
                log.warning("sync job %s: its stored token cannot be read; the job will fail", job_id)
        return tokens

    def _save(self, tokens: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        cipher = self._cipher()
        stored = {k: cipher.encrypt(v) if cipher else v for k, v in tokens.items()}
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        if os.name == "posix":
            os.fchmod(fd, 0o600)  # a leftover .tmp keeps its old mode through O_CREAT
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh)
        os.replace(tmp, self.path)

    def get(self, job_id: str) -> str | None:
        with self._lock:
            return self._load().get(job_id)

    def put(self, job_id: str, token: str) -> None:
        with self._lock:
            tokens = self._load()
            tokens[job_id] = token
            self._save(tokens)

    def drop(self, job_id: str) -> None:
        with self._lock:
            tokens = self._load()
            if tokens.pop(job_id, None) is not None:
                self._save(tokens)


class SyncService:
    def __init__(self, catalog: Catalog, *, live: Callable[[], Settings], token_file: Path,
                 station_id: str | None = None, bytes_per_second: int | None = None,
                 retries: int = 3, retry_delay: float = 0.5, bus: EventSink | None = None,
                 outgoing: Callable[[], OutgoingPolicy] | None = None):
        """`live`: the station's `LiveSettings` (station_name, sync_dirs: read when a job is
        created and again when it runs, so a job queued before a change obeys the new one);
        `station_id`: this station's on a site (its jobs are its own: created, run and
        resumed here only), None for a station alone."""
        self.catalog = catalog
        self._settings = live
        # Where a station URL may lead (recorder.outgoing): checked on create, when a job
        # runs and on every connection. None: loopback and private networks.
        self.outgoing: Callable[[], OutgoingPolicy] = outgoing or OutgoingPolicy
        self.bus = bus  # told of each record whose copy was verified
        self.bytes_per_second = bytes_per_second  # None: as fast as the disk and network go
        self.retries, self.retry_delay = retries, retry_delay
        self._tokens = TokenStore(token_file, catalog)
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._create_lock = threading.Lock()
        self._live_lock = threading.Lock()
        self._live: dict[str, InFlight] = {}  # job id -> its file in flight
        self._target: Target | None = None
        self.station_id = station_id

    @property
    def station_name(self) -> str:
        return self._settings().station_name

    @property
    def sync_dirs(self) -> list[Path]:
        """Folders a directory sync may write into (the `sync_dirs` setting of now)."""
        return list(self._settings().sync_dirs)

    # --- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        """Start the worker and queue every job a stop or a crash left unfinished."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        with self.catalog.session() as s:
            ids = s.exec(select(SyncJob.id).where(SyncJob.status.in_(UNFINISHED),
                                                  self._own(SyncJob.station_id))
                         .order_by(SyncJob.created_utc)).all()
        queued = set()
        while not self._queue.empty():  # jobs created before start() are already queued
            queued.add(self._queue.get_nowait())
        for job_id in [*queued - set(ids), *ids]:
            if job_id:
                self._queue.put(job_id)
        if ids:
            log.info("resuming %d unfinished sync job(s)", len(ids))
        self._thread = threading.Thread(target=self._work, name="sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Break off the transfer in flight (it resumes on the next start) and end the worker."""
        self._stop.set()
        target = self._target
        if target is not None:
            target.abort()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the sync worker did not stop within %.0fs", timeout)
            self._thread = None

    # --- requests ------------------------------------------------------------------
    def create(self, tag_name: str, location: str) -> str:
        """Queue a sync of the tag's finished records; returns the job id. The same tag and
        destination while a job for them is unfinished returns that job (with any new
        finished records added to it)."""
        where = parse_location(location, self.sync_dirs, self.outgoing())
        with self._create_lock, self.catalog.session() as s:
            tag = tag_by_name(s, tag_name)
            if tag is None:
                raise NotFound("tag", repr(tag_name), field="tag_name")
            finished = select(Record).where(Record.tag_id == tag.id,
                                            Record.status == RecordStatus.finished,
                                            self._own(Record.station_id))
            records = [r for r in s.exec(finished.order_by(Record.created_utc, Record.id)).all()
                       if r.location and r.hash_md5]
            if not records:
                raise InvalidInput(f"tag {tag_name!r} has no finished records to sync"
                                   + (" on this station" if self.station_id else ""),
                                   field="tag_name")
            job = s.exec(select(SyncJob).where(SyncJob.tag_id == tag.id,
                                               SyncJob.location == where.shown,
                                               SyncJob.status.in_(UNFINISHED),
                                               self._own(SyncJob.station_id))).first()
            if job is None:
                job = SyncJob(tag_id=tag.id, location=where.shown, station_id=self.station_id)
                s.add(job)
                s.flush()
            have = set(s.exec(select(SyncItem.record_id).where(SyncItem.job_id == job.id)).all())
            for record in records:
                if record.id not in have:
                    s.add(SyncItem(job_id=job.id, record_id=record.id, hash_md5=record.hash_md5,
                                   file_name=Path(record.location).name,
                                   size_bytes=_size_of(record)))
            job_id = job.id
        if where.token:
            self._tokens.put(job_id, where.token)
        self._queue.put(job_id)
        log.info("sync job %s: tag %r to %s", job_id, tag_name, where.shown)
        return job_id

    def get(self, job_id: str) -> SyncJobOut:
        with self.catalog.session() as s:
            job = s.get(SyncJob, job_id)
            if job is None:
                raise NotFound("sync job", job_id, field="job_id")
            return self._out(s, job)

    def list(self) -> list[SyncJobOut]:
        with self.catalog.session() as s:
            jobs = s.exec(select(SyncJob).order_by(SyncJob.created_utc)).all()
            return [self._out(s, job) for job in jobs]

    def _own(self, column):
        """This station's jobs and records (`app.site.stations.owned_by`)."""
        return owned_by(column, self.station_id)

    def busy_record_ids(self) -> set[str]:
        """The records an unfinished job still has to copy (queued, or the file in flight):
        retention must not delete them under the sync (app.recordings.storage)."""
        with self.catalog.session() as s:
            ids = set(s.exec(select(SyncItem.record_id)
                             .join(SyncJob, SyncJob.id == SyncItem.job_id)
                             .where(SyncJob.status.in_(UNFINISHED), self._own(SyncJob.station_id),
                                    SyncItem.status.in_(UNSENT))).all())
        with self._live_lock:
            live = {flight.item_id for flight in self._live.values()}
        if live:
            with self.catalog.session() as s:
                ids |= set(s.exec(select(SyncItem.record_id).where(SyncItem.id.in_(live))).all())
        return ids

    def _out(self, s, job: SyncJob) -> SyncJobOut:
        tag = s.get(Tag, job.tag_id)
        items = s.exec(select(SyncItem).where(SyncItem.job_id == job.id).order_by(SyncItem.id)).all()
        with self._live_lock:
            live = self._live.get(job.id)
        files, current = [], None
        for item in items:
            done, sent = item.bytes_done, item.bytes_sent
            if live and live.item_id == item.id and item.status == SyncFileStatus.sending:
                done, sent, current = live.done, sent + live.sent, item.file_name
            files.append(SyncFileOut(record_id=item.record_id, file_name=item.file_name,
                                     status=item.status, size_bytes=item.size_bytes, bytes_done=done,
                                     bytes_sent=sent, sync_location=item.sync_location,
                                     error=item.error))
        return SyncJobOut(
            id=job.id, created_utc=iso_utc(job.created_utc), started_utc=iso_utc(job.started_utc),
            finished_utc=iso_utc(job.finished_utc), tag_name=tag.name if tag else "",
            location=job.location, status=job.status, error=job.error,
            files_total=len(files),
            files_done=sum(f.status == SyncFileStatus.verified for f in files),
            files_failed=sum(f.status == SyncFileStatus.failed for f in files),
            bytes_total=sum(f.size_bytes for f in files),
            bytes_done=sum(f.bytes_done for f in files if f.status != SyncFileStatus.failed),
            current_file=current, files=files)

    # --- the worker ----------------------------------------------------------------
    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None or self._stop.is_set():
                return
            try:
                self._run(job_id)
            except SyncInterrupted:
                log.info("sync job %s paused: the station is stopping", job_id)
            except Exception as exc:  # noqa: BLE001 - a job fails, the worker goes on
                log.exception("sync job %s failed", job_id)
                self._end(job_id, f"internal error ({type(exc).__name__})")

    def _run(self, job_id: str) -> None:
        with self.catalog.session() as s:
            job = s.get(SyncJob, job_id)
            if job is None or job.status not in UNFINISHED:
                return
            tag = s.get(Tag, job.tag_id)
            job.status, job.started_utc = SyncStatus.running, job.started_utc or utcnow()
            s.add(job)
            shown, tag_name = job.location, tag.name
        try:
            where = dataclasses.replace(parse_location(shown, self.sync_dirs, self.outgoing()),
                                        token=self._tokens.get(job_id))
        except InvalidInput as exc:
            self._end(job_id, exc.message)
            return
        self._target = target = self._target_for(where, tag_name)
        try:
            # Until nothing is left: `create` may add records to a job while it runs.
            while batch := self._unsent(job_id):
                for item, source in batch:
                    self._sync_item(job_id, target, item, source)
        except TargetRefused as exc:
            self._end(job_id, str(exc))
            return
        except TargetUnreachable as exc:
            self._end(job_id, str(exc))
            return
        finally:
            self._target = None
        self._end(job_id, None)

    def _unsent(self, job_id: str) -> list[tuple[SyncItem, Path]]:
        """The job's files not yet verified nor failed, with the record files to send."""
        with self.catalog.session() as s:
            stmt = (select(SyncItem, Record.location).join(Record, Record.id == SyncItem.record_id)
                    .where(SyncItem.job_id == job_id, SyncItem.status.in_(UNSENT))
                    .order_by(SyncItem.id))
            return [(item, Path(location or "")) for item, location in s.exec(stmt).all()]

    def _target_for(self, where: Location, tag_name: str) -> Target:
        # Paced transfers move in small steps, about ten a second.
        rate = self.bytes_per_second
        chunk = max(4096, min(CHUNK, rate // 10)) if rate else CHUNK
        if where.kind == "directory":
            assert where.path is not None
            return DirectoryTarget(where.path, tag_name, chunk_size=chunk)
        return StationTarget(where, station_name=self.station_name, tag_name=tag_name,
                             chunk_size=chunk, policy=self.outgoing())

    def _sync_item(self, job_id: str, target: Target, item: SyncItem, source: Path) -> None:
        if self._stop.is_set():
            raise SyncInterrupted()
        self._save_item(item.id, status=SyncFileStatus.sending)
        flight = InFlight(item.id, item.bytes_done)
        with self._live_lock:
            self._live[job_id] = flight
        try:
            location = self._transfer(flight, target, item, source)
        except (FileProblem, NotVerified) as exc:
            log.warning("sync job %s: %s not synced: %s", job_id, item.file_name, exc)
            self._save_item(item.id, status=SyncFileStatus.failed, error=str(exc),
                            bytes_sent=item.bytes_sent + flight.sent)
        except SyncInterrupted:
            self._save_item(item.id, bytes_done=flight.done, bytes_sent=item.bytes_sent + flight.sent)
            raise
        else:
            self._save_item(item.id, status=SyncFileStatus.verified, bytes_done=item.size_bytes,
                            bytes_sent=item.bytes_sent + flight.sent, sync_location=location,
                            record_id=item.record_id)
            if self.bus is not None:
                self.bus.publish(RecordChanged(item.record_id, "synced"))
        finally:
            with self._live_lock:
                self._live.pop(job_id, None)

    def _transfer(self, flight: InFlight, target: Target, item: SyncItem, source: Path) -> str:
        """Ask the destination where it stands, send the rest, have it verify. Network
        trouble is retried with a growing pause; a failed verification once, from wherever
        the destination then stands (from zero, as it discarded the bad copy)."""
        if not source.is_file():
            raise FileProblem("the record's file is missing")
        failures, verified_once = 0, False
        while True:
            try:
                state = target.state(item)
                if state.location:
                    return state.location
                offset = min(state.received, item.size_bytes)
                target.send(item, source, offset, self._progress(flight, offset))
                return target.finish(item)
            except TargetUnreachable:
                if self._stop.is_set():
                    raise SyncInterrupted() from None
                failures += 1
                if failures > self.retries:
                    raise
                if self._stop.wait(self.retry_delay * 2 ** (failures - 1)):
                    raise SyncInterrupted() from None
            except NotVerified:
                if verified_once:
                    raise
                verified_once = True

    def _progress(self, flight: InFlight, offset: int) -> Progress:
        """Counts bytes as they go, stops the transfer when the station stops, and paces it
        to `bytes_per_second` when a limit is set."""
        started, sent = time.monotonic(), 0
        flight.done = offset

        def advance(n: int) -> None:
            nonlocal sent
            if self._stop.is_set():
                raise SyncInterrupted()
            sent += n
            flight.done += n
            flight.sent += n
            rate = self.bytes_per_second
            if rate:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0 and self._stop.wait(ahead):
                    raise SyncInterrupted()

        return advance

    # --- catalog writes ------------------------------------------------------------
    def _save_item(self, item_id: int, *, record_id: str | None = None, **fields) -> None:
        with self.catalog.session() as s:
            item = s.get(SyncItem, item_id)
            for key, value in fields.items():
                setattr(item, key, value)
            s.add(item)
            if record_id is not None:
                record = s.get(Record, record_id)
                if record is not None:
                    record.sync_location = fields["sync_location"]
                    s.add(record)

    def _end(self, job_id: str, error: str | None) -> None:
        with self.catalog.session() as s:
            job = s.get(SyncJob, job_id)
            if job is None:
                return
            items = s.exec(select(SyncItem).where(SyncItem.job_id == job_id)).all()
            failed = [i for i in items if i.status == SyncFileStatus.failed]
            if error is None and failed:
                error = f"{len(failed)} of {len(items)} file(s) not synced"
            job.status = SyncStatus.failed if error else SyncStatus.done
            job.error, job.finished_utc = error, utcnow()
            s.add(job)
            shown = job.location
        self._tokens.drop(job_id)
        if error:
            log.warning("sync job %s to %s failed: %s", job_id, shown, error)
        else:
            log.info("sync job %s to %s done", job_id, shown)


def _size_of(record: Record) -> int:
    if record.size_bytes is not None:
        return record.size_bytes
    path = Path(record.location or "")
    return path.stat().st_size if path.is_file() else 0
