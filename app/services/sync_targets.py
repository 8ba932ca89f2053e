"""Where a sync job puts its files: a folder, or another station's upload endpoint.

Both destinations speak one small resumable protocol, so the job runner in
`app.services.sync` does not care which one it talks to:

- `state(item)`: how many bytes of the file the destination already holds, or where its
  verified copy is if it already has one (then nothing is sent again);
- `send(item, source, offset, progress)`: append the rest of the file from `offset`;
- `finish(item)`: the destination checks the MD5 and files the copy; returns its location;
- `abort()`: called from another thread to break off a blocking transfer (station shutdown).

Tokens for a far station come inside the location URL (`http://:TOKEN@host:4035/` or
`?accessToken=TOKEN`); `parse_location` splits them off, and everything shown or stored
carries the masked form only.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Protocol
from urllib.parse import parse_qs, quote, unquote, urlsplit

from app.errors import InvalidInput
from app.models import SyncItem
from app.schemas import MASK
from app.services.common import fsync_dir, safe_name
from recorder.mp4file import file_md5

CHUNK = 1 << 20
Progress = Callable[[int], None]


class SyncInterrupted(Exception):
    """The station is stopping: leave the job as it is, it resumes on the next start."""


class TargetRefused(Exception):
    """The destination refuses every file (wrong token, no space): the whole job fails."""


class TargetUnreachable(Exception):
    """Network trouble talking to the far station: worth another try."""


class NotVerified(Exception):
    """The copy did not match the MD5 (the destination discarded it) or is incomplete."""


class FileProblem(Exception):
    """This one file cannot be synced; the job goes on with the others."""


@dataclass(frozen=True)
class RemoteState:
    received: int
    location: str | None = None  # set when a verified copy is already there


@dataclass(frozen=True)
class Location:
    """A parsed `location`: a folder or a station base URL, the token split off."""

    kind: str  # "directory" | "station"
    shown: str  # what responses and logs show: the token masked
    path: Path | None = None
    base_url: str | None = None  # scheme://host:port/prefix, no credentials, no trailing slash
    token: str | None = field(default=None, repr=False)


class Target(Protocol):
    def state(self, item: SyncItem) -> RemoteState: ...
    def send(self, item: SyncItem, source: Path, offset: int, progress: Progress) -> None: ...
    def finish(self, item: SyncItem) -> str: ...
    def abort(self) -> None: ...


def parse_location(raw: str) -> Location:
    """Validate a sync destination; `InvalidInput(field="location")` names what is wrong."""
    if "://" in raw:
        return _station_location(raw)
    path = Path(raw)
    if not path.is_absolute():
        raise InvalidInput("location must be an absolute directory path or a station URL "
                           "(http:// or https://)", field="location")
    path = Path(os.path.normpath(path))
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise InvalidInput(f"location: {probe} is not a directory", field="location")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InvalidInput(f"location: {probe} is not writable", field="location")
    return Location("directory", str(path), path=path)


def _station_location(raw: str) -> Location:
    try:
        url = urlsplit(raw)
        port = url.port
    except ValueError as exc:
        raise InvalidInput(f"location is not a valid URL: {exc}", field="location") from None
    if url.scheme not in ("http", "https"):
        raise InvalidInput(f"location: a station URL must be http:// or https://, not {url.scheme}://",
                           field="location")
    if not url.hostname:
        raise InvalidInput("location: the station URL has no host", field="location")
    host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
    netloc = f"{host}:{port}" if port else host
    base = f"{url.scheme}://{netloc}{url.path.rstrip('/')}"
    in_userinfo = url.password  # `http://:TOKEN@host/`: a user name alone is not a secret
    in_query = (parse_qs(url.query).get("accessToken") or [None])[0]
    token = unquote(in_userinfo) if in_userinfo else in_query
    if in_userinfo:
        shown = f"{url.scheme}://:{MASK}@{netloc}{url.path.rstrip('/')}/"
    elif in_query:
        shown = f"{base}/?accessToken={MASK}"
    else:
        shown = base + "/"
    return Location("station", shown, base_url=base, token=token or None)


class DirectoryTarget:
    """`<root>/<tag>/<file>`, written as `.<file>.part`, fsynced, re-read and checked against
    the catalog's MD5, then renamed into place. A different file already at the final name
    is never overwritten."""

    def __init__(self, root: Path, tag_name: str, *, chunk_size: int = CHUNK):
        self.folder = root / safe_name(tag_name)
        self.chunk_size = chunk_size

    def _final(self, item: SyncItem) -> Path:
        return self.folder / safe_name(item.file_name)

    def _part(self, item: SyncItem) -> Path:
        return self.folder / f".{safe_name(item.file_name)}.part"

    def state(self, item: SyncItem) -> RemoteState:
        final = self._final(item)
        if final.exists():
            if file_md5(final) == item.hash_md5:
                return RemoteState(item.size_bytes, str(final))
            raise FileProblem(f"a different file already exists at {final}")
        part = self._part(item)
        return RemoteState(part.stat().st_size if part.exists() else 0)

    def send(self, item: SyncItem, source: Path, offset: int, progress: Progress) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        part = self._part(item)
        with open(source, "rb") as src, open(part, "r+b" if part.exists() else "wb") as dst:
            dst.truncate(offset)
            dst.seek(offset)
            src.seek(offset)
            try:
                while chunk := src.read(self.chunk_size):
                    dst.write(chunk)
                    progress(len(chunk))
            finally:  # what was copied stays, durable, for the next attempt to continue from
                dst.flush()
                os.fsync(dst.fileno())

    def finish(self, item: SyncItem) -> str:
        part, final = self._part(item), self._final(item)
        digest = file_md5(part)
        if digest != item.hash_md5:
            part.unlink(missing_ok=True)
            raise NotVerified(f"the copy's MD5 is {digest}, expected {item.hash_md5}; discarded")
        if final.exists():
            raise FileProblem(f"a different file appeared at {final}")
        os.replace(part, final)
        fsync_dir(self.folder)
        return str(final)

    def abort(self) -> None:
        """Local copies stop at the next chunk through `progress`; nothing to break off."""


class _Body:
    """The request body of a PUT: the file from its offset, counted through `progress`
    (which raises `SyncInterrupted` when the station stops, cutting the request)."""

    def __init__(self, fh: BinaryIO, progress: Progress, chunk_size: int):
        self.fh, self.progress, self.chunk_size = fh, progress, chunk_size

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(min(size, self.chunk_size) if size and size > 0 else self.chunk_size)
        if data:
            self.progress(len(data))
        return data


class StationTarget:
    """Another station's `/api/v1/upload/{upload_id}` endpoint (the upload id is the record
    id), over plain blocking HTTP: it runs on the sync worker thread. One connection per
    request, so `abort()` always knows which socket to shut."""

    def __init__(self, location: Location, *, station_name: str, tag_name: str,
                 timeout: float = 30.0, chunk_size: int = CHUNK):
        assert location.base_url is not None
        url = urlsplit(location.base_url)
        self.base_url, self.token = location.base_url, location.token
        self.station_name, self.tag_name, self.timeout = station_name, tag_name, timeout
        self.chunk_size = chunk_size
        self._factory = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        self._host, self._port, self._prefix = url.hostname, url.port, url.path.rstrip("/")
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def upload_url(self, item: SyncItem) -> str:
        """The far end's resource describing the verified copy: the record's `sync_location`."""
        return f"{self.base_url}/api/v1/upload/{quote(item.record_id)}"

    def _request(self, method: str, path: str, *, body=None, headers: dict | None = None):
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        conn = self._factory(self._host, self._port, timeout=self.timeout, blocksize=1 << 16)
        with self._lock:
            self._conn = conn
        try:
            conn.request(method, self._prefix + path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise TargetUnreachable(f"{type(exc).__name__}: {exc}") from None
        finally:
            with self._lock:
                self._conn = None
            conn.close()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")[:200]
        detail = payload.get("detail", payload) if isinstance(payload, dict) else payload
        if response.status in (401, 403):
            raise TargetRefused(f"the far station refused the token ({response.status}: {detail})")
        if response.status == 507:
            raise TargetRefused(f"the far station has no space left ({detail})")
        if response.status >= 500:
            raise TargetUnreachable(f"the far station answered {response.status}: {detail}")
        return response.status, payload, detail

    def state(self, item: SyncItem) -> RemoteState:
        status, body, detail = self._request("GET", f"/api/v1/upload/{quote(item.record_id)}")
        if status == 404:
            return RemoteState(0)
        if status != 200 or not isinstance(body, dict):
            raise TargetRefused(f"the far station has no usable upload endpoint ({status}: {detail})")
        if body.get("complete"):
            if body.get("md5") != item.hash_md5:
                raise FileProblem("the far station holds a different file under this record id")
            return RemoteState(item.size_bytes, self.upload_url(item))
        return RemoteState(int(body.get("received") or 0))

    def send(self, item: SyncItem, source: Path, offset: int, progress: Progress) -> None:
        size = item.size_bytes
        if offset >= size:
            return
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size - offset),
                   "Content-Range": f"bytes {offset}-{size - 1}/{size}"}
        with open(source, "rb") as fh:
            fh.seek(offset)
            status, _, detail = self._request("PUT", f"/api/v1/upload/{quote(item.record_id)}",
                                              body=_Body(fh, progress, self.chunk_size),
                                              headers=headers)
        if status != 200:
            raise NotVerified(f"the far station did not take the bytes ({status}: {detail})")

    def finish(self, item: SyncItem) -> str:
        body = json.dumps({"md5": item.hash_md5, "station": self.station_name,
                           "tag_name": self.tag_name, "file_name": item.file_name}).encode()
        status, _, detail = self._request("POST", f"/api/v1/upload/{quote(item.record_id)}/finish",
                                          body=body, headers={"Content-Type": "application/json"})
        if status != 200:
            raise NotVerified(f"the far station did not verify the file ({status}: {detail})")
        return self.upload_url(item)

    def abort(self) -> None:
        with self._lock:
            conn = self._conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(2)  # socket.SHUT_RDWR: the blocked call returns at once
            except OSError:
                pass
