"""Export work space: what the work file of an export may take of the disk, and for how long.

An export is cut into a work file, then sent (app.recordings.export, api/native/export.py).
Until its last byte has left, or its reader gave up, that file is a copy of footage lying on
the recordings' disk. The second security review (issue #21, item 3) found clients that asked
for exports and never read the answer: each left a work file behind, none counted against the
disk floor, and on a small disk retention then deleted the very footage being exported and
the storage guard stopped the running recording. So every export now holds a `Lease` from
before it is cut until its work file is gone:

- **Room.** The bytes it is expected to take (estimated from the records' sizes) are reserved
  against `disk_floor_mb`, on top of what unfinished uploads and other exports still need:
  `StorageFull` (507) when they do not fit. A file that outgrows its reservation while being
  cut reserves more, or the cut is abandoned (507).
- **Caps.** Exports being cut or sent, and the bytes they reserve, in all and per client:
  `ExportsBusy` (429 for one client's share, 503 for everyone's).
- **Progress.** A lease whose reader has taken no byte for `export_stall_s` is expired: its
  connection is closed and its files removed. A sweep looks a few times per stall period.
- **Copies give way to footage.** The storage guard, below the floor, calls `reclaim` before
  retention and before stopping anything: every export is cancelled and its files removed,
  so footage is never deleted, nor a recording stopped, to keep a copy of footage. While a
  record is being cut, `busy_record_ids` names it, so retention leaves it alone meanwhile.

The operator's own exports from the GUI (`client=None`) are neither capped nor timed out:
they write into the operator's folder, reserving room only when it is on the recordings' disk.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from app.errors import StorageFull, Unavailable
from recorder.mp4file import free_bytes

log = logging.getLogger(__name__)

MB = 1 << 20
GROWTH = 1.25          # a file that outgrew its reservation reserves this much more than its size
RECLAIM_WAIT_S = 2.0   # how long `reclaim` waits for the holders of cancelled exports to let go
FORGET_AFTER_STALLS = 2  # a cancelled lease no holder released is forgotten after this many stalls


@dataclass(frozen=True)
class ExportLimits:
    """The settings that bound exports, read again for every export (live settings)."""

    max_files: int = 8
    max_files_per_client: int = 2
    max_bytes: int = 32768 * MB
    max_bytes_per_client: int = 16384 * MB
    stall_s: float = 60.0
    floor_bytes: int = 0

    @classmethod
    def of(cls, settings) -> "ExportLimits":
        return cls(settings.export_max_files, settings.export_max_files_per_client,
                   settings.export_max_mb * MB, settings.export_max_mb_per_client * MB,
                   settings.export_stall_s, settings.disk_floor_mb * MB)


class ExportsBusy(Unavailable):
    """Too many exports outstanding: one client's share (`per_client`: 429) or everyone's
    (503). Worth retrying once one has been sent or timed out (`retry_after_s`)."""

    def __init__(self, message: str, *, per_client: bool, retry_after_s: float):
        super().__init__(message)
        self.per_client = per_client
        self.retry_after_s = retry_after_s


class Lease:
    """One export's hold on the work space, from before its cut until its files are gone."""

    def __init__(self, client: str | None, reserved: int, records: frozenset[str]):
        self.key = uuid.uuid4().hex
        self.client = client          # None: the operator's own export (GUI)
        self.reserved = reserved      # bytes held against the floor and the caps
        self.records = records        # being cut (retention leaves them) until `cut_done`
        self.paths: list[Path] = []
        self.touched = time.monotonic()
        self.gone_since: float | None = None  # cancelled: whoever holds it stops
        self.why = ""
        self.aborts: list[Callable[[], None]] = []

    def used(self) -> int:
        total = 0
        for path in self.paths:
            try:
                total += path.stat().st_size
            except OSError:
                pass
        return total

    def outstanding(self) -> int:
        """Reserved bytes not written yet (what the disk must still find room for)."""
        return 0 if self.gone_since is not None else max(0, self.reserved - self.used())


class WorkSpace:
    """The leases of the exports in progress, their reservations, caps and timeouts."""

    def __init__(self, folder: Path, storage_dir: Path, limits: Callable[[], ExportLimits],
                 reserved_elsewhere: Callable[[], int] = lambda: 0):
        """`folder`: the work files' folder; `storage_dir`: the recordings' folder, whose
        filesystem the floor is about; `reserved_elsewhere`: bytes other writers (unfinished
        uploads) have reserved on it."""
        self.folder, self.storage_dir = folder, storage_dir
        self.limits, self.reserved_elsewhere = limits, reserved_elsewhere
        self._leases: dict[str, Lease] = {}
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None
        shutil.rmtree(folder, ignore_errors=True)  # what a crash left

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        if self._sweeper is not None and self._sweeper.is_alive():
            return
        self._stop.clear()
        self._sweeper = threading.Thread(target=self._sweep_loop, name="export-sweep",
                                         daemon=True)
        self._sweeper.start()

    def stop(self) -> None:
        """The station stops: every export is cancelled, the work files removed."""
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(5)
            self._sweeper = None
        self.reclaim("the station stops")
        shutil.rmtree(self.folder, ignore_errors=True)

    def _sweep_loop(self) -> None:
        while not self._stop.wait(min(max(self.limits().stall_s / 4, 0.25), 5.0)):
            try:
                self.expire_stalled()
            except Exception:  # noqa: BLE001 - the sweep must outlive one bad look
                log.exception("export sweep failed; trying again")

    # --- taking and giving back ----------------------------------------------------------
    def take(self, client: str | None, estimate: int, records: frozenset[str] = frozenset(),
             *, on_storage: bool = True) -> Lease:
        """A lease reserving `estimate` bytes, or ExportsBusy (caps) / StorageFull (floor).
        `on_storage`: whether the files go to the recordings' filesystem at all."""
        limits = self.limits()
        elsewhere = self.reserved_elsewhere() if on_storage else 0  # outside our lock
        with self._changed:
            if client is not None:
                self._check_caps(client, estimate, self._live(), limits)
            if on_storage:
                self._check_room(estimate, elsewhere, limits.floor_bytes)
            lease = Lease(client, estimate if on_storage else 0, records)
            self._leases[lease.key] = lease
            return lease

    def _live(self) -> list[Lease]:
        """Under `_changed`: the clients' exports not cancelled (what the caps count)."""
        return [lease for lease in self._leases.values()
                if lease.gone_since is None and lease.client is not None]

    def _check_caps(self, client: str, more: int, live: list[Lease], limits: ExportLimits) -> None:
        """Under `_changed`: one more export of `more` bytes for `client`."""
        mine = [lease for lease in live if lease.client == client]
        if len(mine) >= limits.max_files_per_client:
            raise ExportsBusy(f"this client has {len(mine)} exports being cut or sent already "
                              f"(at most {limits.max_files_per_client}): read or close one first",
                              per_client=True, retry_after_s=limits.stall_s)
        if len(live) >= limits.max_files:
            raise ExportsBusy(f"{len(live)} exports are being cut or sent already (at most "
                              f"{limits.max_files}): try again later",
                              per_client=False, retry_after_s=limits.stall_s)
        self._check_bytes(client, more, live, limits)

    @staticmethod
    def _check_bytes(client: str, more: int, live: list[Lease], limits: ExportLimits) -> None:
        """`more` bytes of work files for `client`, within its share and everyone's."""
        if sum(lease.reserved for lease in live if lease.client == client) + more \
                > limits.max_bytes_per_client:
            raise ExportsBusy(f"this client's exports would hold more than "
                              f"{limits.max_bytes_per_client // MB} MB of work files: read or "
                              "close one first, or ask for a shorter range",
                              per_client=True, retry_after_s=limits.stall_s)
        if sum(lease.reserved for lease in live) + more > limits.max_bytes:
            raise ExportsBusy(f"the exports being cut or sent would hold more than "
                              f"{limits.max_bytes // MB} MB of work files: try again later",
                              per_client=False, retry_after_s=limits.stall_s)

    def _check_room(self, more: int, elsewhere: int, floor: int) -> None:
        """Under `_changed`: `more` bytes must fit above the floor once every reservation
        (other exports', unfinished uploads') is written."""
        others = sum(lease.outstanding() for lease in self._leases.values())
        room = free_bytes(self.storage_dir) - floor - others - elsewhere
        if more > room:
            raise StorageFull(f"not enough disk space for this export: it needs about {more} "
                              f"bytes, {max(room, 0)} are free above the disk floor once "
                              "the exports and uploads in progress are written")

    def work_file(self, lease: Lease, suffix: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.add_path(lease, self.folder / f"{uuid.uuid4().hex}{suffix}")

    def add_path(self, lease: Lease, path: Path) -> Path:
        """`path` is this lease's to remove (on release, expiry or reclaim)."""
        with self._changed:
            lease.paths.append(path)
        return path

    def progress(self, lease: Lease) -> None:
        """Called while cutting: the export lives on, and its files may grow past the
        reservation only if the disk has room for it. Raises StorageFull once cancelled."""
        if lease.gone_since is not None:
            raise StorageFull(f"export cancelled: {lease.why}")
        lease.touched = time.monotonic()
        used = lease.used()
        if lease.reserved and used > lease.reserved:
            grown = int(used * GROWTH)  # what is written already takes no more room
            limits = self.limits()
            elsewhere = self.reserved_elsewhere()
            with self._changed:
                if lease.client is not None:
                    self._check_bytes(lease.client, grown - lease.reserved, self._live(), limits)
                self._check_room(grown - used, elsewhere, limits.floor_bytes)
                lease.reserved = grown

    def cut_done(self, lease: Lease) -> None:
        """The records are read: retention may delete them again; the reader's turn."""
        lease.records = frozenset()
        lease.touched = time.monotonic()

    @staticmethod
    def touch(lease: Lease) -> None:
        """The reader took bytes: it is not stalled."""
        lease.touched = time.monotonic()

    def on_abort(self, lease: Lease, abort: Callable[[], None]) -> None:
        """How to stop whoever sends this export (close the client's connection): called
        from the sweep's or the storage guard's thread, so it must be thread-safe."""
        with self._changed:
            lease.aborts.append(abort)
            gone = lease.gone_since is not None
        if gone:
            abort()

    def release(self, lease: Lease) -> None:
        """The export's holder is done with it (sent, reader gone, error): its files go."""
        _remove(lease.paths)
        with self._changed:
            self._leases.pop(lease.key, None)
            self._changed.notify_all()

    # --- taking back -------------------------------------------------------------------
    def _cancel(self, lease: Lease, why: str) -> None:
        """Stop its holder and remove its files; it leaves the table once released."""
        with self._changed:
            if lease.gone_since is not None:
                return
            lease.gone_since, lease.why = time.monotonic(), why
            aborts = list(lease.aborts)
        for abort in aborts:
            try:
                abort()
            except Exception:  # noqa: BLE001 - a connection already gone
                log.debug("aborting an export's sender failed", exc_info=True)
        _remove(lease.paths)

    def expire_stalled(self) -> int:
        """Cancel the exports whose reader took nothing for `export_stall_s`; forget
        cancelled ones no holder ever released. Returns how many were cancelled."""
        stall = self.limits().stall_s
        now = time.monotonic()
        with self._changed:
            leases = list(self._leases.values())
            for lease in leases:
                forgotten = FORGET_AFTER_STALLS * stall
                if lease.gone_since is not None and now - lease.gone_since > forgotten:
                    del self._leases[lease.key]
        stalled = [lease for lease in leases if lease.client is not None
                   and lease.gone_since is None and now - lease.touched > stall]
        for lease in stalled:
            self._cancel(lease, f"its reader took no byte for {stall:g} s")
            log.warning("export for %s cancelled: its reader took no byte for %g s; its work "
                        "file was removed", lease.client, stall)
        return len(stalled)

    def reclaim(self, why: str) -> int:
        """Cancel every export (the disk needs the room for footage, or the station stops),
        wait a little for their holders to let go; returns the bytes they held."""
        with self._changed:
            leases = [lease for lease in self._leases.values() if lease.gone_since is None]
        if not leases:
            return 0
        held = sum(max(lease.reserved, lease.used()) for lease in leases)
        for lease in leases:
            self._cancel(lease, why)
        # Holders still reading the records or sending a file keep its space until they let
        # go (a removed file's blocks are freed once closed): wait for them, a little.
        held_open = [lease for lease in leases if lease.records or lease.aborts]
        with self._changed:
            self._changed.wait_for(lambda: not any(lease.key in self._leases
                                                   for lease in held_open), RECLAIM_WAIT_S)
        log.warning("%d export(s) cancelled and their work files removed: %s", len(leases), why)
        return held

    # --- what others ask ---------------------------------------------------------------
    def outstanding_bytes(self) -> int:
        """Reserved bytes the exports in progress have not written yet (uploads count them)."""
        with self._changed:
            return sum(lease.outstanding() for lease in self._leases.values())

    def busy_record_ids(self) -> set[str]:
        """The records being cut now: retention leaves them until the cut is done."""
        with self._changed:
            return {r for lease in self._leases.values() if lease.gone_since is None
                    for r in lease.records}


def _remove(paths: list[Path]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError:
            log.warning("could not remove the export work file %s", path.name)
