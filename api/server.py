"""Runs the aiohttp application on a thread of its own, with its own event loop, so a slow
request never touches the GUI thread and the GUI never stalls the API.

`start()` returns once the socket is bound (port 0 picks a free port; `url` tells which);
`stop()` cleans the runner up on its loop and joins the thread.

Blocking calls run on the loop's default executor, a catalog pool of the API's own
(`api.executors`); slow network work runs on bounded lanes of its own, so a flood of slow
requests never takes the catalog's threads.

The socket is served with the connection limits of `api.connections` (header and body
timeouts, a connection cap, rate-limited connection errors; the open-files limit is raised
first), and over TLS when the settings name a certificate and key (`tls_cert`, `tls_key`):
then `url` says https.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from pathlib import Path

from aiohttp import web

from api.access_log import RedactingAccessLogger
from api.app import create_app
from api.connections import (
    ConnectionLimits,
    GuardedAppRunner,
    raise_open_files_limit,
    rate_limited_exception_handler,
)
from api.executors import catalog_executor
from app.station import Station

log = logging.getLogger(__name__)
BACKLOG = 1024  # pending accepts the kernel may queue (capped by net.core.somaxconn)


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context of TLS 1.2 or newer with Python's default (secure) ciphers; errors
    name the file, never its content."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise RuntimeError(f"cannot use tls_cert {cert} with tls_key {key}: "
                           f"{getattr(exc, 'strerror', None) or type(exc).__name__}") from None
    return context


class ApiServer:
    def __init__(self, station: Station, host: str, port: int,
                 limits: ConnectionLimits | None = None):
        self.station, self.host, self.port = station, host, port
        settings = station.settings
        self.limits = limits or ConnectionLimits.from_settings(settings)
        self.tls = (settings.tls_cert, settings.tls_key) if settings.tls_cert else None
        self._runner: GuardedAppRunner | None = None
        self._listener: asyncio.AbstractServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/"

    def start(self, timeout: float = 15.0) -> "ApiServer":
        self._thread = threading.Thread(target=self._run, name="api", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the API server did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the API server could not start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(rate_limited_exception_handler())
        # `call`s (catalog, files) get threads of their own; slow network work has its lanes
        loop.set_default_executor(catalog_executor())
        context = tls_context(*self.tls) if self.tls else None
        self.limits = self.limits.within(raise_open_files_limit())
        app = create_app(self.station)
        self._runner = GuardedAppRunner(app, limits=self.limits,
                                        access_log=logging.getLogger("api.access"),
                                        access_log_class=RedactingAccessLogger,
                                        shutdown_timeout=2.0)
        await self._runner.setup()
        # the listening socket is made here rather than by a TCPSite, which cannot pass a TLS
        # handshake timeout (asyncio's default is 60 s; a stalled handshake holds a socket)
        self._listener = await asyncio.get_running_loop().create_server(
            self._runner.server, self.host, self.port, ssl=context, backlog=BACKLOG,
            reuse_address=True,
            ssl_handshake_timeout=self.limits.tls_handshake_timeout_s if context else None)
        self.port = self._listener.sockets[0].getsockname()[1]  # port 0 picks a free one
        log.info("API listening on %s (at most %d connections; %.0f s header and body "
                 "timeouts)", self.url, self.limits.max_connections,
                 self.limits.header_timeout_s)

    async def _cleanup(self, runner: GuardedAppRunner) -> None:
        if self._listener is not None:
            self._listener.close()  # no new connections; the runner closes the open ones
        await runner.cleanup()

    def stop(self, timeout: float = 5.0) -> None:
        loop, runner = self._loop, self._runner
        if loop is None or not loop.is_running():
            return
        if runner is not None:
            future = asyncio.run_coroutine_threadsafe(self._cleanup(runner), loop)
            try:
                future.result(timeout)
            except Exception:  # noqa: BLE001 - shutting down regardless
                log.exception("API cleanup failed")
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
