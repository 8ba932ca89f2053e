"""The receiving end of a station-to-station sync: resumable uploads, MD5-verified.

An upload is named by the sender (its record id). Its bytes accumulate in
`<storage>/.uploads/<id>.part` (a chunk may break off anywhere: what arrived stays, and
`status` tells the sender where to continue); a small `<id>.json` beside it remembers the
total and, once finished, the MD5 and final place, so a sender that lost track learns the
file is already here instead of sending it again. `finish` re-reads the whole file, checks
the MD5 the sender expects, and only then files it under
`<storage>/synced/<sending station>/<tag>/<file>`; a mismatch discards the bytes.

What holds, whoever sends:
- a finished copy never replaces a file: its name is claimed atomically (another upload of
  the same file name gets `<stem>-<id>…`), and it is write-protected; `status` reports a copy
  as complete only while the file at `location` is the very file that was verified;
- the total a first chunk declares (its `Content-Range`) is reserved: a chunk whose upload
  would take the disk below `disk_floor_bytes` once every unfinished upload (and every
  export's work file, app.recordings.export_space) is complete is refused (507); a reservation ends when the upload is filed, discarded or abandoned;
- an upload untouched for `abandoned_after_s` (24 h) is abandoned: a sweep at start and then
  every hour removes its `.part` and `.json`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Callable

from app.errors import Conflict, InvalidInput, NotFound, StorageFull
from app.files import fsync_dir, safe_name
from app.schemas import UploadFinishIn, UploadOut
from app.site.final_copies import fingerprint, open_part, place_new, same_file, write_protect
from recorder.mp4file import file_md5, free_bytes

log = logging.getLogger(__name__)
UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ABANDONED_AFTER_S = 24 * 3600
SWEEP_EVERY_S = 3600
MAX_NAME_TRIES = 1000


class ChunkWriter:
    """Appends one request's body to an upload; `close()` makes it durable and releases the
    upload for the next request, however the body ended."""

    def __init__(self, service: "UploadService", upload_id: str, path: Path, limit: int):
        self.service, self.upload_id, self.limit = service, upload_id, limit
        self.written = 0
        self._fh = os.fdopen(open_part(path, append=True), "ab")

    def write(self, data: bytes) -> None:
        if self.written + len(data) > self.limit:
            raise InvalidInput("the body is longer than its Content-Range", field="Content-Range")
        self.service.check_floor(len(data))  # recordings may have eaten the margin meanwhile
        self._fh.write(data)
        self.written += len(data)

    def close(self) -> UploadOut:
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
        finally:
            self.service._release(self.upload_id)
        return self.service.status(self.upload_id)


class UploadService:
    def __init__(self, storage_dir: Path, *, disk_floor_bytes: Callable[[], int] = lambda: 0,
                 reserved_elsewhere: Callable[[], int] = lambda: 0,
                 abandoned_after_s: float = ABANDONED_AFTER_S):
        """`disk_floor_bytes`: the floor of now (read from the station's live settings at
        each check); `reserved_elsewhere`: bytes others (exports' work files) have reserved
        on the same disk, which count too."""
        self.storage_dir = storage_dir
        self.incoming = storage_dir / ".uploads"
        self.synced = storage_dir / "synced"
        self._floor = disk_floor_bytes
        self.abandoned_after_s = abandoned_after_s
        self.claim_wait = 10.0
        self._released = threading.Condition()
        self._busy: set[str] = set()
        self._space = threading.Lock()
        self._reserved: dict[str, int] | None = None  # upload id -> declared total (unfinished)
        self.reserved_elsewhere = reserved_elsewhere
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    @property
    def disk_floor_bytes(self) -> int:
        return self._floor()

    # --- lifecycle: the sweep of abandoned uploads ----------------------------------
    def start(self) -> None:
        """Remove what was abandoned while the station was down, then sweep every hour."""
        self.sweep()
        if self._sweeper is not None and self._sweeper.is_alive():
            return
        self._stop.clear()
        self._sweeper = threading.Thread(target=self._sweep_loop, name="upload-sweep", daemon=True)
        self._sweeper.start()

    def stop(self) -> None:
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(5)
            self._sweeper = None

    def _sweep_loop(self) -> None:
        while not self._stop.wait(SWEEP_EVERY_S):
            try:
                self.sweep()
            except OSError:
                log.exception("sweeping abandoned uploads failed")

    def sweep(self) -> int:
        """Remove unfinished uploads untouched for `abandoned_after_s`; returns how many."""
        if not self.incoming.is_dir():
            return 0
        cutoff = time.time() - self.abandoned_after_s
        ids = {p.name.split(".", 1)[0] for p in self.incoming.iterdir()}
        removed = 0
        for upload_id in sorted(i for i in ids if UPLOAD_ID.match(i)):
            if not self._try_claim(upload_id):
                continue  # a request is writing it: not abandoned
            try:
                removed += self._sweep_one(upload_id, cutoff)
            finally:
                self._release(upload_id)
        if removed:
            log.info("removed %d upload(s) abandoned for more than %.0f h", removed,
                     self.abandoned_after_s / 3600)
        return removed

    def _sweep_one(self, upload_id: str, cutoff: float) -> int:
        part, meta_path = self._paths(upload_id)
        tmp = meta_path.with_suffix(".json.tmp")
        if self._meta(meta_path).get("location"):
            return 0  # finished: the small record of where the copy went stays
        files = [p for p in (part, meta_path, tmp) if p.exists() or p.is_symlink()]
        if not files or max(os.lstat(p).st_mtime for p in files) >= cutoff:
            return 0
        for p in files:
            p.unlink(missing_ok=True)
        self._unreserve(upload_id)
        return 1

    # --- state on disk -------------------------------------------------------------
    def _paths(self, upload_id: str) -> tuple[Path, Path]:
        if not UPLOAD_ID.match(upload_id):
            raise InvalidInput("upload_id must be 1-64 letters, digits, '-' or '_'", field="upload_id")
        return self.incoming / f"{upload_id}.part", self.incoming / f"{upload_id}.json"

    @staticmethod
    def _meta(meta_path: Path) -> dict:
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    @staticmethod
    def _save_meta(meta_path: Path, meta: dict) -> None:
        tmp = meta_path.with_suffix(".json.tmp")
        with os.fdopen(open_part(tmp, append=False), "w") as fh:
            fh.truncate()
            json.dump(meta, fh)
        os.replace(tmp, meta_path)

    def _current(self, meta_path: Path) -> dict:
        """The upload's record; a finished one only while its copy is the very file verified
        (an operator may delete or replace a copy: then the upload is as if never sent)."""
        meta = self._meta(meta_path)
        if meta.get("location"):
            try:
                now = fingerprint(Path(meta["location"]))
            except OSError:
                return {}
            kept = meta.get("file") or {"size": meta.get("total")}
            if any(now.get(key) != value for key, value in kept.items()):
                return {}
        return meta

    def status(self, upload_id: str) -> UploadOut:
        part, meta_path = self._paths(upload_id)
        meta = self._current(meta_path)
        if meta.get("location"):
            return UploadOut(upload_id=upload_id, received=meta["total"], total=meta["total"],
                             complete=True, md5=meta.get("md5"), location=meta["location"])
        if not meta and not part.exists():
            raise NotFound("upload", upload_id, field="upload_id")
        received = part.stat().st_size if part.exists() else 0
        return UploadOut(upload_id=upload_id, received=received, total=meta.get("total"),
                         complete=False)

    # --- receiving -----------------------------------------------------------------
    def _claim(self, upload_id: str) -> None:
        """One request at a time per upload. A sender retrying after a broken connection may
        arrive before this station noticed the break, so wait a little for the old request."""
        with self._released:
            if not self._released.wait_for(lambda: upload_id not in self._busy, self.claim_wait):
                raise Conflict("another request is writing this upload", field="upload_id")
            self._busy.add(upload_id)

    def _try_claim(self, upload_id: str) -> bool:
        with self._released:
            if upload_id in self._busy:
                return False
            self._busy.add(upload_id)
            return True

    def _release(self, upload_id: str) -> None:
        with self._released:
            self._busy.discard(upload_id)
            self._released.notify_all()

    def open_chunk(self, upload_id: str, start: int, end: int, total: int) -> ChunkWriter:
        """Bytes `start..end` (inclusive) of a file of `total` bytes; `start` must be exactly
        what is already stored (see `status`)."""
        part, meta_path = self._paths(upload_id)
        self._claim(upload_id)
        try:
            meta = self._current(meta_path)
            if meta.get("location"):
                raise Conflict("the upload is already complete", field="upload_id")
            if meta.get("total") not in (None, total):
                raise InvalidInput(f"the upload's total is {meta['total']} bytes, not {total}",
                                   field="Content-Range")
            received = part.stat().st_size if part.exists() else 0
            if start != received:
                raise Conflict(f"the upload holds {received} bytes: continue from byte {received}",
                               field="Content-Range")
            self._reserve(upload_id, total)
            try:
                self.incoming.mkdir(parents=True, exist_ok=True, mode=0o700)
                if not meta:
                    self._save_meta(meta_path, {"total": total})
                return ChunkWriter(self, upload_id, part, end - start + 1)
            except BaseException:
                if not meta:
                    self._unreserve(upload_id)
                raise
        except BaseException:
            self._release(upload_id)
            raise

    def finish(self, upload_id: str, data: UploadFinishIn) -> UploadOut:
        """Verify the whole file against `data.md5` and file it; idempotent once verified."""
        part, meta_path = self._paths(upload_id)
        expected = data.md5.lower()
        self._claim(upload_id)
        try:
            meta = self._current(meta_path)
            if meta.get("location"):
                if meta.get("md5") != expected:
                    raise InvalidInput("the upload was verified with a different MD5", field="md5")
                return self.status(upload_id)
            if not isinstance(meta.get("total"), int) or not part.exists():
                raise NotFound("upload", upload_id, field="upload_id")
            received = part.stat().st_size
            if received != meta["total"]:
                raise Conflict(f"the upload is incomplete: {received} of {meta['total']} bytes",
                               field="upload_id")
            digest = file_md5(part)
            if digest != expected:
                part.unlink(missing_ok=True)
                meta_path.unlink(missing_ok=True)
                self._unreserve(upload_id)
                raise InvalidInput(f"MD5 mismatch: the received file hashes to {digest}, not "
                                   f"{expected}; it was discarded", field="md5")
            final = self._place(part, data, upload_id, digest)
            self._save_meta(meta_path, {"total": received, "md5": digest, "location": str(final),
                                        "file": fingerprint(final)})
            self._unreserve(upload_id)
            return self.status(upload_id)
        finally:
            self._release(upload_id)

    def _place(self, part: Path, data: UploadFinishIn, upload_id: str, digest: str) -> Path:
        """File the verified bytes under a name no one holds; the same bytes already filed
        under the name (sent before under another id) are taken as this upload's copy."""
        folder = self.synced / safe_name(data.station) / safe_name(data.tag_name)
        folder.mkdir(parents=True, exist_ok=True)
        name = Path(safe_name(data.file_name))
        stem, suffix = name.stem[:150], name.suffix[:20]
        for n in range(MAX_NAME_TRIES):
            tail = "" if n == 0 else f"-{upload_id[:8]}" if n == 1 else f"-{upload_id[:8]}-{n}"
            final = folder / f"{stem}{tail}{suffix}"
            try:
                place_new(part, final)
            except FileExistsError:
                if same_file(final, digest):
                    part.unlink()
                    return final
                continue
            write_protect(final)
            fsync_dir(folder)
            return final
        raise Conflict(f"no free name for {name} in its folder", field="file_name")

    # --- disk space ----------------------------------------------------------------
    def _reservations(self) -> dict[str, int]:
        """Declared totals of unfinished uploads; read from disk once (a restart keeps them)."""
        if self._reserved is None:
            self._reserved = {}
            if self.incoming.is_dir():
                for meta_path in self.incoming.glob("*.json"):
                    meta = self._meta(meta_path)
                    if not meta.get("location") and isinstance(meta.get("total"), int):
                        self._reserved[meta_path.stem] = meta["total"]
        return self._reserved

    def _outstanding(self, upload_id: str, total: int) -> int:
        try:
            received = (self.incoming / f"{upload_id}.part").stat().st_size
        except OSError:
            received = 0
        return max(0, total - received)

    def _reserve(self, upload_id: str, total: int) -> None:
        """Hold room for the rest of this upload, or refuse (507) if that room, on top of
        what every other unfinished upload still needs, would take the disk below the floor."""
        with self._space:
            reserved = self._reservations()
            others = sum(self._outstanding(uid, t) for uid, t in reserved.items() if uid != upload_id)
            needed = self._outstanding(upload_id, total)
            self.storage_dir.mkdir(parents=True, exist_ok=True)
            room = (free_bytes(self.storage_dir) - self.disk_floor_bytes - others
                    - self.reserved_elsewhere())
            if needed > room:
                raise StorageFull(f"not enough disk space for this upload: it needs {needed} more "
                                  f"bytes, {max(room, 0)} are free above the disk floor once "
                                  f"{len(reserved) - (upload_id in reserved)} other unfinished "
                                  "upload(s) are complete")
            reserved[upload_id] = total

    def outstanding_bytes(self) -> int:
        """Bytes unfinished uploads have reserved and not received yet (exports count them)."""
        with self._space:
            return sum(self._outstanding(uid, t) for uid, t in self._reservations().items())

    def _unreserve(self, upload_id: str) -> None:
        with self._space:
            self._reservations().pop(upload_id, None)

    def check_floor(self, more: int) -> None:
        if free_bytes(self.storage_dir) - more < self.disk_floor_bytes:
            raise StorageFull("the disk is at its floor: no more upload bytes are taken")
