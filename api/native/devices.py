"""`GET /api/v1/device`: this computer's capture devices (V4L2 cameras), as the GUI's "Local
camera" form lists them: both ask the station's device service (app.services.devices)."""

from __future__ import annotations

from aiohttp import web

from api.keys import STATION
from api.native.params import add_route, ok
from api.routing import call
from app.services.devices import DeviceOut


async def list_devices(request: web.Request) -> web.Response:
    """This station's local capture devices"""
    return ok(await call(request.app[STATION].devices.list))


def setup(app: web.Application) -> None:
    add_route(app, "GET", "/api/v1/device", list_devices, role="admin", tag="device",
              response=list[DeviceOut], summary="The capture devices of this computer",
              description="The V4L2 cameras (`/dev/video*` nodes that capture video, with the "
              "driver's name) a source with `uri_rtsp` `device://<path>` can record on the "
              "station answering: the list the GUI's \"Local camera\" form shows. Empty when "
              "it has none.")
