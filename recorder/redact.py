"""Secrets out of text meant for people: the one place that knows where a URI carries a
credential. API answers, events, logs, error texts (FFmpeg quotes the URL it failed to open)
and record snapshots all mask through `mask_uri`/`redact`, so a credential form added here is
hidden everywhere at once.

Credential forms, in any scheme:
- the password of the user-info (`rtsp://user:secret@host/`);
- query parameters named like a secret (`?password=`, `&passphrase=`, `?key=`, `?token=`, ...,
  case-insensitive, `_`/`-` ignored: `stream_key` is `streamkey`);
- RTMP(S) stream keys: every path segment after the application (`rtmp://host/live/KEY`).
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus

MASK = "******"

# Names of query parameters whose value is a secret, compared lower-case without `_` and `-`.
SECRET_PARAMS = frozenset({
    "password", "passwd", "pass", "pwd", "passphrase", "key", "token", "streamkey", "secret",
    "accesstoken", "apikey", "sk", "auth", "authorization", "signature", "sig", "credential",
    "credentials", "clientid", "sessionkey",  # Device Connect: a client id binds events
})
RTMP_SCHEMES = frozenset({"rtmp", "rtmps", "rtmpe", "rtmpt", "rtmpte", "rtmpts"})
SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
# A URI inside free text: up to whitespace, a quote or an angle bracket.
URI_IN_TEXT = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s'\"<>]*")


def is_secret_param(name: str) -> bool:
    return re.sub(r"[-_]", "", unquote_plus(name)).lower() in SECRET_PARAMS


def _parts(uri: str) -> tuple[str, str, str, str, str, str] | None:
    """(scheme, userinfo, hostport, path, query, fragment) without decoding anything, or None
    for text that is not `scheme://...`. The user-info runs to the last `@` before the query,
    so a password with an unencoded `/` or `@` is still taken whole (masking too much beats
    masking too little)."""
    match = SCHEME.match(uri)
    if not match:
        return None
    scheme, rest = match.group(1), uri[match.end():]
    rest, hsep, fragment = rest.partition("#")
    rest, qsep, query = rest.partition("?")
    userinfo, at, rest = rest.rpartition("@")
    if not at:
        userinfo = None
    hostport, slash, path = rest.partition("/")
    return (scheme, userinfo, hostport, slash + path, qsep + query, hsep + fragment)  # type: ignore[return-value]


def _mask_query(query: str) -> str:
    """`?size=1&password=x` → `?size=1&password=******` (the `?` kept, order kept)."""
    if not query:
        return query
    pieces = []
    for piece in query[1:].split("&"):
        name, eq, value = piece.partition("=")
        pieces.append(name + eq + MASK if eq and value and is_secret_param(name) else piece)
    return "?" + "&".join(pieces)


def _mask_rtmp_path(path: str) -> str:
    """`/live/KEY` → `/live/******`; `/live` alone has no key."""
    app, sep, key = path[1:].partition("/")
    return f"/{app}/{MASK}" if sep and key else path


def mask_uri(uri: str | None) -> str | None:
    """Every credential of `uri` replaced by `******`; anything that is not `scheme://...`
    comes back unchanged. The result is stable: masking twice gives the same text."""
    if not uri:
        return uri
    parts = _parts(uri)
    if parts is None:
        return uri
    scheme, userinfo, hostport, path, query, fragment = parts
    authority = hostport
    if userinfo is not None:
        user, colon, password = userinfo.partition(":")
        authority = f"{user}:{MASK}@{hostport}" if colon and password else f"{userinfo}@{hostport}"
    if scheme.lower() in RTMP_SCHEMES:
        path = _mask_rtmp_path(path)
    return f"{scheme}://{authority}{path}{_mask_query(query)}{fragment}"


def redact(text: str | None, uris: tuple[str | None, ...] = ()) -> str | None:
    """`text` with every credential masked where it stands: each URI the caller knows it
    holds (`uris`: what it opened, as written or percent-decoded, as FFmpeg may quote it)
    replaced whole by its masked form, then every other URI-shaped word masked by its syntax
    (`mask_uri`). Never a search for the secret's own text: a one-letter password ("p") would
    turn "cannot open" into "cannot o******en" and so tell the password to whoever reads it."""
    if not text:
        return text
    known: dict[str, str] = {}
    for uri in uris:
        masked = mask_uri(uri) if uri else uri
        if uri and masked != uri:
            for form in {uri, unquote(uri), unquote_plus(uri)}:
                known[form] = masked or ""
    for form in sorted(known, key=len, reverse=True):  # a longer form before its prefix
        text = text.replace(form, known[form])
    return URI_IN_TEXT.sub(lambda m: mask_uri(m.group(0)) or "", text)
