"""The profiles around MediaStreamRecording: availability, authorization (client ids and
access tokens, approved by the operator or automatically), servicediscovery and
serviceinformation, and the photo files a `takephoto` uri points at."""

from __future__ import annotations

import asyncio

from aiohttp import web

from api.device_connect.context import Call, blocking
from api.device_connect.envelope import cors_headers, service_id
from app.services.dc_auth import AccessToken
from app.services.dc_recorder import PHOTO_MIME

# the profiles the one service supports (both spellings of MediaStreamRecording: the seed's
# and the public profile's; clients compare these names literally)
SUPPORTS = ["serviceinformation", "mediastreamrecording", "mediastream_recording"]


async def availability(call: Call) -> dict:
    return {"name": call.station.name, "uuid": service_id(call.station.settings)}


async def grant(call: Call) -> dict:
    return {"clientId": call.station.dc_auth.grant()}


async def access_token(call: Call) -> dict:
    """Issued at once with `dc_auto_approve`; otherwise the operator decides (the GUI's
    dialog) within the approval timeout: refused → errorCode 11, no answer → 7. A client that
    hangs up stops the waiting too."""
    auth = call.station.dc_auth
    params = call.params
    pending = auth.request_access(params.text("clientId"), params.text("scope"),
                                  params.text("applicationName"), call.client_origin)
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
    """`GET /gotapi/files/photos/{name}` (the token checked by the dispatcher)."""
    path = await blocking(call.station.media_recorders.photo_path, name)
    # CORS too: the reference demo loads photos into an <img crossorigin="anonymous">
    return web.FileResponse(path, headers=cors_headers(call.request) | {
        "Content-Type": PHOTO_MIME, "Cache-Control": "no-store"})
