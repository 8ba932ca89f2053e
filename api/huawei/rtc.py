"""Huawei SparkRTC individual stream jobs (seed: huawei-rtc-individual-stream-jobs.en.txt):

    POST   /v2/apps/{app_id}/individual-stream-jobs            -> 201 job
    GET    /v2/apps/{app_id}/individual-stream-jobs/{job_id}   -> 200 job
    PUT    /v2/apps/{app_id}/individual-stream-jobs/{job_id}   -> 200 job (new record_param)
    DELETE /v2/apps/{app_id}/individual-stream-jobs/{job_id}   -> 204 (TENANT_STOP)

Errors are `{"error_code", "error_msg"}`: 400 RTC.00001002 MalformedRequestBody,
RTC.00001003 InvalidParameterValue, RTC.00001005 MissingParameter, RTC.00001006 JobRunning,
RTC.00001009 JobDone; 404 RTC.00001003 for an unknown app or job; 500 RTC.00002001
InternalError; 401 RTC.00001001 for bad credentials. Header `X-request-Id`. What a job
does lives in `app.dialects.huawei.rtc_jobs`.
"""

from __future__ import annotations

from aiohttp import web

from api.huawei.common import Dialect, HuaweiError, plain_request_id, read_json_object, sub_app
from api.keys import STATION
from api.permissions import check_group_name, identity_of
from api.routing import add_both_slashes, call
from api.security import AUDIT_FIELDS, note_terms
from app.accounts.roles import VIEWER, role_for
from app.dialects.huawei.rtc_jobs import (
    MAX_IDLE_S,
    MIN_IDLE_S,
    STREAM_TYPES,
    VIDEO_TYPES,
    JobDone,
    JobRunning,
    RtcJobSpec,
)
from app.errors import InvalidInput, NotFound, StationError, StorageFull
from app.schemas import RtcJobOut
from app.station import Station

PREFIX = "/v2/apps"
MAX_ID_LENGTH = 255
MAX_RTMP_URLS = 10


def invalid(detail: str, status: int = 400) -> HuaweiError:
    return HuaweiError(status, "RTC.00001003", "InvalidParameterValue", detail)


def missing(detail: str) -> HuaweiError:
    return HuaweiError(400, "RTC.00001005", "MissingParameter", detail)


def malformed(detail: str) -> HuaweiError:
    return HuaweiError(400, "RTC.00001002", "MalformedRequestBody", detail)


def translate(exc: Exception) -> HuaweiError | None:
    if isinstance(exc, JobRunning):
        return HuaweiError(400, "RTC.00001006", "JobRunning", exc.message)
    if isinstance(exc, JobDone):
        return HuaweiError(400, "RTC.00001009", "JobDone", exc.message)
    if isinstance(exc, NotFound):
        return invalid(exc.message, 404 if exc.field == "job_id" else 400)
    if isinstance(exc, StorageFull):
        return HuaweiError(500, "RTC.00002001", "InternalError", exc.message)
    if isinstance(exc, InvalidInput) and exc.kind == "missing":
        return missing(exc.message)
    if isinstance(exc, StationError):
        return invalid(exc.message)
    return None


DIALECT = Dialect(
    name="huawei-rtc", request_id_header="X-request-Id", new_request_id=plain_request_id,
    auth_error=lambda why: HuaweiError(401, "RTC.00001001", "Unauthorized", why),
    internal_error=HuaweiError(500, "RTC.00002001", "InternalError"),
    translate=translate)


# --- reading requests ---------------------------------------------------------------------
def _id(body: dict, name: str) -> str:
    """room_id / user_id: required, a string or a number."""
    value = body.get(name)
    if value is None:
        raise missing(f"{name} is required")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise invalid(f"{name} must be a string or a number")
    text = str(value) if not isinstance(value, float) or not value.is_integer() else str(int(value))
    if not 1 <= len(text) <= MAX_ID_LENGTH:
        raise invalid(f"{name} must be 1 to {MAX_ID_LENGTH} characters long")
    return text


def _choice(body: dict, name: str, choices: tuple[str, ...], default: str) -> str:
    value = body.get(name)
    if value is None:
        return default
    if value not in choices:
        raise invalid(f"{name} must be one of {', '.join(choices)}")
    return value


def _bool(body: dict, name: str, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(f"{name} must be true or false")
    return value


def _idle(body: dict) -> int:
    value = body.get("max_idle_time")
    if value is None:
        return 30
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_IDLE_S <= value <= MAX_IDLE_S:
        raise invalid(f"max_idle_time must be an integer from {MIN_IDLE_S} to {MAX_IDLE_S} (seconds)")
    return value


def _publish_param(body: dict) -> dict | None:
    value = body.get("publish_param")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid("publish_param must be an object")
    urls = value.get("rtmp_urls")
    if urls is None:
        raise missing("publish_param.rtmp_urls is required")
    if not isinstance(urls, list) or not urls or len(urls) > MAX_RTMP_URLS:
        raise invalid(f"publish_param.rtmp_urls must be a list of 1 to {MAX_RTMP_URLS} URLs")
    for url in urls:
        if not isinstance(url, str) or not url.lower().startswith(("rtmp://", "rtmps://")) \
                or len(url) > 2048:
            raise invalid("publish_param.rtmp_urls must hold rtmp:// or rtmps:// URLs")
    return {**value, "rtmp_urls": list(urls)}


def _record_param(body: dict, *, required: bool = False) -> dict | None:
    value = body.get("record_param")
    if value is None:
        if required:
            raise missing("record_param is required")
        return None
    if not isinstance(value, dict):
        raise invalid("record_param must be an object")
    rule = value.get("record_rule_id")
    if rule is not None and (not isinstance(rule, str) or len(rule) > 255):
        raise invalid("record_param.record_rule_id must be a string of at most 255 characters")
    return dict(value)


def read_spec(body: dict) -> RtcJobSpec:
    return RtcJobSpec(
        room_id=_id(body, "room_id"), user_id=_id(body, "user_id"),
        is_record_audio=_bool(body, "is_record_audio", True),
        video_type=_choice(body, "video_type", VIDEO_TYPES, "CAMERASTREAM"),
        select_stream_type=_choice(body, "select_stream_type", STREAM_TYPES, "FHD"),
        max_idle_time=_idle(body), publish_param=_publish_param(body),
        record_param=_record_param(body))


def job_json(job: RtcJobOut) -> dict:
    """The SparkRTC job: the service's answer in its own field order, without the record id
    (the station's addition, which SparkRTC does not have)."""
    return job.model_dump(mode="json", exclude={"record_id"})


def _app_id(request: web.Request) -> str:
    app_id = request.match_info["app_id"]
    configured = request.app[STATION].settings.huawei_app_id
    if configured and app_id != configured:
        raise invalid(f"app {app_id!r} does not exist", 404)
    return app_id


# --- handlers -------------------------------------------------------------------------------
async def create_job(request: web.Request) -> web.Response:
    """Start an individual stream job: 201 with the job."""
    app_id = _app_id(request)
    note_terms(request, app=app_id)
    spec = read_spec(await read_json_object(request, malformed))
    note_terms(request, room=spec.room_id, user=spec.user_id)
    await check_group_name(request, {"group_name": spec.room_id})  # out of scope: unknown room
    job = await call(request.app[STATION].rtc_jobs.create, app_id, spec)
    # the job the station made: its id and stream in the trail, as later calls name it
    note_terms(request, job=job.job_id, stream=job.stream_name)
    request[AUDIT_FIELDS] = {"job_id": job.job_id, "room_id": spec.room_id}
    return web.json_response(job_json(job), status=201)


async def _in_scope(request: web.Request, app_id: str) -> None:
    """A job whose room is out of the caller's scope (a user's AK/SK) does not exist for
    them: the unknown job's 404. Callers without a scope are not asked."""
    identity = identity_of(request)
    if identity is None or identity.groups is None:
        return
    job_id = request.match_info["job_id"]
    job = await call(request.app[STATION].rtc_jobs.get, app_id, job_id)
    try:
        await check_group_name(request, {"group_name": job.room_id})
    except NotFound:
        raise NotFound("job", job_id, field="job_id") from None


async def show_job(request: web.Request) -> web.Response:
    app_id = _app_id(request)
    await _in_scope(request, app_id)
    job = await call(request.app[STATION].rtc_jobs.get, app_id, request.match_info["job_id"])
    return web.json_response(job_json(job))


async def update_job(request: web.Request) -> web.Response:
    app_id = _app_id(request)
    note_terms(request, app=app_id, job=request.match_info["job_id"])
    record_param = _record_param(await read_json_object(request, malformed), required=True)
    await _in_scope(request, app_id)
    job = await call(request.app[STATION].rtc_jobs.update, app_id, request.match_info["job_id"],
                     record_param)
    return web.json_response(job_json(job))


async def stop_job(request: web.Request) -> web.Response:
    app_id = _app_id(request)
    note_terms(request, app=app_id, job=request.match_info["job_id"])
    await _in_scope(request, app_id)
    await call(request.app[STATION].rtc_jobs.stop, app_id, request.match_info["job_id"])
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    station: Station = app[STATION]
    rtc = sub_app(station, DIALECT)
    jobs = "/{app_id}/individual-stream-jobs"
    # a user's AK/SK is held to each route's role (app.accounts.roles): control needs an
    # operator, reading a job a viewer
    for method, path, handler, action in (
            ("POST", jobs, create_job, "start recording"),
            ("PUT", jobs + "/{job_id}", update_job, "update recording job"),
            ("DELETE", jobs + "/{job_id}", stop_job, "stop recording")):
        add_both_slashes(rtc, method, path, handler, action=action, role=role_for(action))
    add_both_slashes(rtc, "GET", jobs + "/{job_id}", show_job, role=VIEWER)
    app.add_subapp(PREFIX, rtc)
