"""Runs the aiohttp application on a thread of its own, with its own event loop, so a slow
request never touches the GUI thread and the GUI never stalls the API.

`start()` returns once the socket is bound (port 0 picks a free port; `url` tells which);
`stop()` cleans the runner up on its loop and joins the thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from aiohttp import web

from api.access_log import RedactingAccessLogger
from api.app import create_app
from app.station import Station

log = logging.getLogger(__name__)


class ApiServer:
    def __init__(self, station: Station, host: str, port: int):
        self.station, self.host, self.port = station, host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

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
        app = create_app(self.station)
        self._runner = web.AppRunner(app, access_log=logging.getLogger("api.access"),
                                     access_log_class=RedactingAccessLogger, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        sockets = site._server.sockets if site._server else []  # noqa: SLF001 - the bound port
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("API listening on %s", self.url)

    def stop(self, timeout: float = 5.0) -> None:
        loop, runner = self._loop, self._runner
        if loop is None or not loop.is_running():
            return
        if runner is not None:
            future = asyncio.run_coroutine_threadsafe(runner.cleanup(), loop)
            try:
                future.result(timeout)
            except Exception:  # noqa: BLE001 - shutting down regardless
                log.exception("API cleanup failed")
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
