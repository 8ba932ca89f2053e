"""Reading a Device Connect request's parameters from wherever a client puts them: the query
(GET/DELETE, and the URIBuilder puts everything there), and for PUT/POST also the body as
`application/x-www-form-urlencoded`, `multipart/form-data` (FormData, what the reference
JavaScript SDK sends) or a JSON object (the seed's `Content-Type: application/json`).

The SDK 2.x turns a parameter object given as the body into a whole URL
(`http://host:4035/gotapi?accessToken=…&serviceId=…`) and sends that as an urlencoded body:
such a body is read from its `?` on. Parameter names match case-insensitively.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from urllib.parse import parse_qsl

from aiohttp import BodyPartReader, web

from api.device_connect.envelope import Code, DcError

MAX_PARTS = 200
MAX_FIELD = 64 << 10


class Params(Mapping[str, str]):
    """Parameters by name, looked up without regard to case (the exact name first)."""

    def __init__(self, items: dict[str, str]):
        self._items = items
        self._folded = {k.lower(): v for k, v in items.items()}

    def __getitem__(self, key: str) -> str:
        if key in self._items:
            return self._items[key]
        return self._folded[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def text(self, key: str) -> str | None:
        """The value, stripped; None when absent or blank."""
        value = self.get(key)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def number(self, key: str, *, integer: bool = False) -> float | int | None:
        raw = self.text(key)
        if raw is None:
            return None
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            kind = "an integer" if integer else "a number"
            raise DcError(Code.INVALID_REQUEST_PARAMETER, f"{key} must be {kind}: {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise DcError(Code.INVALID_REQUEST_PARAMETER, f"{key} must be a finite number")
        return value


def _urlencoded(raw: str) -> dict[str, str]:
    text = raw.strip()
    if text.lower().startswith(("http://", "https://")) and "?" in text:
        text = text.split("?", 1)[1]
    return dict(parse_qsl(text, keep_blank_values=True))


async def _multipart(request: web.Request) -> dict[str, str]:
    try:
        reader = await request.multipart()
        values: dict[str, str] = {}
        for _ in range(MAX_PARTS):
            part = await reader.next()
            if part is None:
                return values
            if not isinstance(part, BodyPartReader) or not part.name:
                continue
            data = bytearray()
            while len(data) <= MAX_FIELD:
                chunk = await part.read_chunk(8192)
                if not chunk:
                    break
                data.extend(chunk)
            if part.filename is not None or len(data) > MAX_FIELD:
                await part.release()  # a file or an oversized field: no parameter is one
                continue
            text = part.decode(bytes(data))
            values[part.name] = text.decode(part.get_charset("utf-8"), errors="replace")
        raise DcError(Code.INVALID_REQUEST_PARAMETER, f"more than {MAX_PARTS} form fields")
    except (DcError, web.HTTPException):
        raise
    except Exception as exc:  # noqa: BLE001 - any malformed form is the client's
        raise DcError(Code.INVALID_REQUEST_PARAMETER,
                      f"the multipart/form-data body cannot be parsed: {exc}") from None


def _json_object(raw: bytes) -> dict[str, str]:
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise DcError(Code.INVALID_REQUEST_PARAMETER, f"the JSON body cannot be parsed: {exc}") from None
    if not isinstance(body, dict):
        raise DcError(Code.INVALID_REQUEST_PARAMETER, "the JSON body must be an object")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in body.items()
            if v is not None}


async def read_params(request: web.Request) -> Params:
    """Query parameters, then the body's over them."""
    items: dict[str, str] = {}
    for key, value in request.query.items():
        items.setdefault(key, value)
    if request.method in ("POST", "PUT", "DELETE") and request.body_exists:
        if (request.content_length or 0) > request.client_max_size:
            raise DcError(Code.INVALID_REQUEST_PARAMETER,
                          f"the request body is larger than {request.client_max_size} bytes")
        try:
            if request.content_type == "multipart/form-data":
                items.update(await _multipart(request))
            else:
                raw = await request.read()
                if raw.strip():
                    if request.content_type == "application/json":
                        items.update(_json_object(raw))
                    else:
                        items.update(_urlencoded(raw.decode("utf-8", errors="replace")))
        except web.HTTPRequestEntityTooLarge:
            raise DcError(Code.INVALID_REQUEST_PARAMETER,
                          f"the request body is larger than {request.client_max_size} bytes") from None
    return Params(items)
