"""The absolute `uri`s Device Connect answers carry, and who may fetch them.

A client fetches the record file, the JPEG and the MJPEG from the native endpoints
(`/api/v1/record/{id}/video`, `/api/v1/source/{id}/picture`, `/api/v1/source/{id}/video`) and
photos from `/gotapi/files/photos/{name}`, usually as an `<img src>` that cannot add headers.
So each `uri` carries the client's Device Connect access token as `accessToken`, and the
native auth accepts such a token (valid, with the mediastreamrecording scope) for these GETs
when the station has a token of its own configured — and only for the media whose `uri` the
station handed to that token's client (`handed`, remembered by `DeviceConnectAuth.hand`): a
Device Connect token never opens a record, picture or stream by guessing its id. That check
is `api.media_tokens`' (the native auth asks it too, never this dialect).
"""

from __future__ import annotations

from urllib.parse import quote

from app.dialects.device_connect.dc_auth import AccessToken, DeviceConnectAuth

MJPEG_MIME = "video/x-mjpeg"


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
