"""`GET /api/v1/station`: the stations sharing this catalog (issue #15 item 2). To be built."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    pass
