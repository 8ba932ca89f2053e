"""What the two Huawei dialects share: each is an aiohttp sub-application whose one
middleware gives it Huawei's request id header, authenticates (token or AK/SK signature),
and turns every failure into the dialect's `{"error_code", "error_msg"}` shape, so no
native error shape and no 500 traceback ever leaks into a Huawei client.

Credentials accepted (see `authenticate`): the station token as `X-Auth-Token` (Huawei's
token header) or `Authorization: Bearer`, or an `SDK-HMAC-SHA256` signature by the
configured AK/SK. Credentials are required once a token or an AK/SK is configured; a
loopback station with neither stays open, like the other dialects.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Awaitable, Callable

from aiohttp import web

from api.huawei import signing
from api.keys import OWN_AUTH, REQUEST_ID, STATION
from app.station import Station

log = logging.getLogger(__name__)
HOSTNAME = socket.gethostname()


class HuaweiError(Exception):
    """An error response of a Huawei dialect: status, error_code, error_msg, and (extra, so
    the client learns which field is wrong) a `detail`."""

    def __init__(self, status: int, code: str, message: str, detail: str | None = None):
        super().__init__(f"{code}: {detail or message}")
        self.status, self.code, self.message, self.detail = status, code, message, detail


@dataclass(frozen=True)
class Dialect:
    name: str
    request_id_header: str
    new_request_id: Callable[[], str]
    auth_error: Callable[[str], HuaweiError]
    internal_error: HuaweiError
    translate: Callable[[Exception], HuaweiError | None]  # domain exceptions -> errors


def live_request_id() -> str:
    """`<uuid>-<unix time>-<hostname>`, Huawei Live's X-request-id."""
    return f"{uuid.uuid4().hex}-{int(time.time())}-{HOSTNAME}"


def plain_request_id() -> str:
    return uuid.uuid4().hex


def route_error(exc: web.HTTPException) -> HuaweiError:
    """aiohttp's own 404/405/413 as Huawei API Gateway reports them."""
    if exc.status == 413:
        return HuaweiError(413, "APIG.0201", "Request body too large")
    return HuaweiError(exc.status, "APIG.0101",
                       "The API does not exist or has not been published in the environment",
                       f"{exc.reason}: no such API here")


def error_response(error: HuaweiError, request_id: str) -> web.Response:
    body = {"error_code": error.code, "error_msg": error.message, "request_id": request_id}
    if error.detail:
        body["detail"] = error.detail
    return web.json_response(body, status=error.status)


async def authenticate(request: web.Request, station: Station) -> str | None:
    """None when the request may pass, else why not."""
    settings = station.settings
    token, ak, sk = settings.token, settings.huawei_ak, settings.huawei_sk
    auth = request.headers.get("Authorization", "")
    if signing.is_signed(auth):
        if not (ak and sk):
            return None if not token else "AK/SK authentication is not configured on this station"
        body = await request.read()
        try:
            signing.verify(method=request.method, raw_path=request.raw_path,
                           query=list(request.query.items()), headers=request.headers, body=body,
                           access_key=ak, secret_key=sk)
        except signing.SignatureError as exc:
            return str(exc)
        return None
    given = request.headers.get("X-Auth-Token") or (
        auth[7:].strip() if auth.lower().startswith("bearer ") else None)
    if token and given and hmac.compare_digest(given.encode(), token.encode()):
        return None
    if token or (ak and sk):
        return "a valid X-Auth-Token or AK/SK signature is required" if not given else \
            "the token is not valid"
    return None


def make_middleware(dialect: Dialect):
    @web.middleware
    async def huawei_middleware(request: web.Request, handler):
        request_id = dialect.new_request_id()
        request[REQUEST_ID] = request_id
        try:
            refusal = await authenticate(request, request.config_dict[STATION])
            if refusal is not None:
                raise dialect.auth_error(refusal)
            response = await handler(request)
        except HuaweiError as exc:
            response = error_response(exc, request_id)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = error_response(route_error(exc), request_id)
            if exc.status == 405 and "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
        except Exception as exc:  # noqa: BLE001 - domain errors translated, the rest is a 500
            error = dialect.translate(exc)
            if error is None:
                log.exception("%s: unhandled error in %s %s", dialect.name, request.method,
                              request.path)
                error = dialect.internal_error
            response = error_response(error, request_id)
        response.headers[dialect.request_id_header] = request_id
        return response

    return huawei_middleware


def sub_app(station: Station, dialect: Dialect) -> web.Application:
    """A sub-application carrying the station, its own auth (the root's token check steps
    aside for it) and the dialect's middleware."""
    app = web.Application(middlewares=[make_middleware(dialect)])
    app[STATION] = station
    app[OWN_AUTH] = True
    return app


def add_route(app: web.Application, method: str, path: str,
              handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> None:
    """`path` with and without its trailing slash."""
    bare = path.rstrip("/")
    app.router.add_route(method, bare, handler)
    app.router.add_route(method, bare + "/", handler)


async def read_json_object(request: web.Request, malformed: Callable[[str], HuaweiError]) -> dict:
    """The body as a JSON object, else `malformed(why)` is raised."""
    raw = await request.read()
    if not raw.strip():
        raise malformed("the request body is empty; a JSON object is expected")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, RecursionError):
        raise malformed("the body is not JSON text") from None
    except json.JSONDecodeError as exc:
        raise malformed(f"JSON decode error at {exc.pos}: {exc.msg}") from None
    if not isinstance(body, dict):
        raise malformed("the body must be a JSON object")
    return body


def base_url(request: web.Request) -> str:
    """Where the client reached the station (for URLs handed back to it)."""
    return f"{request.scheme}://{request.host}"
