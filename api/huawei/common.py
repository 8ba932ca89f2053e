"""What the two Huawei dialects share: each is an aiohttp sub-application whose one
middleware gives it Huawei's request id header, authenticates (token or AK/SK signature),
and turns every failure into the dialect's `{"error_code", "error_msg"}` shape, so no
native error shape and no 500 traceback ever leaks into a Huawei client.

Credentials accepted (see `authenticate`): the station token as `X-Auth-Token` (Huawei's
token header) or `Authorization: Bearer`, or an `SDK-HMAC-SHA256` signature by the
configured AK/SK (the site's service credential) or by a user's pair (#26, app.accounts.aksk:
the request then acts as that user, held to the role each route declares: record control
needs an operator). The signature covers the body and is accepted once (`api.huawei.signing`);
its head, AK included, is checked before the body is read, and a token is checked without
reading it. Credentials are required once a token or an AK/SK is configured; a loopback
station with neither stays open, like the other dialects. Every failed authentication goes to
`api.security.refused` (logged without the secret, counted toward the per-address 429).

Each sub-application declares its `DialectPolicy`, so the root's guard (Host, Origin, body
type, 429) answers in this dialect's shape too.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Callable

from aiohttp import web

from api.huawei import signing
from api.keys import REQUEST_ID, STATION
from api.permissions import IDENTITY
from api.routing import call
from api.security import (
    POLICY,
    PRINCIPAL,
    STATE_CHANGING,
    DialectPolicy,
    Principal,
    bearer_token,
    client_address,
)
from app.identity import Identity
from app.station import Station

log = logging.getLogger(__name__)
HOSTNAME = socket.gethostname()
JSON = ("application/json",)
HUAWEI_REQUEST_ID = web.RequestKey("huawei_request_id", str)
REPLAYS = web.AppKey("huawei_replays", signing.ReplayCache)


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


def request_id(request: web.Request, dialect: Dialect) -> str:
    """The request's id in the dialect's format, made once (the guard may answer before the
    dialect's middleware runs)."""
    rid = request.get(HUAWEI_REQUEST_ID)
    if rid is None:
        rid = request[HUAWEI_REQUEST_ID] = dialect.new_request_id()
        request[REQUEST_ID] = rid
    return rid


async def authenticate(request: web.Request, station: Station, dialect: Dialect,
                       replays: signing.ReplayCache) -> str | None:
    """None when the request may pass (PRINCIPAL then says who it is), else why not.

    A signature is checked whenever a pair is configured or its AK is a user's; with a token
    but neither every signature fails like a wrong one. Refusals never say which part of a
    credential was wrong (an unknown AK and a wrong signature read the same)."""
    settings = station.settings
    token, ak, sk = settings.token, settings.huawei_ak, settings.huawei_sk
    auth = request.headers.get("Authorization", "")
    if signing.is_signed(auth):
        return await _signed(request, station, dialect, replays)
    given = bearer_token(request, query=False)
    if token and given and hmac.compare_digest(given.encode(), token.encode()):
        return _passes(request, dialect, "station-token")
    if token or (ak and sk):
        return "a valid X-Auth-Token or AK/SK signature is required" if not given else \
            "the token is not valid"
    return _passes(request, dialect, "open")


async def _signed(request: web.Request, station: Station, dialect: Dialect,
                  replays: signing.ReplayCache) -> str | None:
    """An `SDK-*` signed request: the head's form and date, then the SK its AK names (the
    configured pair's, or a user's from the catalog, looked up off the event loop: one query
    for a known and an unknown AK alike), then the signature over the body.

    A user's pair makes the request act as that user (`IDENTITY`: the guard then holds it to
    the route's role). The configured pair stays the site's service credential, checked with
    the settings' SK and held to no role, as before accounts; while it is filed under an
    enabled user (app.accounts.aksk.adopt_configured) the trail names it `admin (ak <AK>)`,
    else `ak:<AK>`. A station open without credentials passes what it cannot check, as before,
    but a user's AK must still sign right (like a user's token on the native API)."""
    settings = station.settings
    ak, sk = settings.huawei_ak, settings.huawei_sk
    configured = bool(ak and sk)
    is_open = not configured and not settings.token
    try:  # what the head can tell, before the catalog is asked or a byte of the body read
        head = signing.check_form(request.headers)
    except signing.SignatureError as exc:
        return _passes(request, dialect, "open") if is_open else str(exc)
    user_key = await call(station.aksk.secret_for, head.access)
    identity: Identity | None = None
    if configured and hmac.compare_digest(head.access.encode(), (ak or "").encode()):
        key, secret = ak, sk
        who = user_key[1].who if user_key else f"ak:{head.access}"
    elif user_key is not None:
        key, (secret, identity) = head.access, user_key
        who = identity.who
    elif is_open:
        return _passes(request, dialect, "open")
    else:
        key = secret = who = None
    try:
        signing.check_head(request.headers, key)  # an unknown AK: refused before the body
        body = await request.read()
        checked = signing.verify(method=request.method, raw_path=request.raw_path,
                                 query=list(request.query.items()), headers=request.headers,
                                 body=body, access_key=key, secret_key=secret)
        if request.method in STATE_CHANGING:
            replays.first_use(checked, request.headers[signing.DATE_HEADER])
    except signing.SignatureError as exc:
        return str(exc)
    if user_key is not None:
        await call(station.aksk.mark_used, head.access)
    if identity is not None:
        request[IDENTITY] = identity
    return _passes(request, dialect, who or f"ak:{checked.access}")


def _passes(request: web.Request, dialect: Dialect, who: str) -> None:
    request[PRINCIPAL] = Principal(dialect.name, client_address(request), who)


def make_middleware(dialect: Dialect):
    @web.middleware
    async def huawei_middleware(request: web.Request, handler):
        rid = request_id(request, dialect)
        try:  # the guard has authenticated the request (the policy's `authenticate`)
            response = await handler(request)
        except HuaweiError as exc:
            response = error_response(exc, rid)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = error_response(route_error(exc), rid)
            if exc.status == 405 and "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
        except Exception as exc:  # noqa: BLE001 - domain errors translated, the rest is a 500
            error = dialect.translate(exc)
            if error is None:
                log.exception("%s: unhandled error in %s %s", dialect.name, request.method,
                              request.path)
                error = dialect.internal_error
            response = error_response(error, rid)
        response.headers[dialect.request_id_header] = rid
        return response

    return huawei_middleware


def render_refusal(dialect: Dialect) -> Callable[[web.Request, int, str], web.Response]:
    """How the guard's refusals (403 foreign Origin, 415 body type, 421 unknown Host, 429
    too many failed authentications) read in this dialect: API Gateway's codes (on Huawei
    Cloud the gateway refuses these before the service sees them), the dialect's own for 401,
    with the dialect's request id header."""

    def render(request: web.Request, status: int, message: str) -> web.Response:
        if status == 401:
            error = dialect.auth_error(message)
        else:
            code, _ = GATEWAY_REFUSALS.get(status, GATEWAY_REFUSALS[400])
            error = HuaweiError(status, code, message)
        rid = request_id(request, dialect)
        response = error_response(error, rid)
        response.headers[dialect.request_id_header] = rid
        return response

    return render


# status -> (API Gateway error code, what it means)
GATEWAY_REFUSALS = {
    400: ("APIG.0201", "bad request"),
    403: ("APIG.0302", "not authorized to access the API"),
    415: ("APIG.0201", "bad request: unsupported content type"),
    421: ("APIG.0101", "the API does not exist at this host"),
    429: ("APIG.0308", "the throttling threshold has been reached"),
}


def json_bodies(_request: web.Request) -> tuple[str, ...]:
    return JSON


def sub_app(station: Station, dialect: Dialect) -> web.Application:
    """A sub-application carrying the station, the dialect's policy for the guard (its error
    shape, JSON bodies, its credentials: token or AK/SK signature), the middleware that
    answers for the handlers' errors, and a replay cache for its signatures."""
    app = web.Application(middlewares=[make_middleware(dialect)])
    app[STATION] = station

    async def check_credentials(request: web.Request) -> str | None:
        return await authenticate(request, station, dialect, app[REPLAYS])

    app[POLICY] = DialectPolicy(dialect.name, render=render_refusal(dialect),
                                authenticate=check_credentials, body_types=json_bodies)
    app[REPLAYS] = signing.ReplayCache()
    return app


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
