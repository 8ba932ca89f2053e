"""`create_app(station)`: the aiohttp application with every dialect mounted."""

from __future__ import annotations

from aiohttp import web

from api import device_connect, executors, proxy
from api.connections import close_if_body_unread
from api.errors import native_errors_middleware, request_id_middleware, request_id_on_prepare
from api.huawei import live as huawei_live
from api.huawei import rtc as huawei_rtc
from api.keys import STATION
from api.native import (
    audit, bookmarks, devices, discovery, docs, events, evidence, export, groups, layouts,
    metrics, motion, motion_search, openapi, ptz, records, selftest, sources, stations, storage,
    sync, timeline, user_keys, users)
from api.native.auth import NATIVE_POLICY
from api.request_metrics import request_metrics_middleware
from api.security import FAILURES, POLICY, FailureLimiter, guard_middleware
from app.station import Station

MAX_BODY = 1 << 20  # 1 MiB: control requests are small


async def index(request: web.Request) -> web.Response:
    """What a person or a tool finds at the station's address: the dialects and the docs."""
    station = request.app[STATION]
    return web.json_response({
        "name": station.name, "version": station.version,
        "api": ["/api/v1", "/gotapi", "/v1/{project_id}/record/control",
                "/v2/apps/{app_id}/individual-stream-jobs"],
        "dialects": {
            "native": "/api/v1",
            "device_connect": "/gotapi",
            "huawei_live": "/v1/{project_id}/record/control",
            "huawei_rtc": "/v2/apps/{app_id}/individual-stream-jobs",
        },
        "openapi": "/api/openapi.json", "docs": "/api/docs"})


def create_app(station: Station) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[
        request_metrics_middleware, request_id_middleware, guard_middleware,
        native_errors_middleware])
    app[STATION] = station
    app[POLICY] = NATIVE_POLICY  # sub-applications (the other dialects) declare their own
    app[FAILURES] = FailureLimiter()
    app.on_response_prepare.append(request_id_on_prepare)
    app.on_response_prepare.append(close_if_body_unread)  # no lingering read after a refusal
    app.router.add_get("/", index)
    proxy.setup(app)  # one HTTP client for what other stations of the site serve
    executors.setup(app, station.settings.api_network_calls)  # slow network work's lanes
    for dialect in (sources, groups, records, selftest, sync, audit, storage, stations, metrics,
                    discovery, bookmarks, timeline, export, evidence, devices, events, motion, users,
                    user_keys, layouts, ptz, motion_search):
        dialect.setup(app)
    huawei_live.setup(app)  # /v1/{project_id}/record/control
    huawei_rtc.setup(app)  # /v2/apps/{app_id}/individual-stream-jobs
    device_connect.setup(app)  # /gotapi/... and the event WebSocket
    openapi.setup(app)
    docs.setup(app)
    check_policies(app)
    return app


def check_policies(app: web.Application) -> None:
    """Every mounted dialect declares how the guard treats it: a dialect without a policy
    would be served unchecked, so the station refuses to start with one."""
    for resource in app.router.resources():
        sub = resource.get_info().get("app")  # a sub-application's mount point says which
        if isinstance(sub, web.Application) and POLICY not in sub:
            raise RuntimeError(f"the application mounted at {resource.canonical} declares no "
                               "DialectPolicy (api.security.POLICY)")
