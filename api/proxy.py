"""Serving what another station of the site holds: a source's picture or MJPEG, a record's
file, an export. Video stays on the disk of the station that recorded it, so a station asked
for another station's footage streams it from the owner's API, chunk by chunk: `Range` and
`If-Range` go through and the owner's answer (206, `Content-Range`, `ETag`, a 416) comes back
as it is, never a full copy in memory. Shared by every handler that serves media.

Who is asked, and on which route, is the site client's (app.site.client, issue #22): a
handler names the `Route` and its parameters, never a URL; the client gives the owner's
checked address and the headers signed for the owner alone (`SiteClient.relay`, issue #21
item 4: never the site token), and says whether the answer proves it comes from the owner
(`SiteClient.proved`). What stays here is the streaming itself, on the event loop: connected
to only where the outgoing-address policy allows (names resolved through it, `PolicyResolver`;
literals checked); no redirect is followed, and an answer that does not prove it comes from
the owner is a 502.

How many (item 7): one pool for streams (MJPEG, files, exports) and one for pictures, each
with a cap per owner and none across the site, so streams of one owner never hold up what is
asked of another, nor the pictures of the same one; waiting for a connection is bounded
(`POOL_TIMEOUT_S`, then 503); one client (an address, an IPv6 /64) holds at most
`STREAMS_PER_CLIENT` proxied streams (429 beyond).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web
from aiohttp.abc import AbstractResolver
from yarl import URL

from api.executors import PEERS, slow
from api.keys import STATION
from app.site.client import SOURCE_PICTURE, Route
from app.uri_policy import OutgoingPolicy

log = logging.getLogger(__name__)

PROXY_SESSIONS = web.AppKey("proxy_sessions", dict)
CHUNK = 64 << 10
# Request headers that reach the owner; response headers that come back. Nothing else: the
# owner's cookies, server banner or anything naming its address stay there.
FORWARD_REQUEST = ("Range", "If-Range", "Accept")
FORWARD_RESPONSE = ("Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "ETag",
                    "Last-Modified", "Cache-Control", "Pragma", "Retry-After")
STREAMS_PER_OWNER = 64  # proxied streams open to one owner at once (its pool's cap)
PICTURES_PER_OWNER = 32  # picture requests to one owner at once
STREAMS_PER_CLIENT = 16  # proxied streams one client holds open at once
POOL_TIMEOUT_S = 5.0  # waiting for a connection to the owner: a free one in the pool, then connecting
TIMEOUT = ClientTimeout(total=None, connect=POOL_TIMEOUT_S, sock_connect=5, sock_read=30)


class PolicyResolver(AbstractResolver):
    """Host names of other stations resolved through the outgoing-address policy, every
    address checked at connect time (no DNS cache: a name that changes is checked again)."""

    def __init__(self, policy: Callable[[], OutgoingPolicy]):
        self._policy = policy

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET):
        addresses = await asyncio.get_running_loop().run_in_executor(
            None, self._policy().resolve, host, port)
        return [{"hostname": host, "host": address, "port": port,
                 "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST} for address in addresses]

    async def close(self) -> None:
        return None


class StreamCounts:
    """Proxied streams open per client; thread-safe (the loop only, but cheap to keep so)."""

    def __init__(self, cap: int = STREAMS_PER_CLIENT):
        self.cap = cap
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}

    def take(self, client: str) -> bool:
        with self._lock:
            if self._open.get(client, 0) >= self.cap:
                return False
            self._open[client] = self._open.get(client, 0) + 1
            return True

    def give_back(self, client: str) -> None:
        with self._lock:
            left = self._open.get(client, 1) - 1
            if left > 0:
                self._open[client] = left
            else:
                self._open.pop(client, None)


STREAM_COUNTS = web.AppKey("proxied_streams", StreamCounts)


def client_key(request: web.BaseRequest) -> str:
    """Who a cap counts: the address, an IPv6 client by its /64 (it holds all of them)."""
    remote = request.remote or "-"
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return remote
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


async def _open_sessions(app: web.Application) -> None:
    def policy() -> OutgoingPolicy:
        return app[STATION].peers.outgoing()

    def session(per_owner: int) -> ClientSession:
        connector = TCPConnector(limit=0, limit_per_host=per_owner, use_dns_cache=False,
                                 resolver=PolicyResolver(policy))
        return ClientSession(connector=connector, timeout=TIMEOUT, auto_decompress=False,
                             trust_env=False)

    app[PROXY_SESSIONS] = {"stream": session(STREAMS_PER_OWNER),
                           "picture": session(PICTURES_PER_OWNER)}
    app[STREAM_COUNTS] = StreamCounts()


async def _close_sessions(app: web.Application) -> None:
    for session in app[PROXY_SESSIONS].values():
        await session.close()


def setup(app: web.Application) -> None:
    app.on_startup.append(_open_sessions)
    app.on_cleanup.append(_close_sessions)


def remote_owner(request: web.Request, station_id: str | None) -> str | None:
    """`station_id` when it is another station's (the request must go there), else None."""
    site = request.app[STATION].site
    return None if site.is_local(station_id) else station_id


async def from_owner(request: web.Request, station_id: str, route: Route,
                     query: dict[str, Any] | None = None, **params: Any) -> web.StreamResponse:
    """Stream the owning station's answer to `route` (a GET of the site client's, with its
    `query` and path `params`) to the client. An owner away is a 503 (`Unavailable`, from
    `SiteClient.relay`), as is one that stops answering mid-way or whose pool stays full for
    `POOL_TIMEOUT_S`. Finding the owner may wait for it to announce its URL: on the peers lane
    (api.executors), 503 at once when that lane is full."""
    stream = route != SOURCE_PICTURE
    client, counts = client_key(request), request.app[STREAM_COUNTS]
    if stream and not counts.take(client):
        return web.json_response({"detail": f"this client already has {counts.cap} streams of "
                                  "other stations open through this one; close one first"},
                                 status=429, headers={"Retry-After": "5"})
    try:
        return await _relay(request, station_id, "stream" if stream else "picture",
                            route, query, params)
    finally:
        if stream:
            counts.give_back(client)


async def _relay(request: web.Request, station_id: str, kind: str, route: Route,
                 query: dict[str, Any] | None, params: dict[str, Any]) -> web.StreamResponse:
    peers = request.app[STATION].peers
    # the owner's checked address and the headers signed for it; may wait for its address
    relay = await slow(request, PEERS, peers.relay, station_id, route, query, **params)
    host = urlsplit(relay.url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass  # a name: resolved and checked by PolicyResolver when connecting
    else:
        try:
            peers.outgoing().check_ip(host)  # aiohttp connects to a literal without resolving
        except OSError as exc:  # recorder.outgoing.RefusedAddress
            return _unavailable(station_id, request, exc)
    sent = relay.sent
    headers = {**{h: request.headers[h] for h in FORWARD_REQUEST if h in request.headers},
               **sent}
    session = request.app[PROXY_SESSIONS][kind]
    response: web.StreamResponse | None = None
    try:
        async with session.get(URL(relay.url, encoded=True), headers=headers,
                               allow_redirects=False) as upstream:
            if not peers.proved(sent, upstream.status, upstream.headers):
                log.warning("proxy to station %s for %s: the answer did not prove it comes from "
                            "that station (its address in the catalog is not its own?)",
                            station_id, request.path)
                return web.json_response({"detail": "the station that holds this did not "
                                          "answer as itself"}, status=502)
            response = web.StreamResponse(status=upstream.status, headers={
                h: upstream.headers[h] for h in FORWARD_RESPONSE if h in upstream.headers})
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(CHUNK):
                await response.write(chunk)
            await response.write_eof()
            return response
    except (ClientError, TimeoutError) as exc:
        if response is not None and response.prepared:
            log.warning("proxy to station %s for %s: %s", station_id, request.path, exc)
            return response  # cut short: the client sees fewer bytes than Content-Length said
        return _unavailable(station_id, request, exc)


def _unavailable(station_id: str, request: web.Request, exc: BaseException) -> web.Response:
    log.warning("proxy to station %s for %s: %s", station_id, request.path, exc)
    return web.json_response({"detail": f"the station that holds this did not answer "
                              f"({type(exc).__name__})"}, status=503,
                             headers={"Retry-After": "5"})
