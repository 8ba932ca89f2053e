"""Routing helpers every dialect shares: a route with and without its trailing slash, the
address a client reached the station at, and blocking service calls off the event loop."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_both_slashes(app: web.Application, method: str, path: str, handler: Handler) -> str:
    """Register `path` with and without its trailing slash; return the bare path."""
    bare = path.rstrip("/")
    app.router.add_route(method, bare, handler)
    app.router.add_route(method, bare + "/", handler)
    return bare


def base_url(request: web.BaseRequest) -> str:
    """`scheme://host:port` as the client reached the station (for URLs handed back to it).
    The guard has checked `Host` against the allowed names before any handler runs."""
    return str(request.url.origin())


async def call(fn, *args, **kwargs):
    """Run a blocking service call (catalog, files) off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)
