"""Device Connect's answer shapes: `{"result":0, "product", "version", ...}` on success,
`{"result":1, "errorCode", "errorMessage"}` on failure, both always with HTTP 200 (the
reference JavaScript SDK ignores the body of any other status), CORS headers on every answer
(Device Connect applications are web pages), and the mapping of the services' exceptions onto
the errorCode numbers."""

from __future__ import annotations

import json
import re
from enum import IntEnum

from aiohttp import web

from api.keys import STATION
from app.dialects.device_connect.dc_auth import (
    AccessDenied,
    ApprovalTimeout,
    ScopeMissing,
    TokenExpired,
    TokenMissing,
    TooManyRequests,
    UnknownClient,
)
from app.dialects.device_connect.dc_recorder import IllegalState
from app.errors import Conflict, InvalidInput, NotFound, StationError, StorageFull
from app.settings import Settings


DIALECT = "device-connect"  # the dialect's name in logs, refusals and the audit trail


class Code(IntEnum):
    UNKNOWN = 1
    NOT_SUPPORT_PROFILE = 2
    NOT_SUPPORT_ACTION = 3
    NOT_SUPPORT_ATTRIBUTE = 4
    EMPTY_SERVICE_ID = 5
    NOT_FOUND_SERVICE = 6
    TIMEOUT = 7
    UNKNOWN_ATTRIBUTE = 8
    INVALID_REQUEST_PARAMETER = 10
    AUTHORIZATION = 11
    EXPIRED_ACCESS_TOKEN = 12
    EMPTY_ACCESS_TOKEN = 13
    SCOPE = 14
    NOT_FOUND_CLIENT_ID = 15
    ILLEGAL_DEVICE_STATE = 16
    ILLEGAL_SERVER_STATE = 17


class DcError(Exception):
    """An error answer: raise it anywhere below the dispatcher."""

    def __init__(self, code: Code, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def from_station_error(exc: StationError) -> DcError:
    """The errorCode of a service exception (most specific classes first)."""
    table: tuple[tuple[type, Code], ...] = (
        (TokenMissing, Code.EMPTY_ACCESS_TOKEN), (TokenExpired, Code.EXPIRED_ACCESS_TOKEN),
        (ScopeMissing, Code.SCOPE), (AccessDenied, Code.AUTHORIZATION),
        (ApprovalTimeout, Code.TIMEOUT), (UnknownClient, Code.NOT_FOUND_CLIENT_ID),
        (TooManyRequests, Code.ILLEGAL_SERVER_STATE),
        (IllegalState, Code.ILLEGAL_DEVICE_STATE), (StorageFull, Code.ILLEGAL_SERVER_STATE),
        (InvalidInput, Code.INVALID_REQUEST_PARAMETER), (NotFound, Code.INVALID_REQUEST_PARAMETER),
        (Conflict, Code.ILLEGAL_DEVICE_STATE),
    )
    for kind, code in table:
        if isinstance(exc, kind):
            return DcError(code, exc.message)
    return DcError(Code.UNKNOWN, exc.message)


def service_id(settings: Settings) -> str:
    """The one service this station offers: `dc_service_id`, or one derived from the
    station's name (stable while the name stays)."""
    if settings.dc_service_id:
        return settings.dc_service_id
    slug = re.sub(r"[^a-z0-9]+", "-", settings.station_name.lower()).strip("-") or "station"
    return f"{slug}.recording-station"


def cors_headers(request: web.Request) -> dict[str, str]:
    origin = request.headers.get("Origin")
    headers = {"Access-Control-Allow-Origin": origin or "*",
               "Access-Control-Expose-Headers": "X-Request-Id"}
    if origin:
        headers["Vary"] = "Origin"
    return headers


def preflight(request: web.Request) -> web.Response:
    """The answer to a CORS preflight (`OPTIONS`): any origin, the SDK's headers."""
    asked = request.headers.get("Access-Control-Request-Headers")
    headers = cors_headers(request) | {
        "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
        "Access-Control-Allow-Headers": asked or "X-GotAPI-Origin, Content-Type, X-Requested-With",
        "Access-Control-Max-Age": "600",
    }
    return web.Response(status=200, headers=headers)


def _json(request: web.Request, body: dict, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body, ensure_ascii=False), content_type="application/json",
                        headers=cors_headers(request), status=status)


def ok(request: web.Request, product: str, version: str, data: dict | None = None) -> web.Response:
    return _json(request, {"result": 0, "product": product, "version": version, **(data or {})})


def error(request: web.Request, product: str, version: str, exc: DcError,
          status: int = 200) -> web.Response:
    return _json(request, {"result": 1, "errorCode": int(exc.code), "errorMessage": exc.message,
                           "product": product, "version": version}, status)


def _refusal_code(status: int) -> Code:
    if status in (401, 403):
        return Code.AUTHORIZATION
    if status == 429:  # too many failed authentications from this address: try later
        return Code.ILLEGAL_SERVER_STATE
    return Code.INVALID_REQUEST_PARAMETER if status < 500 else Code.UNKNOWN


def render_refusal(request: web.Request, status: int, message: str) -> web.Response:
    """The guard's refusals (421/403/415/429 ...) in the Device Connect shape, with the HTTP
    status the guard chose (this dialect's `DialectPolicy.render`)."""
    station = request.config_dict.get(STATION)
    product, version = (station.name, station.version) if station is not None else ("", "")
    return error(request, product, version, DcError(_refusal_code(status), message), status)
