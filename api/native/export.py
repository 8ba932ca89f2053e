"""`/api/v1/source/{id}/export` and `/api/v1/export`: any time range as MP4, or a zip.

The export is cut into a work file first (app.recordings.export), so the answer has a
`Content-Length` and honours `Range` like a record's download (`VideoFile`); the work file is
removed once sent. A `Range` request cuts the range again: the same footage gives the same
bytes (the muxer writes no creation time), so a client may resume or seek. Where the
footage is, is the export service's decision (`ExportService.holder`, the GUI's export asks
the same): footage another station holds all of is streamed from it whole (`api.proxy`,
asked through the site client: signed for that station alone, never a token).

Every export holds its share of the work space (app.recordings.export_space) until its file
has been sent or its reader gave up: the file goes out chunk by chunk, each chunk the client
takes counting as progress, so a reader that takes nothing for `export_stall_s` is cut off
(its connection closed, its file removed) and the storage guard can take the room back.
Who asks is the client the caps count (`export_client`): the address (an IPv6 /64, all of
loopback as one), or the credential when it names a client of its own. Beyond one client's
share: 429; beyond everyone's: 503; no room above the disk floor: 507.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import socket
import struct
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from api.keys import STATION
from api.native.params import IsoDatetime, add_route, path_int, read_query
from api.native.records import PARTIAL, VideoFile
from api.native.routedoc import Binary
from api.proxy import from_owner
from api.routing import call
from api.security import PRINCIPAL, client_address
from app.errors import StationError
from app.recordings.bookmarks import AROUND_S
from app.recordings.export import ExportFile
from app.recordings.export_space import ExportsBusy
from app.schemas import iso_utc
from app.site.client import SOURCE_EXPORT

SEND_CHUNK = 256 * 1024  # bytes read and written at a time; each one taken is progress
# Credentials every client of a station may share: the caps count those clients by address.
SHARED_CREDENTIALS = frozenset({"open", "station-token", "anonymous"})
MAX_AROUND_S = 12 * 3600  # either side of a bookmark: the export's 24 h at most in all
RANGE_NOTE = ("`begin`/`end`: ISO 8601 (`2026-11-26T10:15:04.075Z`; without a zone: UTC), "
              "`end` after `begin`, at most 24 h apart. ")


class ExportQuery(BaseModel):
    begin: IsoDatetime = Field(description="first instant shown (ISO 8601, UTC without a zone)")
    end: IsoDatetime = Field(description="the export stops before this instant")


class ExportManyQuery(ExportQuery):
    source_ids: str = Field(pattern=r"^[0-9]{1,18}(,[0-9]{1,18}){0,63}$",
                            description="comma-separated source ids (at most 64): `1,2`")

    def ids(self) -> list[int]:
        return [int(v) for v in self.source_ids.split(",")]


class WorkFile(VideoFile):
    """An export's work file, sent with Range/ETag handling (`VideoFile`), then handed back:
    once the whole body has been written, the client left half-way, or the service cut off a
    stalled reader (it closes the connection through the abort registered here)."""

    def __init__(self, request: web.Request, export: ExportFile) -> None:
        super().__init__(export.path, headers={
            "Content-Type": export.media_type, "Accept-Ranges": "bytes",
            "Content-Disposition": f'attachment; filename="{export.filename}"'})
        self.export = export
        self.exports = request.app[STATION].exports

    async def prepare(self, request: web.BaseRequest):
        if self.prepared:
            return await super().prepare(request)
        transport, lease = request.transport, self.export.lease
        if transport is not None and lease is not None:
            loop = asyncio.get_running_loop()
            self.exports.space.on_abort(lease, lambda: loop.call_soon_threadsafe(_cut_off,
                                                                                 transport))
        try:
            return await super().prepare(request)
        finally:
            await call(self.exports.discard, self.export)

    async def _sendfile(self, request: web.BaseRequest, fobj, offset: int, count: int):
        """aiohttp's hook for the body (instead of `loop.sendfile`, whose progress cannot be
        seen): a chunk at a time, each one the client takes telling the service the reader
        lives; the file is closed before the export is handed back, so its space is free."""
        writer = await web.StreamResponse.prepare(self, request)
        assert writer is not None
        loop = asyncio.get_running_loop()
        lease = self.export.lease
        try:
            while count > 0:
                chunk = await loop.run_in_executor(None, self._seek_and_read, fobj, offset,
                                                   min(SEND_CHUNK, count))
                if not chunk:
                    break
                await writer.write(chunk)
                offset, count = offset + len(chunk), count - len(chunk)
                if lease is not None:
                    self.exports.space.touch(lease)
            await writer.drain()
        finally:
            fobj.close()
        return writer


def _cut_off(transport: asyncio.Transport) -> None:
    """Close a stalled reader's connection now (a reset: what the kernel still holds for it
    is dropped, not kept sending to a reader that does not read)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def export_client(request: web.Request) -> str:
    """Whom an export counts against: a credential that names its client (`ak:…`), else the
    address: an IPv6 client by its /64 (one host holds a whole /64), and all of loopback as
    one (any local program can bind any address of 127.0.0.0/8)."""
    principal = request.get(PRINCIPAL)
    who = principal.who if principal is not None else "anonymous"
    if who not in SHARED_CREDENTIALS:
        return who
    address = client_address(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def busy(exc: ExportsBusy) -> web.Response:
    """429 for one client's share, 503 for everyone's; `Retry-After` either way."""
    return web.json_response({"detail": exc.message}, status=429 if exc.per_client else 503,
                             headers={"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))})


def audit_download(request: web.Request, target: str, result: str) -> None:
    """Footage handed to a client: a read, so the guard does not audit it; recorded here as
    "download footage" (an export cut for the client, an evidence package)."""
    principal = request[PRINCIPAL]
    resource = request.match_info.route.resource  # the pattern, never the client's path
    request.app[STATION].audit.record(
        dialect=principal.dialect, address=principal.address, who=principal.who,
        action="download footage",
        detail=f"{request.method} {resource.canonical if resource is not None else ''}",
        target=target, result=result)


async def _work_file(request: web.Request, source_ids: list[int], begin: datetime,
                     end: datetime) -> web.StreamResponse:
    """Cut (a client gone meanwhile stops the cut) and send; the caps' refusals answered."""
    transport = request.transport
    target = (f"source {source_ids[0]}" if len(source_ids) == 1
              else f"sources {','.join(map(str, source_ids))}") + \
        f", {iso_utc(begin)} to {iso_utc(end)}"
    try:
        export = await call(request.app[STATION].exports.export, source_ids, begin, end,
                            client=export_client(request),
                            cancelled=lambda: transport is None or transport.is_closing())
    except ExportsBusy as exc:
        audit_download(request, target, "failed: busy")
        return busy(exc)
    except StationError as exc:
        audit_download(request, target, f"failed: {exc.kind}")
        raise
    audit_download(request, target, "ok")
    return WorkFile(request, export)


class AroundQuery(BaseModel):
    before_s: float = Field(AROUND_S, ge=0, le=MAX_AROUND_S,
                            description="seconds before the bookmark")
    after_s: float = Field(AROUND_S, ge=0, le=MAX_AROUND_S, description="seconds after it")


async def _export_range(request: web.Request, source_id: int, begin: datetime,
                        end: datetime) -> web.StreamResponse:
    exports = request.app[STATION].exports
    holder = await call(exports.holder, source_id, begin, end)
    if holder is not None:  # all of it on another station's disk: that station cuts it
        return await from_owner(request, holder, SOURCE_EXPORT,
                                {"begin": iso_utc(begin), "end": iso_utc(end)},
                                source_id=source_id)
    return await _work_file(request, [source_id], begin, end)


async def export_source(request: web.Request) -> web.StreamResponse:
    source_id = path_int(request, "source_id")
    query = read_query(request, ExportQuery)
    return await _export_range(request, source_id, query.begin, query.end)


async def export_bookmark(request: web.Request) -> web.StreamResponse:
    query = read_query(request, AroundQuery)
    source_id, begin, end = await call(request.app[STATION].bookmarks.range_around,
                                       path_int(request, "bookmark_id"),
                                       query.before_s, query.after_s)
    return await _export_range(request, source_id, begin, end)


async def export_sources(request: web.Request) -> web.StreamResponse:
    query = read_query(request, ExportManyQuery)
    return await _work_file(request, query.ids(), query.begin, query.end)


LIMITS_NOTE = ("An export is cut into a work file first, which counts until it has been "
               "sent: 507 when it does not fit above `disk_floor_mb`; 429 when this client "
               "has `export_max_files_per_client` exports (or `export_max_mb_per_client`) "
               "being cut or sent; 503 when all clients have `export_max_files` (or "
               "`export_max_mb`), or two are being cut. A reader that takes no byte for "
               "`export_stall_s` is cut off.")
async def cancel_exports(app: web.Application) -> None:
    """`on_shutdown`: the API stops; exports still being sent are cut off at once rather than
    holding the shutdown until a reader that does not read times out."""
    await call(app[STATION].exports.space.reclaim, "the station stops")


RANGE_HEADER = {"Range": "`bytes=a-b`, `bytes=a-` or `bytes=-n` (the same range gives the "
                         "same bytes again)"}


def setup(app: web.Application) -> None:
    app.on_shutdown.append(cancel_exports)
    add_route(app, "GET", "/api/v1/source/{source_id}/export", export_source, role="operator",
              summary="Export a time range of a source as one MP4",
              description=RANGE_NOTE + "Extension. Cut by stream copy from the records that "
              "cover the range, across file boundaries, starting at the keyframe at or before "
              "`begin` with an edit list, so playback starts at `begin`. `Content-Length`, "
              "single byte ranges (206). Footage recorded by another station is fetched from "
              "it. 404 when nothing was recorded in the range. " + LIMITS_NOTE,
              path_types={"source_id": int}, query=ExportQuery,
              binary=Binary("video/mp4", "the range as MP4"), errors=(404, 409, 429, 503, 507),
              headers=RANGE_HEADER, extra_responses=PARTIAL)
    add_route(app, "GET", "/api/v1/bookmark/{bookmark_id}/export", export_bookmark, role="operator",
              summary="Export the footage around a bookmark as one MP4",
              description="Extension. The bookmark's source from `before_s` seconds before "
              "its moment to `after_s` after (30 s each by default, 12 h at most), cut as "
              "`/api/v1/source/{id}/export` does. 404: no such bookmark, or nothing recorded "
              "around it; 422 on `bookmark_id`: its source was deleted. " + LIMITS_NOTE,
              path_types={"bookmark_id": int},
              query=AroundQuery, binary=Binary("video/mp4", "the range as MP4"),
              errors=(404, 422, 429, 503, 507), headers=RANGE_HEADER, extra_responses=PARTIAL)
    add_route(app, "GET", "/api/v1/export", export_sources, role="operator",
              summary="Export a time range of several sources as a zip",
              description=RANGE_NOTE + "Extension. A zip (stored, not compressed) holding one "
              "MP4 per source, each cut as `/api/v1/source/{id}/export` does; this station's "
              "footage only (409 naming the station that holds another's). `Content-Length` "
              "and single byte ranges. " + LIMITS_NOTE, query=ExportManyQuery,
              binary=Binary("application/zip", "one MP4 per source"),
              errors=(404, 409, 429, 503, 507),
              headers=RANGE_HEADER, extra_responses=PARTIAL)
