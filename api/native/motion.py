"""`/api/v1/source/{source_id}/motion`: a source's motion detector (issue #24): what it
analyses now (preview stream, keyframes only, off), its real rate, last level, cost and
settings; and a partial change of its settings. Only translates HTTP to
`app.motion.MotionService`, which validates (its `InvalidInput` names the field: a 422),
stores, applies the change live and leaves the audit entry."""

from __future__ import annotations

from aiohttp import web

from api.executors import FORWARD, slow
from api.keys import STATION
from api.native.params import add_route, ok, path_int, read_model
from api.native.records import forwarded
from api.routing import call
from api.security import PRINCIPAL
from app.schemas import MotionOut, MotionSettingsIn

ACTION = "change motion settings"


def _status(station, source_id: int, forwarded: bool) -> MotionOut:
    station.sources.get(source_id)  # a 404 for a source that does not exist
    return MotionOut.of(station.motion.status(source_id, forwarded=forwarded))


def _change(station, source_id: int, changes: dict, actor: str, forwarded: bool) -> MotionOut:
    station.sources.get(source_id)
    return MotionOut.of(station.motion.change(source_id, changes, actor, forwarded=forwarded))


async def _run(request: web.Request, fn, source_id: int, *args):
    """The service decides where the source's detector is (here, or at the station owning it);
    a request for another station's source waits for that station over the network, so it
    runs on the forwarding lane (api.executors), never on the catalog's threads."""
    station, passed_on = request.app[STATION], forwarded(request)
    if passed_on or station.site.is_local(station.site.owner(source_id)):
        return await call(fn, station, source_id, *args, passed_on)
    return await slow(request, FORWARD, fn, station, source_id, *args, False)


async def get_motion(request: web.Request) -> web.Response:
    source_id = path_int(request, "source_id")
    return ok(await _run(request, _status, source_id))


async def change_motion(request: web.Request) -> web.Response:
    source_id = path_int(request, "source_id")
    data = await read_model(request, MotionSettingsIn)
    principal = request[PRINCIPAL]
    actor = f"{principal.dialect}:{principal.who}"
    return ok(await _run(request, _change, source_id, data.changes(), actor))


def setup(app: web.Application) -> None:
    sid = {"source_id": int}
    path = "/api/v1/source/{source_id}/motion"
    add_route(app, "GET", path, get_motion, role="viewer", tag="source", path_types=sid, response=MotionOut,
              summary="A source's motion detector: what it analyses, its rate, level and "
                      "settings",
              description="`analysing` is `preview` (the preview stream's pictures at "
              "`settings.fps`), `keyframes` (no preview stream: the main stream's keyframes "
              "only) or `off`; `rate_fps` is what the analyser really took over the last 10 s "
              "(it drops pictures, never packets, when it falls behind), `cost_ms` its mean "
              "time per picture. docs/motion.md describes each setting. On a site, another "
              "station's source is answered by its owner; `unknown` (and `error`) while the "
              "owner is offline or does not answer.")
    add_route(app, "PUT", path, change_motion, tag="source", path_types=sid,
              action=ACTION, body=MotionSettingsIn, response=MotionOut,
              summary="Change a source's motion settings",
              description="Only the fields sent change; `zones`, when sent, replaces every "
              "zone and mask. Applied at once, keeping the learnt background. A bad value is a "
              "422 naming the field (`loc`: `[\"body\", field]`). On a site, a change of "
              "another station's source is checked here, then stored and applied by its owner "
              "(422 naming the station while it is offline, 503 when it does not answer).")
