"""The threads the API's blocking work runs on, kept apart by kind (issue #21 item 5).

Handlers call blocking services off the event loop. Catalog calls (a list, a get, a start on
one station) take milliseconds; network work can take seconds: an ONVIF camera that accepts
and never answers holds its thread for the client's timeouts, a station of the site that
registered but does not listen yet is waited for, a forwarded start waits for its owners.
When both kinds shared asyncio's default pool (6 threads on a 2-core machine), ten slow
`discovery/profiles` requests made a plain `GET /api/v1/source` wait 4.5 s.

So the API's own loop gets a catalog pool of its own (`catalog_executor`, set as the loop's
default by `api.server`, which `api.routing.call` uses), and each kind of slow network work
its own bounded lane (`Lane`): at most `limit` calls of that kind run at once, each on a
thread of that lane; one more is refused at once with `Busy` (an `Unavailable`: 503 with
`Retry-After` in the dialect's error shape) instead of queueing. A flood of one kind can then
neither take the catalog's threads nor another lane's.

A lane's slot is given back when the call's thread is done, not when the request goes away:
a client that disconnects mid-call does not free a thread that is still busy, so the lane
never holds more than `limit` threads, whatever the clients do.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from aiohttp import web

from app.errors import Unavailable

log = logging.getLogger(__name__)

CATALOG_THREADS = 16  # the API loop's default executor: catalog and file calls

# The lanes: what runs on each (docs/security.md, "Slow requests and MQTT commands").
DISCOVERY = "discovery"  # WS-Discovery probes, ONVIF profile reads (cameras that may not answer)
FORWARD = "forward"  # starts and stops other stations take part in; motion asked of an owner
PEERS = "peers"  # finding the station that holds what is proxied (waits for it to announce)
PTZ = "ptz"  # pan/tilt/zoom commands to a source's camera (app.ptz): a held arrow's moves
LANE_NAMES = (DISCOVERY, FORWARD, PEERS, PTZ)


class Busy(Unavailable):
    """A lane is full: the request is refused at once (503), not queued behind slow calls."""

    def __init__(self, lane: str, limit: int):
        super().__init__(f"too many {lane} requests in progress (at most {limit} at once); "
                         "try again shortly")


class Lane:
    """At most `limit` calls of one kind at once, each on a thread of the lane's own pool."""

    def __init__(self, name: str, limit: int):
        self.name, self.limit = name, limit
        self._pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix=f"api-{name}")
        self._lock = threading.Lock()
        self._busy = 0
        self._refused = 0

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            if self._busy >= self.limit:
                self._refused += 1
                refused = self._refused
                busy = None
            else:
                self._busy += 1
                busy = self._busy
        if busy is None:
            if refused == 1 or refused % 100 == 0:  # a flood logs a line per hundred
                log.warning("API lane %r full (%d at once): %d call(s) refused so far",
                            self.name, self.limit, refused)
            raise Busy(self.name, self.limit)
        try:
            future = self._pool.submit(contextvars.copy_context().run,  # the acting user
                                       functools.partial(fn, *args, **kwargs))
        except RuntimeError:  # shut down: the station is stopping
            self._release(None)
            raise Unavailable("the station is stopping") from None
        future.add_done_callback(self._release)  # the thread's end frees the slot
        return await asyncio.wrap_future(future)

    def _release(self, _future: Future | None) -> None:
        with self._lock:
            self._busy -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


LANES = web.AppKey("api_lanes", dict)


def setup(app: web.Application, limit: int) -> None:
    """One lane of `limit` per kind on the application, closed with it."""
    app[LANES] = {name: Lane(name, limit) for name in LANE_NAMES}

    async def close(app: web.Application) -> None:
        for lane in app[LANES].values():
            lane.close()

    app.on_cleanup.append(close)


def lane(request: web.Request, name: str) -> Lane:
    return request.config_dict[LANES][name]


async def slow(request: web.Request, name: str, fn: Callable[..., Any], *args: Any,
               **kwargs: Any) -> Any:
    """Run blocking network work on lane `name`; `Busy` when it is full."""
    return await lane(request, name).run(fn, *args, **kwargs)


def catalog_executor() -> ThreadPoolExecutor:
    """The pool the API loop's plain `call`s (catalog, files) run on."""
    return ThreadPoolExecutor(max_workers=CATALOG_THREADS, thread_name_prefix="api-catalog")
