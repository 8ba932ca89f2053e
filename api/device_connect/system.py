"""The profiles around MediaStreamRecording: availability, authorization (client ids and
access tokens, approved by the operator, by the station token, or automatically for loopback
clients), servicediscovery and serviceinformation, and the photo files a `takephoto` uri
points at."""

from __future__ import annotations

import asyncio
import hmac
from urllib.parse import urlsplit

from aiohttp import web

from api import routing
from api.device_connect.context import Call
from api.device_connect.envelope import DIALECT, Code, DcError, cors_headers, service_id
from api.security import bearer_token, client_address, origin_allowed, refused
from app.dialects.device_connect.dc_auth import AccessToken, UnknownClient, is_loopback
from app.dialects.device_connect.dc_recorder import PHOTO_MIME
from app.errors import NotFound

# the profiles the one service supports (both spellings of MediaStreamRecording: the seed's
# and the public profile's; clients compare these names literally)
SUPPORTS = ["serviceinformation", "mediastreamrecording", "mediastream_recording"]


async def availability(call: Call) -> dict:
    return {"name": call.station.name, "uuid": service_id(call.station.settings)}


async def grant(call: Call) -> dict:
    return {"clientId": call.station.dc_auth.grant()}


def _station_token_ok(call: Call) -> bool:
    """True when the request carries the station token (`Authorization: Bearer` or
    `X-Auth-Token`); a wrong one is refused at once (errorCode 11) and counted."""
    configured = call.station.settings.token
    presented = bearer_token(call.request, query=False)
    if not configured or presented is None:
        return False
    if hmac.compare_digest(presented.encode(), configured.encode()):
        return True
    refused(call.request, DIALECT, "accessToken request with a wrong station token")
    raise DcError(Code.AUTHORIZATION, "the station token is not valid")


def _foreign_page(call: Call) -> bool:
    """True when a browser says a web page that is not served from this computer (nor listed
    in `allowed_origins`) asks: the browser's own `Origin`, which a page cannot forge (the
    SDK's `X-GotAPI-Origin` it can). No `Origin`: not a cross-site page."""
    origin = call.request.headers.get("Origin")
    if origin is None:
        return False
    if origin_allowed(origin, call.request, call.station.settings.allowed_origins):
        return False
    try:
        host = (urlsplit(origin.strip()).hostname or "").lower()
    except ValueError:
        return True
    return not (host == "localhost" or host.endswith(".localhost") or is_loopback(host))


async def access_token(call: Call) -> dict:
    """Issued at once to a client that presents the station token, or to a loopback client
    with `dc_auto_approve` that is not a foreign web page; otherwise the operator decides (the GUI's dialog) within the
    approval timeout: refused → errorCode 11, no answer → 7, too many waiting → 17. A client
    that hangs up stops the waiting too."""
    auth = call.station.dc_auth
    params = call.params
    vouched = _station_token_ok(call)
    try:
        pending = auth.request_access(params.text("clientId"), params.text("scope"),
                                      params.text("applicationName"), call.client_origin,
                                      address=client_address(call.request),
                                      station_token_ok=vouched,
                                      foreign_page=_foreign_page(call))
    except UnknownClient:
        refused(call.request, DIALECT, "accessToken request for an unknown clientId")
        raise
    waiting = asyncio.wrap_future(pending.future)
    waiting.add_done_callback(lambda f: f.cancelled() or f.exception())  # seen, even if we left
    try:
        await asyncio.wait({waiting}, timeout=auth.approval_timeout_s)
    finally:
        if not waiting.done():
            auth.expire(pending.request_id)
    token: AccessToken = await waiting
    return {"accessToken": token.token, "expire": int(token.expires_at * 1000),
            "scopes": [{"scope": s, "expirePeriod": token.ttl_s} for s in token.scopes],
            "clientId": token.client_id}


def _service(call: Call) -> dict:
    return {"id": service_id(call.station.settings), "name": call.station.name, "type": "Wifi",
            "online": True, "config": "", "scopes": SUPPORTS}


async def servicediscovery(call: Call) -> dict:
    return {"services": [_service(call)]}


async def serviceinformation(call: Call) -> dict:
    return {"supports": SUPPORTS, "name": call.station.name,
            "connect": {"wifi": True, "bluetooth": False, "nfc": False, "ble": False}}


async def photo_file(call: Call, name: str) -> web.StreamResponse:
    """`GET /gotapi/files/photos/{name}` (the token checked by the dispatcher): only a photo
    whose `uri` was handed to the token's client; any other answers like a missing one."""
    assert call.token is not None
    if call.station.dc_auth.media_token(call.token.token, "mediastreamrecording", "photo",
                                        name) is None:
        refused(call.request, DIALECT, "photo not handed to this client")
        raise DcError(Code.INVALID_REQUEST_PARAMETER, "no such file")
    try:
        path = await routing.call(call.station.media_recorders.photo_path, name)
    except NotFound:
        raise DcError(Code.INVALID_REQUEST_PARAMETER, "no such file") from None
    # CORS too: the reference demo loads photos into an <img crossorigin="anonymous">
    return web.FileResponse(path, headers=cors_headers(call.request) | {
        "Content-Type": PHOTO_MIME, "Cache-Control": "no-store"})
