"""The native dialect's policy for the guard (`api.security`): its credentials (the station
token, or a Device Connect token for the media URIs handed to that client), its error shape
`{"detail": ...}`, and JSON-only bodies.

A station without a token (loopback only: settings refuse anything else) is open to local
programs; the guard's Host and Origin checks are what keep web pages out of it.

Another site's page (`Sec-Fetch-Site: cross-site` or `same-site`, which browsers send and pages
cannot forge) reaches only what Device Connect pages embed: the record video, source picture
and MJPEG URLs handed to their clients, and a top-level navigation to the docs. Anything else
is a 403, GETs included: a GET can make the station work (cut an export, probe a camera).
"""

from __future__ import annotations

import hmac
from dataclasses import replace

from aiohttp import web

from api.keys import STATION
from api.permissions import IDENTITY
from api.routing import call
from api.media_tokens import media_token_accepted, native_medium
from api.native.docs import is_public
from api.security import PRINCIPAL, DialectPolicy, bearer_token
from app.identity import ACTING
from app.identity import QUERY as ACTING_QUERY
from app.accounts.tokens import PREFIX as USER_TOKEN_PREFIX
from app.site.peer_auth import PROOF, body_matches, is_signed

JSON = ("application/json",)
OCTETS = ("application/octet-stream",)
UPLOAD_CHUNK = "/api/v1/upload/{upload_id}"
SESSION_PATH = "/api/v1/session"
STATION_NONCE = web.RequestKey("station_nonce", str)  # a signed station request's, for the proof


def _as(request: web.Request, who: str) -> None:
    request[PRINCIPAL] = replace(request[PRINCIPAL], who=who)


async def authenticate(request: web.Request) -> str | None:
    """Who is calling: the public docs or sign-in; another station (signed); the station's
    token (the site's service credential, admin-equivalent); a Device Connect client's media
    token; a user's session or personal token (`rs_...`, app.accounts.tokens). A station
    without a token is open to local programs without a credential; one that is sent there
    must still be valid (a user's token then holds its user to their role)."""
    station = request.app[STATION]
    token = station.settings.token
    if is_public(request.path) or is_sign_in(request):
        _as(request, "public")
        return None
    given = bearer_token(request)
    if not token and not given:
        _as(request, "open")
        return await _acting_for(request, "via a station") if ACTING_QUERY in request.query \
            else None
    if token and is_signed(request.headers):  # another station of the site (app.site.peer_auth)
        return await _station(request)
    if not given:
        return "Not authenticated: a valid token is required"
    if token and hmac.compare_digest(given.encode(), token.encode()):
        _as(request, "station-token")
        return None
    if given.startswith(USER_TOKEN_PREFIX):
        identity = await call(station.tokens.identify, given)
        if identity is not None:
            _as_user(request, identity)
            return None
        return "Not authenticated: the token is not valid (or it expired, or was revoked)"
    if token and media_token_accepted(request, given):  # it names the Device Connect client
        return None
    if not token:
        _as(request, "open")  # an open station ignores a credential it does not use
        return None
    return "Not authenticated: the token is not valid"


def is_sign_in(request: web.Request) -> bool:
    """`POST /api/v1/session`: a name and a password are the credential (api.native.users)."""
    return request.method == "POST" and request.path.rstrip("/") == SESSION_PATH


async def _station(request: web.Request) -> str | None:
    """A request another station signed for this one: its signature, time window and nonce
    first, the body (when there is one) only then, against the hash that was signed. The
    answer then proves this station answered (`prove_station_answer`)."""
    peers = request.app[STATION].peers
    try:
        sender, nonce = peers.verify(request.method, request.raw_path, request.headers)
    except ValueError as exc:
        return f"Not authenticated: {exc}"
    body = await request.read() if request.body_exists else b""
    if not body_matches(request.headers, body):
        return "Not authenticated: the body is not the one the station signed"
    _as(request, f"station:{sender[:36]}")
    request[STATION_NONCE] = nonce
    if ACTING_QUERY in request.query:  # for whom the other station asks, under its signature
        return await _acting_for(request, f"via station {sender[:8]}")
    return None


async def _acting_for(request: web.Request, via: str) -> str | None:
    """The user another station acts for (app.identity): that user's role and scope
    apply here. On an open station (no token: nothing is signed) the word is taken too: it
    can only take rights away from what the open door gives."""
    acting = request.query.get(ACTING_QUERY, "")
    user_id = int(acting) if acting.isdigit() and len(acting) < 19 else 0
    identity = await call(request.app[STATION].tokens.identity_of_user, user_id, via)
    if identity is None:
        return "Not authenticated: the user the station acts for is not an account here"
    _as_user(request, identity)
    return None


def _as_user(request: web.Request, identity) -> None:
    """The request acts for a user: their role and scope apply (api.permissions), the audit
    trail names them, and what the services forward to other stations carries them."""
    request[IDENTITY] = identity
    _as(request, identity.who)
    ACTING.set(identity)  # the handler's task: its calls to the services copy it


async def prove_station_answer(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """The answer to a signed station request carries `X-RS-Proof` (app.site.peer_auth), without
    which the asking station does not believe it (a catalog row may point anywhere)."""
    nonce = request.get(STATION_NONCE)
    if nonce:
        response.headers[PROOF] = request.app[STATION].peers.proof(nonce, response.status)


def render(_request: web.Request, status: int, message: str) -> web.Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return web.json_response({"detail": message}, status=status, headers=headers)


def body_types(request: web.Request) -> tuple[str, ...]:
    """JSON everywhere; an upload chunk is the file's raw bytes."""
    resource = request.match_info.route.resource
    if request.method == "PUT" and resource is not None and resource.canonical.rstrip("/") == UPLOAD_CHUNK:
        return OCTETS
    return JSON


def cross_site(request: web.Request) -> bool:
    """May another site's page make this request? Only GET/HEAD of the media URLs handed to
    Device Connect clients (`<img>`, `<video>`), and opening the docs or the index in a tab."""
    if request.method not in ("GET", "HEAD"):
        return False
    if native_medium(request.path) is not None:
        return True
    navigating = request.headers.get("Sec-Fetch-Mode", "").lower() == "navigate" and \
        request.headers.get("Sec-Fetch-Dest", "document").lower() == "document"
    return navigating and (request.path == "/" or is_public(request.path))


NATIVE_POLICY = DialectPolicy("native", render, authenticate=authenticate, body_types=body_types,
                              cross_site=cross_site)
