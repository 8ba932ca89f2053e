"""Serving what another station of the site holds: a source's picture or MJPEG, a record's
file. Video stays on the disk of the station that recorded it, so a station asked for another
station's footage streams it from the owner's API (with the shared token), chunk by chunk:
`Range` and `If-Range` go through and the owner's answer (206, `Content-Range`, `ETag`, a 416)
comes back as it is, never a full copy in memory. Shared by every handler that serves media.
"""

from __future__ import annotations

import logging

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from api.keys import STATION
from api.routing import call

log = logging.getLogger(__name__)

PROXY_SESSION = web.AppKey("proxy_session", ClientSession)
CHUNK = 64 << 10
# Request headers that reach the owner; response headers that come back. Nothing else: the
# owner's cookies, server banner or anything naming its address stay there.
FORWARD_REQUEST = ("Range", "If-Range", "Accept")
FORWARD_RESPONSE = ("Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "ETag",
                    "Last-Modified", "Cache-Control", "Pragma", "Retry-After")
TIMEOUT = ClientTimeout(total=None, sock_connect=5, sock_read=30)


async def _open_session(app: web.Application) -> None:
    app[PROXY_SESSION] = ClientSession(timeout=TIMEOUT, auto_decompress=False)


async def _close_session(app: web.Application) -> None:
    await app[PROXY_SESSION].close()


def setup(app: web.Application) -> None:
    app.on_startup.append(_open_session)
    app.on_cleanup.append(_close_session)


def remote_owner(request: web.Request, station_id: str | None) -> str | None:
    """`station_id` when it is another station's (the request must go there), else None."""
    site = request.app[STATION].site
    return None if site.is_local(station_id) else station_id


async def from_owner(request: web.Request, station_id: str, path_qs: str) -> web.StreamResponse:
    """Stream `GET path_qs` of the owning station to the client. An owner away is a 503
    (`Unavailable`, raised by `Peers.base_url`), as is one that stops answering mid-way."""
    peers = request.app[STATION].peers
    base = await call(peers.base_url, station_id)
    headers = {**peers.headers(), **{h: request.headers[h] for h in FORWARD_REQUEST
                                     if h in request.headers}}
    session = request.app[PROXY_SESSION]
    response: web.StreamResponse | None = None
    try:
        async with session.get(base + path_qs, headers=headers, allow_redirects=False) as upstream:
            response = web.StreamResponse(status=upstream.status, headers={
                h: upstream.headers[h] for h in FORWARD_RESPONSE if h in upstream.headers})
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(CHUNK):
                await response.write(chunk)
            await response.write_eof()
            return response
    except (ClientError, TimeoutError) as exc:
        log.warning("proxy to station %s for %s: %s", station_id, request.path, exc)
        if response is not None and response.prepared:
            return response  # cut short: the client sees fewer bytes than Content-Length said
        return web.json_response({"detail": f"the station that holds this did not answer "
                                  f"({type(exc).__name__})"}, status=503,
                                 headers={"Retry-After": "5"})
