"""The absolute `uri`s Device Connect answers carry, and who may fetch them.

A client fetches the record file, the JPEG and the MJPEG from the native endpoints
(`/api/v1/record/{id}/video`, `/api/v1/source/{id}/picture`, `/api/v1/source/{id}/video`) and
photos from `/gotapi/files/photos/{name}`, usually as an `<img src>` that cannot add headers.
So each `uri` carries the client's Device Connect access token as `accessToken`, and the
native auth accepts such a token (valid, with the mediastreamrecording scope) for exactly
these GETs when the station has a token of its own configured.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from aiohttp import web

from api.keys import STATION

MEDIA_SCOPE = "mediastreamrecording"
MJPEG_MIME = "video/x-mjpeg"
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]+")
_NATIVE_MEDIA = re.compile(r"^/api/v1/(source/\d+/(picture|video)|record/[^/]+/video)/?$")


def base_url(request: web.Request) -> str:
    """scheme://host:port the client reached the station at (its Host header)."""
    return str(request.url.origin())


def _with_token(url: str, token: str | None) -> str:
    if not token:
        return url
    return url + ("&" if "?" in url else "?") + "accessToken=" + quote(token, safe="")


def record_uri(base: str, record_id: str, token: str | None) -> str:
    return _with_token(f"{base}/api/v1/record/{quote(record_id, safe='')}/video", token)


def picture_uri(base: str, source_id: int, token: str | None) -> str:
    return _with_token(f"{base}/api/v1/source/{source_id}/picture", token)


def mjpeg_uri(base: str, source_id: int, fps: float, token: str | None) -> str:
    delay = max(0.0, min(60.0, 1.0 / fps)) if fps > 0 else 1.0
    return _with_token(f"{base}/api/v1/source/{source_id}/video?delay={delay:.3f}", token)


def photo_uri(base: str, name: str, token: str | None) -> str:
    return _with_token(f"{base}/gotapi/files/photos/{quote(name, safe='')}", token)


def uri_token(value: str | None) -> str | None:
    """The access token of a `uri` a client fetched. Pages append their own query to a `uri`
    (the reference demo adds `?<timestamp>` or `?snapshot&<timestamp>`), which lands inside
    the last parameter: tokens are URL-safe base64, so anything from a `?` on is cut off."""
    if not value:
        return value
    match = _TOKEN_CHARS.match(value)
    return match.group(0) if match else None


def media_token_accepted(request: web.Request, given: str) -> bool:
    """True when `given` is a valid Device Connect access token and the request fetches one
    of the native media a Device Connect `uri` points at."""
    if request.method not in ("GET", "HEAD") or not _NATIVE_MEDIA.match(request.path):
        return False
    return request.app[STATION].dc_auth.is_valid(uri_token(given), MEDIA_SCOPE)
