"""Device Connect access tokens on the native media endpoints: who may fetch a `uri` that
Device Connect handed out (`api.device_connect.media` builds them).

A client fetches the record file, the JPEG and the MJPEG from the native endpoints, usually as
an `<img src>` that cannot add headers, so each `uri` carries the client's access token as
`accessToken`. The native auth (`api.native.auth`) accepts such a token for these GETs only
when it is valid, has the mediastreamrecording scope, and the station handed that medium's
`uri` to the token's client (`DeviceConnectAuth.hand`). Shared by both dialects here, in `api`
itself, because the dialects never import each other.
"""

from __future__ import annotations

import re

from aiohttp import web

from api.keys import STATION
from api.security import PRINCIPAL, Principal, client_address

MEDIA_SCOPE = "mediastreamrecording"
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]+")
_NATIVE_MEDIA = re.compile(r"^/api/v1/(?:source/(?P<source>\d{1,18})/(?P<what>picture|video)"
                           r"|record/(?P<record>[^/]+)/video)/?$")


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
