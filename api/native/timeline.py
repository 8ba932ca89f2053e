"""Issue #16: to be built (see the module's brief)."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    pass
