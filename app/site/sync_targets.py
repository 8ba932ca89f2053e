"""Where a sync job puts its files: a folder, or another station's upload endpoint.

Both destinations speak one small resumable protocol, so the job runner in
`app.site.sync` does not care which one it talks to:

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
import ipaddress
import json
import os
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO, Callable, Protocol, Sequence
from urllib.parse import parse_qs, unquote, urlsplit

from app.errors import InvalidInput
from app.files import fsync_dir, safe_name
from app.models import SyncItem
from app.schemas import MASK
from app.site.client import UPLOAD_APPEND, UPLOAD_FINISH, UPLOAD_STATE
from app.site.final_copies import open_part, place_new, same_file, write_protect
from recorder.mp4file import file_md5
from recorder.outgoing import OutgoingPolicy, RefusedAddress

CHUNK = 1 << 20
MAX_ANSWER = 64 << 10  # the most of a far end's answer read (the rest is never looked at)
Progress = Callable[[int], None]


def answer(status: int) -> str:
    """A status code in the station's own words (`404 Not Found`), never the far end's."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def network_problem(exc: BaseException) -> str:
    """Network trouble in the station's own words: an exception's text may quote what the far
    end sent (`BadStatusLine` holds its first line)."""
    if isinstance(exc, http.client.RemoteDisconnected):
        return "it closed the connection without answering"
    if isinstance(exc, http.client.HTTPException):
        return "its answer is not HTTP"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "its TLS certificate did not verify"
    if isinstance(exc, ssl.SSLError):
        return "the TLS handshake failed"
    if isinstance(exc, socket.gaierror):
        return "its host name does not resolve"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return "the connection broke"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror  # the operating system's words
    return type(exc).__name__


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


def parse_location(raw: str, sync_dirs: Sequence[Path] = (),
                   policy: OutgoingPolicy | None = None) -> Location:
    """Validate a sync destination; `InvalidInput(field="location")` names what is wrong.
    A folder must lie inside one of `sync_dirs` (the `sync_dirs` setting) once symbolic
    links and `..` are resolved: a sync writes nowhere else. A station URL whose host is an
    address must be one `policy` (the outgoing policy; None: loopback and private networks)
    allows; a name is checked on what it resolves to at every connection."""
    if "://" in raw:
        return _station_location(raw, policy or OutgoingPolicy())
    if not Path(raw).is_absolute():
        raise InvalidInput("location must be an absolute directory path or a station URL "
                           "(http:// or https://)", field="location")
    try:
        path = Path(os.path.realpath(raw))
        allowed = [Path(os.path.realpath(d)) for d in sync_dirs]
    except (OSError, ValueError):
        raise InvalidInput("location is not a usable directory path", field="location") from None
    if not any(path == d or path.is_relative_to(d) for d in allowed):
        shown = ", ".join(str(d) for d in allowed) or "none"
        raise InvalidInput(f"location must be a folder inside one of the sync folders (the "
                           f"sync_dirs setting: {shown})", field="location")
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise InvalidInput(f"location: {probe} is not a directory", field="location")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InvalidInput(f"location: {probe} is not writable", field="location")
    return Location("directory", str(path), path=path)


def _station_location(raw: str, policy: OutgoingPolicy) -> Location:
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
    try:
        ip = ipaddress.ip_address(url.hostname)
    except ValueError:
        ip = None  # a name: checked when connecting
    reason = policy.refusal(ip) if ip is not None else None
    if reason is not None:
        raise InvalidInput(f"location: the address {ip} is {reason}", field="location")
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
    the catalog's MD5, then filed under a name claimed atomically and write-protected. A
    different file already at the final name (or one that appears there meanwhile, from
    another station syncing into the same folder) is never overwritten; symbolic links
    planted at the tag folder or the `.part` name are not followed."""

    def __init__(self, root: Path, tag_name: str, *, chunk_size: int = CHUNK):
        self.root = root
        self.folder = root / safe_name(tag_name)
        self.chunk_size = chunk_size

    def _final(self, item: SyncItem) -> Path:
        return self.folder / safe_name(item.file_name)

    def _part(self, item: SyncItem) -> Path:
        return self.folder / f".{safe_name(item.file_name)}.part"

    def _check_folder(self) -> None:
        if self.folder.is_symlink() or (self.folder.exists() and not self.folder.is_dir()):
            raise FileProblem(f"{self.folder} is not a plain folder")

    def state(self, item: SyncItem) -> RemoteState:
        self._check_folder()
        final = self._final(item)
        if final.exists() or final.is_symlink():
            if same_file(final, item.hash_md5):
                return RemoteState(item.size_bytes, str(final))
            raise FileProblem(f"a different file already exists at {final}")
        part = self._part(item)
        return RemoteState(part.stat().st_size if part.is_file() and not part.is_symlink() else 0)

    def send(self, item: SyncItem, source: Path, offset: int, progress: Progress) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._check_folder()
        part = self._part(item)
        try:
            fd = open_part(part, append=False)
        except OSError as exc:
            raise FileProblem(f"cannot write {part}: {exc.strerror}") from None
        with open(source, "rb") as src, os.fdopen(fd, "r+b") as dst:
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
        self._check_folder()
        digest = file_md5(part)
        if digest != item.hash_md5:
            part.unlink(missing_ok=True)
            raise NotVerified(f"the copy's MD5 is {digest}, expected {item.hash_md5}; discarded")
        try:
            place_new(part, final)
        except FileExistsError:
            part.unlink(missing_ok=True)
            if same_file(final, item.hash_md5):  # the same bytes, filed by someone else
                return str(final)
            raise FileProblem(f"a different file appeared at {final}") from None
        write_protect(final)
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
    """Another station's upload endpoint (the site client's `UPLOAD_*` routes; the upload id
    is the record id), over plain blocking HTTP: it runs on the sync worker thread. One
    connection per request, so `abort()` always knows which socket to shut."""

    def __init__(self, location: Location, *, station_name: str, tag_name: str,
                 timeout: float = 30.0, chunk_size: int = CHUNK,
                 policy: OutgoingPolicy | None = None):
        assert location.base_url is not None
        url = urlsplit(location.base_url)
        self.base_url, self.token = location.base_url, location.token
        self.station_name, self.tag_name, self.timeout = station_name, tag_name, timeout
        self.chunk_size = chunk_size
        self._factory = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        self._host, self._port, self._prefix = url.hostname, url.port, url.path.rstrip("/")
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        # every connection to an address the outgoing policy checked just then (no redirect
        # is ever followed: http.client does not)
        self._policy = policy or OutgoingPolicy()

    def upload_url(self, item: SyncItem) -> str:
        """The far end's resource describing the verified copy: the record's `sync_location`."""
        return self.base_url + UPLOAD_STATE.path_qs(upload_id=item.record_id)

    def _request(self, method: str, path: str, *, body=None,
                 headers: dict | None = None) -> tuple[int, object]:
        """(status, decoded JSON or None) of one request. What the far end says beyond its
        status code never reaches an error, an item or the log: the URL may point at any
        HTTP service, whose answers are not for the sender's callers to read."""
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        conn = self._factory(self._host, self._port, timeout=self.timeout, blocksize=1 << 16)
        conn._create_connection = self._policy.create_connection  # type: ignore[attr-defined]
        with self._lock:
            self._conn = conn
        try:
            conn.request(method, self._prefix + path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read(MAX_ANSWER)
        except RefusedAddress as exc:
            raise TargetRefused(f"the far station's address is refused: {exc}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise TargetUnreachable(f"the far station is unreachable: {network_problem(exc)}") from None
        finally:
            with self._lock:
                self._conn = None
            conn.close()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        status = response.status
        if status in (401, 403):
            raise TargetRefused(f"the far station refused the token ({answer(status)})")
        if status == 507:
            raise TargetRefused(f"the far station has no space left ({answer(status)})")
        if status >= 500:
            raise TargetUnreachable(f"the far station failed ({answer(status)})")
        return status, payload

    def _not_an_endpoint(self, status: int) -> TargetRefused:
        return TargetRefused(f"the far end has no usable station upload endpoint ({answer(status)})")

    def state(self, item: SyncItem) -> RemoteState:
        status, body = self._request(UPLOAD_STATE.method,
                                     UPLOAD_STATE.path_qs(upload_id=item.record_id))
        if status == 404 and isinstance(body, dict) and isinstance(body.get("detail"), str):
            return RemoteState(0)  # a station's "no such upload": nothing sent yet
        received = body.get("received") if isinstance(body, dict) else None
        if status != 200 or not isinstance(received, int) or isinstance(received, bool) \
                or received < 0:
            raise self._not_an_endpoint(status)
        if body.get("complete") is True:
            if body.get("md5") != item.hash_md5:
                raise FileProblem("the far station holds a different file under this record id")
            return RemoteState(item.size_bytes, self.upload_url(item))
        return RemoteState(received)

    def send(self, item: SyncItem, source: Path, offset: int, progress: Progress) -> None:
        size = item.size_bytes
        if offset >= size:
            return
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size - offset),
                   "Content-Range": f"bytes {offset}-{size - 1}/{size}"}
        with open(source, "rb") as fh:
            fh.seek(offset)
            status, _ = self._request(UPLOAD_APPEND.method,
                                      UPLOAD_APPEND.path_qs(upload_id=item.record_id),
                                      body=_Body(fh, progress, self.chunk_size), headers=headers)
        if status == 422:  # a station's refusal of these bytes (offset moved, total differs)
            raise NotVerified(f"the far station did not take the bytes ({answer(status)})")
        if status != 200:
            raise self._not_an_endpoint(status)

    def finish(self, item: SyncItem) -> str:
        body = json.dumps({"md5": item.hash_md5, "station": self.station_name,
                           "tag_name": self.tag_name, "file_name": item.file_name}).encode()
        status, answered = self._request(UPLOAD_FINISH.method,
                                         UPLOAD_FINISH.path_qs(upload_id=item.record_id),
                                         body=body, headers={"Content-Type": "application/json"})
        if status in (404, 422) and isinstance(answered, dict) and "detail" in answered:
            raise NotVerified(f"the far station did not verify the file ({answer(status)})")
        if status != 200:
            raise self._not_an_endpoint(status)
        return self.upload_url(item)

    def abort(self) -> None:
        with self._lock:
            conn = self._conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(2)  # socket.SHUT_RDWR: the blocked call returns at once
            except OSError:
                pass
