"""The access log, without secrets: a token sent as `?accessToken=`, a Device Connect
`clientId` and a camera password inside a `uri_rtsp` sent as a query parameter would
otherwise be written in clear. Which names and URI parts are secret is decided in one place,
`recorder.redact` (reached through `app.redaction`)."""

from __future__ import annotations

import logging
from urllib.parse import quote, unquote_plus

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from app.redaction import MASK, is_secret_param, redact


def redact_target(path_qs: str) -> str:
    """`/x?accessToken=t&uri_rtsp=rtsp://u:p@h/` → `/x?accessToken=******&uri_rtsp=rtsp://u:******@h/`."""
    path, sep, query = path_qs.partition("?")
    path = redact(path) or path  # a URI-shaped path segment (`/x/rtsp://u:p@h`) too
    if not sep:
        return path
    pieces = []
    for piece in query.split("&"):
        key, eq, value = piece.partition("=")
        if eq and is_secret_param(key):
            value = MASK
        elif eq:
            plain = unquote_plus(value)
            masked = redact(plain)
            if masked != plain:
                value = quote(masked or "", safe=":/@*?=")
        pieces.append(key + eq + value)
    return path + "?" + "&".join(pieces)


class RedactingAccessLogger(AbstractAccessLogger):
    """`127.0.0.1 "GET /api/v1/source HTTP/1.1" 200 1234 0.001234s rid=<X-Request-Id>`."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        version = f"{request.version.major}.{request.version.minor}"
        self.logger.info('%s "%s %s HTTP/%s" %s %s %.6fs rid=%s', request.remote, request.method,
                         redact_target(request.path_qs), version, response.status,
                         response.body_length, time, response.headers.get("X-Request-Id", "-"))

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
