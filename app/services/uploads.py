"""The receiving end of a station-to-station sync: resumable uploads, MD5-verified.

An upload is named by the sender (its record id). Its bytes accumulate in
`<storage>/.uploads/<id>.part` (a chunk may break off anywhere: what arrived stays, and
`status` tells the sender where to continue); a small `<id>.json` beside it remembers the
total and, once finished, the MD5 and final place, so a sender that lost track learns the
file is already here instead of sending it again. `finish` re-reads the whole file, checks
the MD5 the sender expects, and only then moves it to
`<storage>/synced/<sending station>/<tag>/<file>`; a mismatch discards the bytes.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

from app.errors import Conflict, InvalidInput, NotFound, StorageFull
from app.schemas import UploadFinishIn, UploadOut
from app.services.common import fsync_dir, safe_name
from recorder.mp4file import file_md5, free_bytes

UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ChunkWriter:
    """Appends one request's body to an upload; `close()` makes it durable and releases the
    upload for the next request, however the body ended."""

    def __init__(self, service: "UploadService", upload_id: str, path: Path, limit: int):
        self.service, self.upload_id, self.limit = service, upload_id, limit
        self.written = 0
        self._fh = open(path, "ab")

    def write(self, data: bytes) -> None:
        if self.written + len(data) > self.limit:
            raise InvalidInput("the body is longer than its Content-Range", field="Content-Range")
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
    def __init__(self, storage_dir: Path, *, disk_floor_bytes: int = 0):
        self.storage_dir = storage_dir
        self.incoming = storage_dir / ".uploads"
        self.synced = storage_dir / "synced"
        self.disk_floor_bytes = disk_floor_bytes
        self.claim_wait = 10.0
        self._released = threading.Condition()
        self._busy: set[str] = set()

    # --- state on disk -------------------------------------------------------------
    def _paths(self, upload_id: str) -> tuple[Path, Path]:
        if not UPLOAD_ID.match(upload_id):
            raise InvalidInput("upload_id must be 1-64 letters, digits, '-' or '_'", field="upload_id")
        return self.incoming / f"{upload_id}.part", self.incoming / f"{upload_id}.json"

    @staticmethod
    def _meta(meta_path: Path) -> dict:
        try:
            return json.loads(meta_path.read_text())
        except (OSError, ValueError):
            return {}

    @staticmethod
    def _save_meta(meta_path: Path, meta: dict) -> None:
        tmp = meta_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, meta_path)

    def status(self, upload_id: str) -> UploadOut:
        part, meta_path = self._paths(upload_id)
        meta = self._meta(meta_path)
        if not meta and not part.exists():
            raise NotFound("upload", upload_id, field="upload_id")
        if meta.get("location"):
            return UploadOut(upload_id=upload_id, received=meta["total"], total=meta["total"],
                             complete=True, md5=meta.get("md5"), location=meta["location"])
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
            meta = self._meta(meta_path)
            if meta.get("location"):
                raise Conflict("the upload is already complete", field="upload_id")
            if meta.get("total") not in (None, total):
                raise InvalidInput(f"the upload's total is {meta['total']} bytes, not {total}",
                                   field="Content-Range")
            received = part.stat().st_size if part.exists() else 0
            if start != received:
                raise Conflict(f"the upload holds {received} bytes: continue from byte {received}",
                               field="Content-Range")
            self._check_space(total - received)
            self.incoming.mkdir(parents=True, exist_ok=True)
            if not meta:
                self._save_meta(meta_path, {"total": total})
            return ChunkWriter(self, upload_id, part, end - start + 1)
        except BaseException:
            self._release(upload_id)
            raise

    def finish(self, upload_id: str, data: UploadFinishIn) -> UploadOut:
        """Verify the whole file against `data.md5` and file it; idempotent once verified."""
        part, meta_path = self._paths(upload_id)
        expected = data.md5.lower()
        self._claim(upload_id)
        try:
            meta = self._meta(meta_path)
            if meta.get("location"):
                if meta.get("md5") != expected:
                    raise InvalidInput("the upload was verified with a different MD5", field="md5")
                return self.status(upload_id)
            if not meta or not part.exists():
                raise NotFound("upload", upload_id, field="upload_id")
            received = part.stat().st_size
            if received != meta["total"]:
                raise Conflict(f"the upload is incomplete: {received} of {meta['total']} bytes",
                               field="upload_id")
            digest = file_md5(part)
            if digest != expected:
                part.unlink(missing_ok=True)
                meta_path.unlink(missing_ok=True)
                raise InvalidInput(f"MD5 mismatch: the received file hashes to {digest}, not "
                                   f"{expected}; it was discarded", field="md5")
            final = self._place(part, data, upload_id, digest)
            self._save_meta(meta_path, {"total": received, "md5": digest, "location": str(final)})
            return self.status(upload_id)
        finally:
            self._release(upload_id)

    def _place(self, part: Path, data: UploadFinishIn, upload_id: str, digest: str) -> Path:
        folder = self.synced / safe_name(data.station) / safe_name(data.tag_name)
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / safe_name(data.file_name)
        if final.exists():
            if file_md5(final) == digest:  # the same file came before under another id
                part.unlink()
                return final
            final = final.with_name(f"{final.stem}-{upload_id[:8]}{final.suffix}")
        os.replace(part, final)
        fsync_dir(folder)
        return final

    def _check_space(self, needed: int) -> None:
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        if free_bytes(self.storage_dir) - needed < self.disk_floor_bytes:
            raise StorageFull(f"not enough space in {self.storage_dir} for {needed} more bytes")
