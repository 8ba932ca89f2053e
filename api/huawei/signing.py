"""Huawei Cloud AK/SK request signatures (`SDK-HMAC-SHA256`), checked the way the official
SDKs make them (huaweicloudsdkcore's `Signer`), so those SDKs work against the station
unmodified:

    Authorization: SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=content-type;host;x-sdk-date,
                   Signature=<hex>
    X-Sdk-Date: 20261121T101504Z

The signature is HMAC-SHA256(SK, string to sign) in hex, where

    string to sign    = "SDK-HMAC-SHA256" \\n X-Sdk-Date \\n hex(SHA256(canonical request))
    canonical request = METHOD \\n canonical URI \\n canonical query \\n canonical headers \\n
                        signed headers \\n hex(SHA256(body))  (or X-Sdk-Content-Sha256's value)

canonical URI: each path segment URL-decoded then encoded again (only `~` kept, RFC 3986
unreserved otherwise), always ending in `/`; canonical query: the decoded (key, value)
pairs sorted, each encoded alike, joined by `&`; canonical headers: `name:value` per
signed header, lower-case name, trimmed value, each line ending in a newline.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "X-Sdk-Date"
CONTENT_HEADER = "X-Sdk-Content-Sha256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_HASH = hashlib.sha256(b"").hexdigest()
MAX_SKEW = timedelta(minutes=15)
_FIELD = re.compile(r"(\w+)=([^,\s]*)")


class SignatureError(Exception):
    """Why a signed request is refused (said to the client, so never the expected value)."""


@dataclass(frozen=True)
class Authorization:
    access: str
    signed_headers: list[str]
    signature: str


def is_signed(header: str | None) -> bool:
    """An AK/SK signature of any of the SDKs' algorithms (only SDK-HMAC-SHA256 verifies)."""
    return bool(header) and header.split(" ", 1)[0].upper().startswith("SDK-")


def parse_authorization(header: str) -> Authorization:
    scheme, _, rest = header.strip().partition(" ")
    if scheme.upper() != ALGORITHM:
        raise SignatureError(f"unsupported signing algorithm {scheme!r}; use {ALGORITHM}")
    fields = {k.lower(): v for k, v in _FIELD.findall(rest)}
    missing = [name for name in ("access", "signedheaders", "signature") if not fields.get(name)]
    if missing:
        raise SignatureError(f"the Authorization header lacks {', '.join(missing)}")
    return Authorization(fields["access"], fields["signedheaders"].lower().split(";"),
                         fields["signature"].lower())


def _encode(value: str) -> str:
    return quote(value, safe="~")


def canonical_uri(raw_path: str) -> str:
    path = "/".join(_encode(part) for part in unquote(raw_path.split("?", 1)[0]).split("/"))
    return path if path.endswith("/") else path + "/"


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(pairs))


def canonical_request(method: str, raw_path: str, query: Iterable[tuple[str, str]],
                      headers: Mapping[str, str], signed_headers: list[str], body: bytes) -> str:
    lines = []
    for name in signed_headers:
        value = headers.get(name)
        if value is None:
            raise SignatureError(f"signed header {name!r} is missing from the request")
        lines.append(f"{name}:{value.strip()}")
    if not body:
        payload = EMPTY_HASH
    else:
        payload = headers.get(CONTENT_HEADER) or hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), canonical_uri(raw_path), canonical_query(query),
                      "\n".join(lines) + "\n", ";".join(signed_headers), payload])


def string_to_sign(canonical: str, sdk_date: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def signature(secret_key: str, text: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(*, method: str, raw_path: str, query: Iterable[tuple[str, str]],
           headers: Mapping[str, str], body: bytes, access_key: str, secret_key: str,
           now: datetime | None = None, max_skew: timedelta = MAX_SKEW) -> None:
    """Raise SignatureError unless the request is signed by `access_key`/`secret_key`,
    with an `X-Sdk-Date` (signed) within `max_skew` of now. `headers` is case-insensitive."""
    auth = parse_authorization(headers.get("Authorization", ""))
    if not hmac.compare_digest(auth.access.encode(), access_key.encode()):
        raise SignatureError("unknown access key (AK)")
    if "x-sdk-date" not in auth.signed_headers:
        raise SignatureError(f"{DATE_HEADER} must be one of the signed headers")
    sdk_date = headers.get(DATE_HEADER, "")
    try:
        when = datetime.strptime(sdk_date, DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise SignatureError(f"{DATE_HEADER} must look like 20261121T101504Z") from None
    now = now or datetime.now(timezone.utc)
    if abs(now - when) > max_skew:
        raise SignatureError(f"{DATE_HEADER} is more than {int(max_skew.total_seconds() // 60)} "
                             "minutes away from the station's clock: the request expired")
    canonical = canonical_request(method, raw_path, query, headers, auth.signed_headers, body)
    expected = signature(secret_key, string_to_sign(canonical, sdk_date))
    if not hmac.compare_digest(expected, auth.signature):
        raise SignatureError("verify aksk signature fail")
