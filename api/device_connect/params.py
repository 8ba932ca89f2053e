"""Reading a Device Connect request's parameters from wherever a client puts them: the query
(GET/DELETE, and the URIBuilder puts everything there), and for PUT/POST also the body as
`application/x-www-form-urlencoded`, `multipart/form-data` (FormData, what the reference
JavaScript SDK sends) or a JSON object (the seed's `Content-Type: application/json`).

The SDK 2.x turns a parameter object given as the body into a whole URL
(`http://host:4035/gotapi?accessToken=…&serviceId=…`) and sends that as an urlencoded body:
such a body is read from its `?` on. Parameter names match case-insensitively.

Every page on the network may send here (Device Connect serves any origin), so what one
request's parameters may cost is bounded: at most `MAX_BODY` bytes of body are read (a body
that says or turns out to be longer is refused at once, without reading the rest), at most
`MAX_FIELDS` parameters, names up to `MAX_NAME` characters, and everything kept — the raw
body, its text, every name and value — is counted against `MAX_PARAMS_BYTES` (1 MiB). The
body is parsed from memory by the small parsers below, field by field, so no parser builds an
unbounded intermediate list; all of it is local to the request and freed when the request
(or its connection) ends.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from email.message import Message
from urllib.parse import unquote_plus

from aiohttp import web

from api.device_connect.envelope import Code, DcError

MAX_PARAMS_BYTES = 1 << 20  # everything one request's parameters keep in memory
MAX_BODY = 128 << 10  # body bytes read (the text of it may take up to 4x as a str)
MAX_FIELDS = 64  # parameters, query and body together
MAX_NAME = 128  # characters of a parameter name
MAX_PART_HEADERS = 16  # header lines of one multipart part
MAX_JSON_ITEMS = 256  # `[`, `{` and `,` in a JSON body: bounds what json.loads builds


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

    def given(self, key: str) -> str | None:
        """The value stripped, "" when the parameter is present but empty; None when absent
        (Device Connect tells `target=` apart from no target)."""
        value = self.get(key)
        return None if value is None else value.strip()

    def positive_integer(self, key: str, *, limit: int = 2**31 - 1) -> int | None:
        """A positive integer (decimal digits, at most `limit`), or None when absent; present
        but empty, not a number, zero, negative or above the limit is errorCode 10."""
        raw = self.given(key)
        if raw is None:
            return None
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 20 and 0 < int(raw) <= limit):
            raise DcError(Code.INVALID_REQUEST_PARAMETER,
                          f"{key} must be a positive integer (at most {limit}): {raw[:40]!r}")
        return int(raw)

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


def _bad(message: str) -> DcError:
    return DcError(Code.INVALID_REQUEST_PARAMETER, message)


class _Collected:
    """The parameters read so far and what they cost."""

    def __init__(self) -> None:
        self.items: dict[str, str] = {}
        self.used = 0

    def cost(self, *objects: object) -> None:
        self.used += sum(sys.getsizeof(o) for o in objects)
        if self.used > MAX_PARAMS_BYTES:
            raise _bad(f"the request's parameters take more than {MAX_PARAMS_BYTES} bytes")

    def add(self, name: str, value: str, *, replace: bool = True) -> None:
        if len(name) > MAX_NAME:
            raise _bad(f"a parameter name is longer than {MAX_NAME} characters")
        if name not in self.items and len(self.items) >= MAX_FIELDS:
            raise _bad(f"more than {MAX_FIELDS} parameters")
        self.cost(name, value)
        if replace or name not in self.items:
            self.items[name] = value


# --- the body kinds ----------------------------------------------------------------------------
def _urlencoded(text: str, into: _Collected) -> None:
    text = text.strip()
    if text[:8].lower().startswith(("http://", "https://")) and "?" in text:
        text = text.split("?", 1)[1]
    start = 0
    while start <= len(text):  # one field at a time: no list of every piece
        end = text.find("&", start)
        if end < 0:
            end = len(text)
        piece, start = text[start:end], end + 1
        if piece:
            name, _, value = piece.partition("=")
            into.add(unquote_plus(name), unquote_plus(value))


def _header_params(header: str, value: str) -> Message:
    message = Message()
    message[header] = value
    return message


def _multipart(raw: bytearray, content_type: str, into: _Collected) -> None:
    """A `multipart/form-data` body already in memory (at most MAX_BODY bytes): its fields
    without a file name become parameters; file parts are skipped."""
    boundary = _header_params("content-type", content_type).get_param("boundary")
    if not isinstance(boundary, str) or not boundary or len(boundary) > 200:
        raise _bad("the multipart/form-data body has no boundary")
    delimiter = b"--" + boundary.encode("latin-1", errors="replace")
    pos = raw.find(delimiter)
    if pos < 0:
        raise _bad("the multipart/form-data body has no part")
    while True:
        pos += len(delimiter)
        if raw[pos:pos + 2] == b"--":
            return  # the closing delimiter
        line_end = raw.find(b"\r\n", pos)
        head_end = raw.find(b"\r\n\r\n", line_end) if line_end >= 0 else -1
        if head_end < 0:
            raise _bad("the multipart/form-data body ends inside a part's headers")
        body_start = head_end + 4
        following = raw.find(b"\r\n" + delimiter, body_start)
        if following < 0:
            raise _bad("the multipart/form-data body ends inside a part")
        _part(raw[line_end + 2:head_end], raw[body_start:following], into)
        pos = following + 2


def _part(head: bytes, body: bytes, into: _Collected) -> None:
    lines = head.split(b"\r\n", MAX_PART_HEADERS) if head else []
    if len(lines) > MAX_PART_HEADERS:
        raise _bad(f"a multipart part has more than {MAX_PART_HEADERS} header lines")
    disposition, charset = None, "utf-8"
    for line in lines:
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise _bad("a multipart part has a malformed header line")
        name = name.strip().lower()
        if name == "content-disposition":
            disposition = _header_params(name, value.strip())
        elif name == "content-type":
            charset = _header_params(name, value.strip()).get_content_charset() or charset
    if disposition is None:
        raise _bad("a multipart part has no Content-Disposition")
    field = disposition.get_param("name", header="content-disposition")
    if not isinstance(field, str) or not field \
            or disposition.get_param("filename", header="content-disposition") is not None:
        return  # a file, or a part without a name: no parameter is one
    try:
        text = body.decode(charset, errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    into.add(field, text)


def _json_object(raw: bytearray, into: _Collected) -> None:
    structure = raw.count(b"[") + raw.count(b"{") + raw.count(b",")
    if structure > MAX_JSON_ITEMS:
        raise _bad(f"the JSON body is too complex (more than {MAX_JSON_ITEMS} items)")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise _bad(f"the JSON body cannot be parsed: {exc}") from None
    if not isinstance(body, dict):
        raise _bad("the JSON body must be an object")
    for key, value in body.items():
        if value is not None:
            into.add(str(key), value if isinstance(value, str) else json.dumps(value))


async def _read_body(request: web.Request, into: _Collected) -> bytearray:
    """At most MAX_BODY bytes, refused as soon as the body says or turns out to be longer."""
    too_long = _bad(f"the request body is larger than {MAX_BODY} bytes")
    if (request.content_length or 0) > MAX_BODY:
        raise too_long
    data = bytearray()
    while True:
        chunk = await request.content.read(MAX_BODY + 1 - len(data))
        if not chunk:
            break
        data.extend(chunk)
        if len(data) > MAX_BODY:
            raise too_long
    into.cost(data)
    return data


async def read_params(request: web.Request) -> Params:
    """Query parameters, then the body's over them."""
    into = _Collected()
    for key, value in request.query.items():
        into.add(key, value, replace=False)
    if request.method in ("POST", "PUT", "DELETE") and request.body_exists:
        raw = await _read_body(request, into)
        if request.content_type == "multipart/form-data":
            _multipart(raw, request.headers.get("Content-Type", ""), into)
        elif raw.strip():
            if request.content_type == "application/json":
                _json_object(raw, into)
            else:
                text = raw.decode("utf-8", errors="replace")
                into.cost(text)
                _urlencoded(text, into)
    return Params(into.items)
