"""`/api/v1/source/{source_id}/ptz`: pan, tilt, zoom, presets and home of a source's ONVIF
camera (#27 item 5, docs/ptz.md). Only translates HTTP to `app.ptz.PtzService`, which checks
every value (its `InvalidInput` names the field: a 422) and talks to the camera.

Every command is SOAP to the camera with 2 s timeouts (or a request to the station that reads
the source, which talks to its camera), so it runs on the PTZ lane (`api.executors`), never on
the catalog's threads; a flood is a 503 at once.

The audit trail: a held arrow re-sends `move` every ~0.3-0.5 s. Each request is audited by
the guard like any change, but `move` and `stop` are written once per caller and camera within
`HOLD_AUDIT_S` (`api.security.AUDIT_COALESCE_S`): a hold is one "move camera" entry, a long
one an entry per 10 s, never hundreds. Presets, home, goto and centre are written each time.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from api.executors import PTZ, slow
from api.keys import STATION
from api.native.params import add_route, ok, path_int, read_model
from api.native.records import forwarded
from api.routing import call
from api.security import AUDIT_COALESCE_S
from app.ptz.schemas import PtzCommand, PtzDone, PtzOut, PtzPreset
from app.services.audit import OneOf

HOLD_AUDIT_S = 10.0
MOVES = ("move", "stop")
COMMAND = OneOf("action", {"set_preset": "change camera presets",
                           "remove_preset": "change camera presets"}, "move camera")


class CameraIn(BaseModel):
    address: str = Field(min_length=1, max_length=300, description=(
        "The camera's ONVIF device service: host, host:port or its URL, as `/discovery` lists it"))
    user: str = Field("", max_length=100)
    password: str = Field("", max_length=200, description="Kept encrypted with the source; never echoed")


async def command(request: web.Request) -> web.Response:
    """Move a source's camera, or change its presets"""
    source_id = path_int(request, "source_id")
    data = await read_model(request, PtzCommand)
    if data.action in MOVES:
        request[AUDIT_COALESCE_S] = HOLD_AUDIT_S
    return ok(await slow(request, PTZ, request.app[STATION].ptz.command, source_id, data,
                         forwarded=forwarded(request)))


async def presets(request: web.Request) -> web.Response:
    """A source's camera presets"""
    source_id = path_int(request, "source_id")
    return ok(await slow(request, PTZ, request.app[STATION].ptz.presets, source_id,
                         forwarded=forwarded(request)))


async def capabilities(request: web.Request) -> web.Response:
    """What a source's camera can do: pan and tilt, zoom, centre, presets, home"""
    source_id = path_int(request, "source_id")
    return ok(await call(request.app[STATION].ptz.capabilities, source_id))


async def connect(request: web.Request) -> web.Response:
    """Read a source's camera's PTZ control and keep it"""
    source_id = path_int(request, "source_id")
    data = await read_model(request, CameraIn)
    return ok(await slow(request, PTZ, request.app[STATION].ptz.connect, source_id,
                         data.address, data.user, data.password))


def setup(app: web.Application) -> None:
    sid = {"source_id": int}
    path = "/api/v1/source/{source_id}/ptz"
    add_route(app, "POST", path, command, tag="source", path_types=sid, action=COMMAND,
              body=PtzCommand, response=PtzDone, errors=(503,),
              summary="Move a source's camera, or change its presets",
              description="Pan, tilt and zoom with ONVIF ContinuousMove: send `move` when an "
              "arrow is pressed and again every 0.3 to 0.5 s while it is held, `stop` at the "
              "release; each move carries `timeout_s`, after which the camera stops by itself, "
              "so a lost `stop` never leaves it turning. Presets are the camera's own "
              "(`ptz/presets`). A source without PTZ, a speed outside -1..1, a hostile preset "
              "name, or a command the camera does not offer is a 422 naming the field; a "
              "camera that refuses or does not answer a 422 of type `camera_error`. `move` and "
              "`stop` are audited once per caller and camera within 10 s (a hold is one "
              "entry). On a site, another station's source is moved by that station (503 while it "
              "does not answer). 503 when `api_network_calls` PTZ commands are in progress "
              "already.")
    add_route(app, "GET", f"{path}/presets", presets, role="viewer", tag="source",
              path_types=sid, response=list[PtzPreset], errors=(503,),
              summary="A source's camera presets",
              description="Asks the camera (GetPresets). 422 for a source without PTZ or a "
              "camera without presets.")
    add_route(app, "GET", path, capabilities, role="viewer", tag="source", path_types=sid,
              response=PtzOut, summary="What a source's camera can do (PTZ)",
              description="From what was read of the camera when it was added (no network): "
              "pan and tilt, zoom, `center` (RelativeMove), presets, home. 422 for a source "
              "without PTZ.")
    add_route(app, "PUT", f"{path}/camera", connect, tag="source", path_types=sid,
              action="connect camera control", body=CameraIn, response=PtzOut, errors=(503,),
              summary="Read a source's camera's PTZ control and keep it",
              description="Logs in to the ONVIF camera at `address` as Find cameras does, "
              "reads its PTZ service and the abilities of its main profile, and keeps them with "
              "the source, login encrypted (never shown). Find cameras in the GUI does this "
              "when it adds a camera; this is for a source added by address or through the API. "
              "422 when the camera has no PTZ, refuses the login, or cannot be reached.")
