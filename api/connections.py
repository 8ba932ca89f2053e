"""Connection limits for the API socket, so idle or half-sent connections cannot starve a
well-behaved client, exhaust the open-files limit or flood the log.

aiohttp's `web.Server` is the protocol factory of a `TCPSite`: it makes one `RequestHandler`
per accepted connection. `GuardedServer`/`GuardedHandler` subclass the two (aiohttp itself
is not patched) and add:

- a header timeout: a connection waiting for a request head (just opened, idle between
  requests or sending a head slowly) is closed after `header_timeout_s`. This is aiohttp's
  own keep-alive timer, which starts at `connection_made` and closes a connection still
  waiting for a complete head when it fires; the runner sets it to `header_timeout_s`.
- a body timeout: a request whose body has received no byte for `body_timeout_s` while the
  station waits for it (reading not paused by the station itself) is closed.
- a body rate: once a body has been arriving for `body_timeout_s`, it must have averaged at
  least `body_min_bytes_per_s` since its head, else the connection is closed. A byte every few
  seconds no longer holds a connection for as long as the sender likes.
- no lingering read: aiohttp keeps reading an unread body for up to 10 s after answering
  (its `lingering_time`), which let anyone refused with a 401 hold the connection; here a
  response sent before its request's body was read says `Connection: close` and the
  connection closes once it is sent (`close_if_body_unread`, lingering time 0).
- a connection cap: beyond `max_connections`, one connection is closed to make room, in this
  order: the longest-idle connection that never authenticated, then one that never
  authenticated and is still sending its body, then one opened less than `FRESH_S` ago that
  has not begun its first request yet (or whose first head is read but not yet begun), then the longest-idle authenticated one; a request
  being answered is never cut, and if no connection qualifies the new one is closed. (A
  client's connection in its first moments, before the station has read its request, is
  not the first to go for one that trickles a body: CI once saw a client with the right
  token reset that way while an attack held every other slot.) A connection the guard cuts
  frees its slot at once: counted until the loop reported it lost, a burst of new
  connections each cut one more than they needed.
  A connection counts as authenticated once a request on it passed a real credential (the
  guard calls `note_authenticated`), so credential-less floods are the first to go.
- a cap per peer: one address (an IPv6 /64, all of 127.0.0.0/8) holds at most
  `max_connections_per_address`, made room for in the same order among its own connections.
- log lines about connections (accept errors, malformed requests, timeouts, the cap) at most
  once a second each, with a count of what was left out.

`raise_open_files_limit()` lifts the soft RLIMIT_NOFILE to the hard limit, and the cap is
kept below it so the recorder and the catalog still get file descriptors.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger("api.connections")
http_log = logging.getLogger("api.http")  # aiohttp's per-connection errors, rate-limited
loop_log = logging.getLogger("api.loop")  # the API event loop's errors, rate-limited

FD_RESERVE = 200  # descriptors kept for the catalog, recordings, cameras and pipes
MIN_CONNECTIONS = 16
SWEEP_S = 1.0
FRESH_S = 1.0  # a new connection's first moments, for its first request to arrive


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int = 900
    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    tls_handshake_timeout_s: float = 10.0
    max_per_address: int = 128
    body_min_bytes_per_s: int = 1024

    @classmethod
    def from_settings(cls, settings: Any) -> "ConnectionLimits":
        return cls(max_connections=settings.max_connections,
                   header_timeout_s=settings.header_timeout_s,
                   body_timeout_s=settings.body_timeout_s,
                   tls_handshake_timeout_s=settings.header_timeout_s,
                   max_per_address=settings.max_connections_per_address,
                   body_min_bytes_per_s=settings.body_min_bytes_per_s)

    def within(self, open_files: int | None) -> "ConnectionLimits":
        """The cap lowered to fit the open-files limit (with FD_RESERVE to spare)."""
        if open_files is None:
            return self
        fit = max(MIN_CONNECTIONS, open_files - FD_RESERVE)
        if fit >= self.max_connections:
            return self
        return replace(self, max_connections=fit)


def peer_group(address: str, *, loopback_as_one: bool = False) -> str:
    """Which addresses count as one client: an IPv6 address by its /64 (one host or site
    owns a whole /64 and can rotate through it), an IPv4-mapped IPv6 address as its IPv4
    address; with `loopback_as_one`, every loopback address (a local program can bind any
    of 127.0.0.0/8) as one. Anything that is not an IP address stands for itself."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if loopback_as_one and ip.is_loopback:
        return "loopback"
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def note_authenticated(request: web.BaseRequest) -> None:
    """A request on this connection passed a real credential: the connection is no longer
    among the first to close when the cap is reached."""
    protocol = request.protocol
    if isinstance(protocol, GuardedHandler):
        protocol.authenticated = True


async def close_if_body_unread(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """An `on_response_prepare` hook: a response sent before its request's body arrived (a
    refusal, usually) closes the connection rather than wait for the rest of the body, and
    says so (`Connection: close`), so a client never reuses a connection about to close."""
    if not request.body_exists or request.content.is_eof():
        return
    if await _drained(request):
        return  # an authenticated client's refusal (507, 422 ...) it can read, as it expects
    response.force_close()
    response.headers["Connection"] = "close"  # the headers are made before this hook


DRAIN_BYTES = 16 << 20  # what is still read of an authenticated request's refused body
DRAIN_S = 5.0


async def _drained(request: web.BaseRequest) -> bool:
    """Read what is left of the body of a request on an authenticated connection (at most
    DRAIN_BYTES within DRAIN_S), so a client that sends its whole body before reading gets
    the answer instead of a broken pipe; a connection that never authenticated is not read."""
    protocol = request.protocol
    if not (isinstance(protocol, GuardedHandler) and protocol.authenticated):
        return False
    if request.content_length is None or request.content_length > DRAIN_BYTES:
        return False
    try:
        async with asyncio.timeout(DRAIN_S):
            while await request.content.readany():
                pass
    except (asyncio.TimeoutError, ConnectionError, OSError):
        return False
    return request.content.is_eof()


def raise_open_files_limit() -> int | None:
    """Soft RLIMIT_NOFILE up to the hard limit; the resulting soft limit (None: no such
    limit on this system)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-files limit from %d to %d: %s", soft, target, exc)
    return soft


class RateLimitFilter(logging.Filter):
    """At most one record per `interval_s` for each message template; the next one says how
    many were left out. Tracebacks of clients' malformed requests are dropped (their fault,
    and a flood of them is what filled the disk)."""

    def __init__(self, interval_s: float = 1.0, clock=time.monotonic):
        super().__init__()
        self.interval_s, self.clock = interval_s, clock
        self._last: dict[str, float] = {}
        self._dropped: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = f"{record.name}:{record.msg}"
        now = self.clock()
        if now - self._last.get(key, -self.interval_s) < self.interval_s:
            self._dropped[key] = self._dropped.get(key, 0) + 1
            return False
        if len(self._last) > 1000:
            self._last.clear()
        self._last[key] = now
        dropped = self._dropped.pop(key, 0)
        if dropped:
            record.msg = f"{record.msg} (and {dropped} more like it left out)"
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, (HttpProcessingError, ConnectionError, asyncio.CancelledError)):
            record.exc_info, record.exc_text = None, None
            detail = f"{type(exc).__name__}: {str(exc)[:200]}".replace("%", "%%")
            record.msg = f"{record.msg}: {detail}"
        return True


def rate_limited_exception_handler():
    """An event-loop exception handler (accept errors such as EMFILE, transport errors):
    one line per kind of error and second (`api.loop` carries a RateLimitFilter); a
    traceback only for what is not an OS error."""

    def handler(_loop: asyncio.AbstractEventLoop, context: dict) -> None:
        message = str(context.get("message") or "event loop error").replace("%", "%%")
        exc = context.get("exception")
        trace = exc if exc is not None and not isinstance(exc, OSError) else None
        loop_log.error(message + ": %s", f"{type(exc).__name__}: {exc}" if exc else "-",
                       exc_info=trace)

    return handler


class GuardedHandler(RequestHandler):
    """aiohttp's RequestHandler that notes when data last arrived and which request body it
    is reading, for GuardedServer's sweeps."""

    def __init__(self, manager: "GuardedServer", **kwargs: Any):
        super().__init__(manager, **kwargs)
        self.guard = manager
        self.last_data = 0.0
        self.received = 0  # bytes received on the connection
        self.body = None  # the current request's payload (aiohttp StreamReader)
        self.body_since = 0.0  # when the current body began (or reading last resumed)
        self.body_mark = 0  # `received` at that moment
        self.authenticated = False  # a request on it passed a real credential
        self.peer = "-"  # its address group (`peer_group`)
        self.opened = 0.0  # when it was accepted (loop time)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self.peer = peer_group(str(peer[0]), loopback_as_one=True) \
            if isinstance(peer, tuple) and peer else "-"
        super().connection_made(transport)
        self.opened = self.last_data = self._loop.time()
        self.guard.admit(self)

    def data_received(self, data: bytes) -> None:
        self.last_data = self._loop.time()
        self.received += len(data)
        super().data_received(data)

    def start_body(self, payload: Any) -> None:
        self.body = payload
        self.body_since = self.last_data = self._loop.time()
        self.body_mark = self.received
        if self.transport is None and not payload.is_eof():
            # cut between its head and its request: the handler reading the body gets the
            # same 408 as one cut while reading it, not aiohttp's "Connection closed."
            payload.set_exception(web.HTTPRequestTimeout(
                text="the request body was cut to make room for another connection",
                content_type="text/plain"))

    @property
    def waiting_for_request(self) -> bool:
        """Idle or in the middle of a request head (or just accepted, its reading task not
        started yet): nothing is being answered."""
        if self.transport is None or self._messages:
            return False
        waiter = self._waiter  # aiohttp's keep-alive check uses the same future
        if waiter is not None:
            return not waiter.done()
        return self.body is None  # no request made on it yet

    @property
    def sending_body(self) -> bool:
        body = self.body
        return body is not None and self.transport is not None and not body.is_eof()

    def body_too_slow(self, now: float, limits: ConnectionLimits) -> str | None:
        """Why the body being received has to go ("stalled", "too slow"), or None."""
        if not self.sending_body:
            return None
        if getattr(self, "_reading_paused", False):  # the station is not reading: the
            self.body_since = self.last_data = now  # clocks start again when it reads
            self.body_mark = self.received
            return None
        if now - self.last_data > limits.body_timeout_s:
            return "stalled"
        elapsed = now - self.body_since
        if elapsed > limits.body_timeout_s and \
                self.received - self.body_mark < limits.body_min_bytes_per_s * elapsed:
            return "too slow"
        return None

    def cut(self, why: str) -> None:
        """Close the connection; a handler waiting for its body gets a 408 (an HTTP error
        the middlewares pass on, not a crash with a traceback in the log)."""
        if self.sending_body:
            self.body.set_exception(web.HTTPRequestTimeout(text=f"the request body {why}",
                                                           content_type="text/plain"))
        self.force_close()
        self.guard.forget(self)  # its slot is free now, not when the loop reports it lost

    def eviction_rank(self) -> int | None:
        """Which connections make room first at a cap (lower first); None: never cut."""
        if self.transport is None:
            return None
        if self.waiting_for_request:
            if self.authenticated:
                return 3
            fresh = self.body is None and self._loop.time() - self.opened < FRESH_S
            return 2 if fresh else 0
        if not self.authenticated and self.sending_body:
            return 1
        if not self.authenticated and self.body is None and self._messages:
            return 2  # its first head is read, its request not begun yet
        return None


class GuardedServer(web.Server):
    """aiohttp's Server (the protocol factory) with the cap, the body sweep and its log."""

    def __init__(self, handler, *, request_factory, limits: ConnectionLimits, **kwargs: Any):
        super().__init__(handler, request_factory=self._noting(request_factory), **kwargs)
        self.limits = limits
        self._sweeper: asyncio.TimerHandle | None = None
        # each peer's open connections in accept order (a handler leaves when its socket does,
        # while aiohttp keeps it in `_connections` until its request task ends)
        self._by_peer: dict[str, dict[GuardedHandler, None]] = {}
        self._open = 0

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        if isinstance(handler, GuardedHandler):
            self._by_peer.setdefault(handler.peer, {})[handler] = None
            self._open += 1

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        super().connection_lost(handler, exc)
        if isinstance(handler, GuardedHandler):
            self.forget(handler)

    def forget(self, handler: GuardedHandler) -> None:
        """`handler` no longer holds a slot. Called as soon as the guard cuts a connection:
        the loop reports it lost only later, and counting it until then made every
        connection of a burst cut one more (CI saw a client with the right token reset)."""
        mine = self._by_peer.get(handler.peer)
        if mine is not None and handler in mine:
            del mine[handler]
            self._open -= 1
            if not mine:
                del self._by_peer[handler.peer]

    def _noting(self, factory):
        def make_request(message, payload, protocol, writer, task):
            if isinstance(protocol, GuardedHandler):
                protocol.start_body(payload)
            return factory(message, payload, protocol, writer, task)

        return make_request

    def __call__(self) -> RequestHandler:
        if self._sweeper is None:
            self._sweeper = self._loop.call_later(SWEEP_S, self._sweep)
        return GuardedHandler(self, loop=self._loop, **self._kwargs)  # as web.Server does

    def admit(self, handler: GuardedHandler) -> None:
        """A connection was accepted: beyond its peer's share or the cap, make room (see
        `_make_room`)."""
        mine = self._by_peer.get(handler.peer, {})
        if len(mine) > self.limits.max_per_address:
            self._make_room(handler, mine, f"{handler.peer}'s share of "
                                            f"{self.limits.max_per_address} connections")
        if handler.transport is not None and self._open > self.limits.max_connections:
            self._make_room(handler, self._connections,
                            f"connection cap {self.limits.max_connections}")

    @staticmethod
    def _make_room(handler: GuardedHandler, among, what: str) -> None:
        """Close one of `among` (accept order: oldest first) by `eviction_rank`, else the new
        connection itself."""
        best: tuple[int, GuardedHandler] | None = None
        for other in among:
            if other is handler or not isinstance(other, GuardedHandler):
                continue
            rank = other.eviction_rank()
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, other)
                if rank == 0:
                    break
        if best is None:
            handler.force_close()
            http_log.warning("%s reached and every connection busy: refused a new connection",
                             what)
            return
        best[1].cut("was cut to make room for another connection")
        http_log.warning("%s reached: closed a connection (%s) to make room", what,
                         ("idle, never authenticated", "never authenticated, sending its body",
                          "just opened, no request begun yet", "idle")[best[0]])

    def _sweep(self) -> None:
        self._sweeper = self._loop.call_later(SWEEP_S, self._sweep)
        now = self._loop.time()
        closed = {"stalled": 0, "too slow": 0}
        for handler in list(self._connections):
            why = handler.body_too_slow(now, self.limits) \
                if isinstance(handler, GuardedHandler) else None
            if why is not None:
                handler.cut(why)
                closed[why] += 1
        if closed["stalled"]:
            http_log.warning("closed %d connection(s) whose request body stalled for %.0f s",
                             closed["stalled"], self.limits.body_timeout_s)
        if closed["too slow"]:
            http_log.warning("closed %d connection(s) whose request body came slower than "
                             "%d bytes/s", closed["too slow"], self.limits.body_min_bytes_per_s)

    async def shutdown(self, timeout: float | None = None) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        await super().shutdown(timeout)


class GuardedAppRunner(web.AppRunner):
    """An AppRunner whose protocol factory is a GuardedServer; the keep-alive timer is the
    header timeout; no lingering read of a body left unread (the connection closes)."""

    def __init__(self, app: web.Application, *, limits: ConnectionLimits, **kwargs: Any):
        kwargs["keepalive_timeout"] = limits.header_timeout_s
        kwargs["lingering_time"] = 0
        kwargs.setdefault("logger", http_log)
        super().__init__(app, **kwargs)
        self.limits = limits

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # runs the app's startup, builds the handler kwargs
        return GuardedServer(plain.request_handler, request_factory=plain.request_factory,
                             limits=self.limits, loop=asyncio.get_running_loop(),
                             **plain._kwargs)  # noqa: SLF001 - exactly what aiohttp built


for _logger in (http_log, loop_log, log):
    if not any(isinstance(f, RateLimitFilter) for f in _logger.filters):
        _logger.addFilter(RateLimitFilter())
