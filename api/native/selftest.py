"""`/test/img` and `/test/video`: generated media proving the encode paths work."""

from __future__ import annotations

from aiohttp import web

from api.native.params import add_route
from api.native.routedoc import Binary
from api.routing import call
from app.sample_media import sample_jpeg, sample_mp4


async def image(_request: web.Request) -> web.Response:
    return web.Response(body=await call(sample_jpeg), content_type="image/jpeg")


async def video(_request: web.Request) -> web.Response:
    return web.Response(body=await call(sample_mp4), content_type="video/mp4")


def setup(app: web.Application) -> None:
    add_route(app, "GET", "/test/img", image, role="viewer", summary="A generated JPEG",
              binary=Binary("image/jpeg"), description="Self-check of the image encode path.")
    add_route(app, "GET", "/test/video", video, role="viewer", summary="A short generated MP4",
              binary=Binary("video/mp4"), description="Self-check of the encode and mux path.")
