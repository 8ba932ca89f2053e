"""Secrets out of text meant for people: a source's error message (FFmpeg quotes the URL it
failed to open, password included) reaches the GUI, the APIs and the logs."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

MASK = "******"
USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s'\"]*:)[^@\s'\"]*@")


def secrets_of(uri: str | None, *passwords: str | None) -> tuple[str, ...]:
    """The password inside `uri` (raw and URL-decoded) and the given ones, longest first."""
    found = [p for p in passwords if p]
    if uri and "://" in uri:
        try:
            password = urlsplit(uri).password
        except ValueError:
            password = None
        if password:
            found += [password, unquote(password)]
    return tuple(sorted(set(found), key=len, reverse=True))


def redact(text: str | None, secrets: tuple[str, ...] = ()) -> str | None:
    """`rtsp://user:secret@host` → `rtsp://user:******@host`, and every known secret masked."""
    if not text:
        return text
    text = USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
