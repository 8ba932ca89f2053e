"""The access log, without secrets and without forged lines: a token sent as
`?accessToken=`, a Device Connect `clientId` and a camera password inside a `uri_rtsp` sent
as a query parameter would otherwise be written in clear, and a path with `%0A` (or `%22`)
would write a line (or a field) of the client's choosing. Which names and URI parts are
secret is decided in one place, `recorder.redact` (reached through `app.redaction`); the
target is logged percent-encoded, so the line holds printable ASCII and no `"` of the
client's."""

from __future__ import annotations

import logging
from urllib.parse import quote, unquote, unquote_plus

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from app.redaction import MASK, is_secret_param, redact

# Kept as they are in a logged target: the URI characters that are neither `%` nor `"`.
SAFE = "/:@!$&'()*+,;=-._~"


def _encoded(text: str) -> str:
    return quote(text, safe=SAFE)


def redact_target(target: str) -> str:
    """The request target as sent (`request.raw_path`), for the log: secrets masked, every
    character outside the printable URI set percent-encoded.
    `/x?accessToken=t&uri_rtsp=rtsp://u:p@h/` → `/x?accessToken=******&uri_rtsp=rtsp://u:******@h/`;
    `/x%0AFORGED` → `/x%0AFORGED` (one line)."""
    path, sep, query = target.partition("?")
    plain = unquote(path)
    path = _encoded(redact(plain) or plain)  # a URI-shaped path segment (`/x/rtsp://u:p@h`) too
    if not sep:
        return path
    pieces = []
    for piece in query.split("&"):
        key, eq, value = piece.partition("=")
        name = unquote_plus(key)
        if eq and is_secret_param(key):
            value = MASK
        elif eq:
            plain = unquote_plus(value)
            value = _encoded(redact(plain) or plain)
        pieces.append(_encoded(name) + eq + value)
    return path + "?" + "&".join(pieces)


class RedactingAccessLogger(AbstractAccessLogger):
    """`127.0.0.1 "GET /api/v1/source HTTP/1.1" 200 1234 0.001234s rid=<X-Request-Id>`."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        version = f"{request.version.major}.{request.version.minor}"
        rid = response.headers.get("X-Request-Id", "-")  # the client's own, when it sent one
        self.logger.info('%s "%s %s HTTP/%s" %s %s %.6fs rid=%s', request.remote, request.method,
                         redact_target(request.raw_path), version, response.status,
                         response.body_length, time, _encoded(rid[:128]))

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
