"""Huawei Live record control: `POST /v1/{project_id}/record/control?action=START|STOP`
with `{"publish_domain", "app", "stream"}` (seeds: huawei-live-record-control.*).

Success is 200 with an empty body; errors are `{"error_code", "error_msg"}`:
400 LIVE.100011001 "Request Illegal" (malformed body, bad action, a length out of range),
400 LIVE.100011022 "LIVE.Record task exist." (START of a stream that records already),
404 LIVE.100011001 "The resource to access is not exists" (STOP of a stream not recording,
an unknown project, domain, app or stream, START of a stream not being pushed),
401 APIG.0301 for bad credentials. Every response has `X-request-id:
<uuid>-<unix time>-<hostname>`. The mapping onto groups and sources, the interruption
window and the callbacks live in `app.dialects.huawei.live_record`.
"""

from __future__ import annotations

from aiohttp import web

from api.huawei.common import (
    Dialect,
    HuaweiError,
    live_request_id,
    read_json_object,
    sub_app,
)
from api.keys import STATION
from api.permissions import check_group_name
from api.routing import add_both_slashes, base_url, call
from api.security import AUDIT_FIELDS, note_terms
from app.accounts.roles import RANK, role_for
from app.errors import InvalidInput, NotFound, StationError, StorageFull
from app.recordings.recordings import AlreadyRecording
from app.services.audit import UNNAMED, OneOf
from app.station import Station

PREFIX = "/v1"
ILLEGAL = "Request Illegal"
NOT_EXISTS = "The resource to access is not exists"
# field -> (min, max) length, as the English page gives them
LENGTHS = {"publish_domain": (1, 255), "app": (1, 128), "stream": (1, 512)}
ACTIONS = ("START", "STOP")


def illegal(detail: str) -> HuaweiError:
    return HuaweiError(400, "LIVE.100011001", ILLEGAL, detail)


def translate(exc: Exception) -> HuaweiError | None:
    if isinstance(exc, AlreadyRecording):
        return HuaweiError(400, "LIVE.100011022", "LIVE.Record task exist.", exc.message)
    if isinstance(exc, NotFound):
        return HuaweiError(404, "LIVE.100011001", NOT_EXISTS, exc.message)
    if isinstance(exc, StorageFull):
        return HuaweiError(500, "LIVE.100011000", "Internal Server Error", exc.message)
    if isinstance(exc, (InvalidInput, StationError)):
        return illegal(exc.message)
    return None


DIALECT = Dialect(
    name="huawei-live", request_id_header="X-request-id", new_request_id=live_request_id,
    auth_error=lambda why: HuaweiError(
        401, "APIG.0301", f"Incorrect IAM authentication information: {why}"),
    internal_error=HuaweiError(500, "LIVE.100011000", "Internal Server Error"),
    translate=translate)


def read_control(body: dict) -> dict[str, str]:
    """The three fields, present, strings, of the allowed lengths."""
    values = {}
    for name, (low, high) in LENGTHS.items():
        value = body.get(name)
        if value is None:
            raise illegal(f"{name} is required")
        if not isinstance(value, str):
            raise illegal(f"{name} must be a string")
        if not low <= len(value) <= high:
            raise illegal(f"{name} must be {low} to {high} characters long")
        values[name] = value
    return values


async def record_control(request: web.Request) -> web.Response:
    """START or STOP recording one stream; 200 with an empty body."""
    action = request.query.get("action")
    if action not in ACTIONS:
        raise illegal("action must be START or STOP (a query parameter)")
    note_terms(request, action=action)
    body = await read_json_object(request, illegal)
    fields = read_control(body)
    # a group out of a user's scope (their AK/SK) does not exist for them: the unknown app's 404
    await check_group_name(request, {"group_name": fields["app"]})
    # the trail says what was asked in Live's words: START or STOP, of which app and stream
    note_terms(request, publish_domain=fields["publish_domain"], app=fields["app"],
               stream=fields["stream"])
    request[AUDIT_FIELDS] = {"app": fields["app"], "stream": fields["stream"]}
    live = request.app[STATION].live_records
    project_id = request.match_info["project_id"]
    if action == "START":
        await call(live.start, project_id, fields["publish_domain"], fields["app"],
                   fields["stream"], base_url=base_url(request))
    else:
        await call(live.stop, project_id, fields["publish_domain"], fields["app"], fields["stream"])
    return web.Response(status=200)


def setup(app: web.Application) -> None:
    station: Station = app[STATION]
    live = sub_app(station, DIALECT)
    control = OneOf("action", {"START": "start recording", "STOP": "stop recording"}, UNNAMED)
    # a user's AK/SK is held to START's and STOP's role (an operator's); another `action` is
    # refused by the handler (400), so the default name's role (admin's) is not asked
    role = max(map(role_for, control.names.values()), key=RANK.__getitem__)
    add_both_slashes(live, "POST", "/{project_id}/record/control", record_control,
                     action=control, role=role)
    app.add_subapp(PREFIX, live)
