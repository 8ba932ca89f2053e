"""`GET /metrics`: the station in Prometheus' text format (issue #15 item 6). To be built."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    pass
