"""The absolute `uri`s Device Connect answers carry, and who may fetch them.

A client fetches the record file, the JPEG and the MJPEG from the native endpoints
(`/api/v1/record/{id}/video`, `/api/v1/source/{id}/picture`, `/api/v1/source/{id}/video`) and
photos from `/gotapi/files/photos/{name}`, usually as an `<img src>` that cannot add headers.
So each `uri` carries the client's Device Connect access token as `accessToken`, and the
native auth accepts such a token (valid, with the mediastreamrecording scope) for these GETs
when the station has a token of its own configured — and only for the media whose `uri` the
station handed to that token's client (`handed`, remembered by `DeviceConnectAuth.hand`): a
Device Connect token never opens a record, picture or stream by guessing its id.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from aiohttp import web

from api.keys import STATION
from api.security import PRINCIPAL, Principal, client_address
from app.services.dc_auth import AccessToken, DeviceConnectAuth

MEDIA_SCOPE = "mediastreamrecording"
MJPEG_MIME = "video/x-mjpeg"
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]+")
_NATIVE_MEDIA = re.compile(r"^/api/v1/(?:source/(?P<source>\d{1,18})/(?P<what>picture|video)"
                           r"|record/(?P<record>[^/]+)/video)/?$")

def _with_token(url: str, token: str | None) -> str:
    if not token:
        return url
    return url + ("&" if "?" in url else "?") + "accessToken=" + quote(token, safe="")


def handed(auth: DeviceConnectAuth, token: AccessToken | None, kind: str, key: str | int) -> None:
    """Remember that the token's client now holds a `uri` of that medium."""
    if token is not None:
        auth.hand(token.client_id, kind, key)


def record_uri(base: str, record_id: str, token: str | None) -> str:
    return _with_token(f"{base}/api/v1/record/{quote(record_id, safe='')}/video", token)


def picture_uri(base: str, source_id: int, token: str | None) -> str:
    return _with_token(f"{base}/api/v1/source/{source_id}/picture", token)


def mjpeg_uri(base: str, source_id: int, fps: float, token: str | None) -> str:
    delay = max(0.0, min(60.0, 1.0 / fps)) if fps > 0 else 1.0
    return _with_token(f"{base}/api/v1/source/{source_id}/video?delay={delay:.3f}", token)


def photo_uri(base: str, name: str, token: str | None) -> str:
    return _with_token(f"{base}/gotapi/files/photos/{quote(name, safe='')}", token)


def native_medium(path: str) -> tuple[str, str] | None:
    """(kind, key) of a native media path a `uri` points at: `record` and its id,
    `picture` / `mjpeg` and the source id; None for any other path."""
    match = _NATIVE_MEDIA.match(path)
    if match is None:
        return None
    if match["record"] is not None:
        return "record", match["record"]
    return ("picture" if match["what"] == "picture" else "mjpeg"), str(int(match["source"]))


def uri_token(value: str | None) -> str | None:
    """The access token of a `uri` a client fetched. Pages append their own query to a `uri`
    (the reference demo adds `?<timestamp>` or `?snapshot&<timestamp>`), which lands inside
    the last parameter: tokens are URL-safe base64, so anything from a `?` on is cut off."""
    if not value:
        return value
    match = _TOKEN_CHARS.match(value)
    return match.group(0) if match else None


def media_token_accepted(request: web.Request, given: str) -> bool:
    """True when `given` is a valid Device Connect access token (mediastreamrecording scope)
    and the request GETs a native medium whose `uri` the station handed to that token's
    client; then the request's principal is that client. A False is the caller's to count as
    a refusal (`api.security.refused`)."""
    if request.method not in ("GET", "HEAD"):
        return False
    medium = native_medium(request.path)
    if medium is None:
        return False
    token = request.config_dict[STATION].dc_auth.media_token(uri_token(given), MEDIA_SCOPE,
                                                             *medium)
    if token is None:
        return False
    request[PRINCIPAL] = Principal("native", client_address(request), token.who)
    return True
