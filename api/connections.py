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
- a connection cap: beyond `max_connections`, the connection that has waited longest for a
  request is closed to make room (an attacker's idle sockets go first, a request being
  answered is never cut); if every connection is busy, the new one is closed.
- log lines about connections (accept errors, malformed requests, timeouts, the cap) at most
  once a second each, with a count of what was left out.

`raise_open_files_limit()` lifts the soft RLIMIT_NOFILE to the hard limit, and the cap is
kept below it so the recorder and the catalog still get file descriptors.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int = 900
    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    tls_handshake_timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Any) -> "ConnectionLimits":
        return cls(max_connections=settings.max_connections,
                   header_timeout_s=settings.header_timeout_s,
                   body_timeout_s=settings.body_timeout_s,
                   tls_handshake_timeout_s=settings.header_timeout_s)

    def within(self, open_files: int | None) -> "ConnectionLimits":
        """The cap lowered to fit the open-files limit (with FD_RESERVE to spare)."""
        if open_files is None:
            return self
        fit = max(MIN_CONNECTIONS, open_files - FD_RESERVE)
        if fit >= self.max_connections:
            return self
        return ConnectionLimits(fit, self.header_timeout_s, self.body_timeout_s,
                                self.tls_handshake_timeout_s)


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
        self.body = None  # the current request's payload (aiohttp StreamReader)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.last_data = self._loop.time()
        self.guard.admit(self)

    def data_received(self, data: bytes) -> None:
        self.last_data = self._loop.time()
        super().data_received(data)

    @property
    def waiting_for_request(self) -> bool:
        """Idle or in the middle of a request head: nothing is being answered. (aiohttp's
        keep-alive check uses the same future.)"""
        waiter = getattr(self, "_waiter", None)
        return self.transport is not None and waiter is not None and not waiter.done()

    def body_stalled(self, now: float, timeout: float) -> bool:
        body = self.body
        if body is None or self.transport is None or body.is_eof():
            return False
        if getattr(self, "_reading_paused", False):  # the station is not reading: not a stall
            return False
        return now - self.last_data > timeout


class GuardedServer(web.Server):
    """aiohttp's Server (the protocol factory) with the cap, the body sweep and its log."""

    def __init__(self, handler, *, request_factory, limits: ConnectionLimits, **kwargs: Any):
        super().__init__(handler, request_factory=self._noting(request_factory), **kwargs)
        self.limits = limits
        self._sweeper: asyncio.TimerHandle | None = None

    def _noting(self, factory):
        def make_request(message, payload, protocol, writer, task):
            if isinstance(protocol, GuardedHandler):
                protocol.body = payload
                protocol.last_data = self._loop.time()
            return factory(message, payload, protocol, writer, task)

        return make_request

    def __call__(self) -> RequestHandler:
        if self._sweeper is None:
            self._sweeper = self._loop.call_later(SWEEP_S, self._sweep)
        return GuardedHandler(self, loop=self._loop, **self._kwargs)  # as web.Server does

    def admit(self, handler: GuardedHandler) -> None:
        """A connection was accepted: beyond the cap, close the one that waited longest for
        a request (dict order is accept order), or this one if all are busy."""
        connections = self._connections
        if len(connections) <= self.limits.max_connections:
            return
        victim = next((h for h in connections if h is not handler
                       and getattr(h, "waiting_for_request", False)), None)
        if victim is not None:
            victim.force_close()
            http_log.warning("connection cap %d reached: closed the connection that waited "
                             "longest for a request", self.limits.max_connections)
        else:
            handler.force_close()
            http_log.warning("connection cap %d reached and every connection busy: refused a "
                             "new connection", self.limits.max_connections)

    def _sweep(self) -> None:
        self._sweeper = self._loop.call_later(SWEEP_S, self._sweep)
        now = self._loop.time()
        closed = 0
        for handler in list(self._connections):
            if isinstance(handler, GuardedHandler) and handler.body_stalled(
                    now, self.limits.body_timeout_s):
                # the handler waiting for the body gets a 408 (an HTTP error, not a crash
                # with a traceback), then the socket is closed
                handler.body.set_exception(web.HTTPRequestTimeout(
                    text="the request body stalled", content_type="text/plain"))
                handler.force_close()
                closed += 1
        if closed:
            http_log.warning("closed %d connection(s) whose request body stalled for %.0f s",
                             closed, self.limits.body_timeout_s)

    async def shutdown(self, timeout: float | None = None) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        await super().shutdown(timeout)


class GuardedAppRunner(web.AppRunner):
    """An AppRunner whose protocol factory is a GuardedServer; the keep-alive timer is the
    header timeout."""

    def __init__(self, app: web.Application, *, limits: ConnectionLimits, **kwargs: Any):
        kwargs["keepalive_timeout"] = limits.header_timeout_s
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
