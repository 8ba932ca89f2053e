"""`/api/v1/source/{source_id}/motion`: a source's motion detector (issue #24): what it
analyses now (preview stream, keyframes only, off), its real rate, last level, cost and
settings; and a partial change of its settings. Only translates HTTP to
`app.motion.MotionService`, which validates (its `InvalidInput` names the field: a 422),
stores, applies the change live and leaves the audit entry."""

from __future__ import annotations

from aiohttp import web

from api.keys import STATION
from api.native.params import add_route, ok, path_int, read_model
from api.routing import call
from api.security import PRINCIPAL
from app.schemas import MotionOut, MotionSettingsIn

ACTION = "change motion settings"


def _status(station, source_id: int) -> MotionOut:
    station.sources.get(source_id)  # a 404 for a source that does not exist
    return MotionOut.of(station.motion.status(source_id))


def _change(station, source_id: int, changes: dict, actor: str) -> MotionOut:
    station.sources.get(source_id)
    return MotionOut.of(station.motion.change(source_id, changes, actor))


async def get_motion(request: web.Request) -> web.Response:
    source_id = path_int(request, "source_id")
    return ok(await call(_status, request.app[STATION], source_id))


async def change_motion(request: web.Request) -> web.Response:
    source_id = path_int(request, "source_id")
    data = await read_model(request, MotionSettingsIn)
    principal = request[PRINCIPAL]
    actor = f"{principal.dialect}:{principal.who}"
    return ok(await call(_change, request.app[STATION], source_id, data.changes(), actor))


def setup(app: web.Application) -> None:
    sid = {"source_id": int}
    path = "/api/v1/source/{source_id}/motion"
    add_route(app, "GET", path, get_motion, tag="source", path_types=sid, response=MotionOut,
              summary="A source's motion detector: what it analyses, its rate, level and "
                      "settings",
              description="`analysing` is `preview` (the preview stream's pictures at "
              "`settings.fps`), `keyframes` (no preview stream: the main stream's keyframes "
              "only) or `off`; `rate_fps` is what the analyser really took over the last 10 s "
              "(it drops pictures, never packets, when it falls behind), `cost_ms` its mean "
              "time per picture. docs/motion.md describes each setting.")
    add_route(app, "PUT", path, change_motion, tag="source", path_types=sid,
              action=ACTION, body=MotionSettingsIn, response=MotionOut,
              summary="Change a source's motion settings",
              description="Only the fields sent change; `zones`, when sent, replaces every "
              "zone and mask. Applied at once, keeping the learnt background. A bad value is a "
              "422 naming the field (`loc`: `[\"body\", field]`).")
