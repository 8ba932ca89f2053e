"""The native dialect's policy for the guard (`api.security`): its credentials (the station
token, or a Device Connect token for the media URIs handed to that client), its error shape
`{"detail": ...}`, and JSON-only bodies.

A station without a token (loopback only: settings refuse anything else) is open to local
programs; the guard's Host and Origin checks are what keep web pages out of it.
"""

from __future__ import annotations

import hmac
from dataclasses import replace

from aiohttp import web

from api.device_connect.media import media_token_accepted
from api.keys import STATION
from api.native.docs import is_public
from api.security import PRINCIPAL, DialectPolicy, bearer_token

JSON = ("application/json",)
OCTETS = ("application/octet-stream",)
UPLOAD_CHUNK = "/api/v1/upload/{upload_id}"


def _as(request: web.Request, who: str) -> None:
    request[PRINCIPAL] = replace(request[PRINCIPAL], who=who)


async def authenticate(request: web.Request) -> str | None:
    token = request.app[STATION].settings.token
    if is_public(request.path):
        _as(request, "public")
        return None
    if not token:
        _as(request, "open")
        return None
    given = bearer_token(request)
    if not given:
        return "Not authenticated: a valid token is required"
    if hmac.compare_digest(given.encode(), token.encode()):
        _as(request, "station-token")
        return None
    if media_token_accepted(request, given):  # it names the Device Connect client (PRINCIPAL)
        return None
    return "Not authenticated: the token is not valid"


def render(_request: web.Request, status: int, message: str) -> web.Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return web.json_response({"detail": message}, status=status, headers=headers)


def body_types(request: web.Request) -> tuple[str, ...]:
    """JSON everywhere; an upload chunk is the file's raw bytes."""
    resource = request.match_info.route.resource
    if request.method == "PUT" and resource is not None and resource.canonical.rstrip("/") == UPLOAD_CHUNK:
        return OCTETS
    return JSON


NATIVE_POLICY = DialectPolicy("native", render, authenticate=authenticate, body_types=body_types)
