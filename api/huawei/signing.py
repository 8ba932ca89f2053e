"""Huawei Cloud AK/SK request signatures (`SDK-HMAC-SHA256`), checked the way the official
SDKs make them (huaweicloudsdkcore's `Signer`), so those SDKs work against the station
unmodified:

    Authorization: SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=content-type;host;x-sdk-date,
                   Signature=<hex>
    X-Sdk-Date: 20261121T101504Z

The signature is HMAC-SHA256(SK, string to sign) in hex, where

    string to sign    = "SDK-HMAC-SHA256" \\n X-Sdk-Date \\n hex(SHA256(canonical request))
    canonical request = METHOD \\n canonical URI \\n canonical query \\n canonical headers \\n
                        signed headers \\n hex(SHA256(body))

canonical URI: each path segment URL-decoded then encoded again (only `~` kept, RFC 3986
unreserved otherwise), always ending in `/`; canonical query: the decoded (key, value)
pairs sorted, each encoded alike, joined by `&`; canonical headers: `name:value` per
signed header, lower-case name, trimmed value, each line ending in a newline.

What the station adds to a plain check, so a captured request is worth nothing:
- the body hash is always the hash of the body received. The SDK signs a client-declared
  `X-Sdk-Content-Sha256` instead when it has one (it sends `UNSIGNED-PAYLOAD` for bodies that
  are not JSON); a declared value that differs from the body, or `UNSIGNED-PAYLOAD` with a
  body, is refused, so no body can be swapped under a valid signature. (An empty body is
  hashed as empty whatever is declared, as the SDK does.)
- `X-Sdk-Date` and `Host` must be signed: a signature is bound to its time and its station.
- an unknown AK and a wrong signature fail alike (`BAD_SIGNATURE`), after the same work:
  which access keys exist is not for a caller to learn.
- `ReplayCache` remembers verified signatures until they expire: a signed request that
  changes state is accepted once (see `ReplayCache` for why reads are not).
- `check_head` checks what the head alone can tell (the header's form, the signed headers,
  the date, the AK) before the body is read: a signed-looking request from someone without
  the AK is refused at once and cannot hold its connection open by sending its body slowly.
"""

from __future__ import annotations

import hashlib
import hmac
import heapq
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "X-Sdk-Date"
CONTENT_HEADER = "X-Sdk-Content-Sha256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_HASH = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_SKEW = timedelta(minutes=15)
REQUIRED_SIGNED = ("host", "x-sdk-date")
BAD_SIGNATURE = "verify aksk signature fail"  # unknown AK and wrong signature alike
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


def payload_hash(headers: Mapping[str, str], body: bytes) -> str:
    """hex(SHA256(body)) of the body received; a declared `X-Sdk-Content-Sha256` must agree."""
    actual = hashlib.sha256(body).hexdigest() if body else EMPTY_HASH
    declared = (headers.get(CONTENT_HEADER) or "").strip()
    if not declared or not body:  # the SDK hashes an empty body as empty, declared or not
        return actual
    if declared.upper() == UNSIGNED_PAYLOAD:
        raise SignatureError(f"{CONTENT_HEADER}: {UNSIGNED_PAYLOAD} is not accepted: "
                             "the signature must cover the body")
    if not hmac.compare_digest(declared.lower().encode(), actual.encode()):
        raise SignatureError(f"{CONTENT_HEADER} does not match the body received")
    return actual


def canonical_request(method: str, raw_path: str, query: Iterable[tuple[str, str]],
                      headers: Mapping[str, str], signed_headers: list[str], body: bytes) -> str:
    lines = []
    for name in signed_headers:
        value = headers.get(name)
        if value is None:
            raise SignatureError(f"signed header {name!r} is missing from the request")
        lines.append(f"{name}:{value.strip()}")
    return "\n".join([method.upper(), canonical_uri(raw_path), canonical_query(query),
                      "\n".join(lines) + "\n", ";".join(signed_headers),
                      payload_hash(headers, body)])


def string_to_sign(canonical: str, sdk_date: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def signature(secret_key: str, text: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def check_form(headers: Mapping[str, str], now: datetime | None = None,
               max_skew: timedelta = MAX_SKEW) -> Authorization:
    """The parsed `SDK-HMAC-SHA256` header, if the head could carry a valid signature of
    anyone's: well-formed, signing `Host` and `X-Sdk-Date`, a date within `max_skew`. Checked
    before the AK is looked up (a user's pair is in the catalog) and before the body is read."""
    auth = parse_authorization(headers.get("Authorization", ""))
    for name in REQUIRED_SIGNED:
        if name not in auth.signed_headers:
            raise SignatureError(f"{name} must be one of the signed headers")
    _date(headers, now or datetime.now(timezone.utc), max_skew)
    return auth


def check_head(headers: Mapping[str, str], access_key: str | None,
               now: datetime | None = None, max_skew: timedelta = MAX_SKEW) -> None:
    """Raise SignatureError unless the head could carry a valid signature: `check_form`, and
    the AK is `access_key` (the configured one, or the user's pair the AK named). The
    signature itself covers the body, so `verify` checks it later. An unknown AK gets the same
    answer as a wrong signature, only sooner (the AK names a key and travels in clear in every
    request; the SK is what is secret)."""
    auth = check_form(headers, now, max_skew)
    if not (access_key and hmac.compare_digest(auth.access.encode(), access_key.encode())):
        raise SignatureError(BAD_SIGNATURE)


def _date(headers: Mapping[str, str], now: datetime, max_skew: timedelta) -> str:
    """The signed `X-Sdk-Date`, if it is one and within `max_skew` of `now`."""
    sdk_date = headers.get(DATE_HEADER, "")
    try:
        when = datetime.strptime(sdk_date, DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise SignatureError(f"{DATE_HEADER} must look like 20261121T101504Z") from None
    if abs(now - when) > max_skew:
        raise SignatureError(f"{DATE_HEADER} is more than {int(max_skew.total_seconds() // 60)} "
                             "minutes away from the station's clock: the request expired")
    return sdk_date


def verify(*, method: str, raw_path: str, query: Iterable[tuple[str, str]],
           headers: Mapping[str, str], body: bytes, access_key: str | None,
           secret_key: str | None, now: datetime | None = None,
           max_skew: timedelta = MAX_SKEW) -> Authorization:
    """Raise SignatureError unless the request is signed by `access_key`/`secret_key` (None:
    no AK/SK configured, every signature fails), with a signed `X-Sdk-Date` within
    `max_skew` of now and a signed `Host`. `headers` is case-insensitive. Returns the
    checked Authorization (for the replay cache)."""
    auth = parse_authorization(headers.get("Authorization", ""))
    for name in REQUIRED_SIGNED:
        if name not in auth.signed_headers:
            raise SignatureError(f"{name} must be one of the signed headers")
    sdk_date = _date(headers, now or datetime.now(timezone.utc), max_skew)
    canonical = canonical_request(method, raw_path, query, headers, auth.signed_headers, body)
    # the same work whether the AK is known or not: no answer or timing tells them apart
    expected = signature(secret_key or "", string_to_sign(canonical, sdk_date))
    known = hmac.compare_digest(auth.access.encode(), (access_key or "").encode())
    matches = hmac.compare_digest(expected.encode(), auth.signature.encode())
    if not (known and matches and access_key and secret_key):
        raise SignatureError(BAD_SIGNATURE)
    return auth


class ReplayCache:
    """Signatures already used, each kept until its `X-Sdk-Date` leaves the clock-skew window
    (after that the date check refuses it anyway), so a captured request cannot be sent again.

    Memory is bounded: at most `capacity` signatures (~200 bytes each). When the cache is
    full of live signatures a new one is refused rather than an old one forgotten (which
    would make that one replayable); only a holder of the secret key can fill it, at
    ~`capacity` / 30 min state changes.

    The dialects record state-changing requests only: `X-Sdk-Date` has a 1 s resolution and
    the SDK signs no nonce, so an SDK polling a job twice in a second sends the same signature
    twice; a replayed read changes nothing."""

    def __init__(self, capacity: int = 50_000, max_skew: timedelta = MAX_SKEW,
                 clock=time.time):
        self.capacity, self.keep_s, self.clock = capacity, max_skew.total_seconds() + 1, clock
        self._seen: dict[bytes, float] = {}
        self._expiry: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def first_use(self, auth: Authorization, sdk_date: str) -> None:
        """Remember a verified signature; SignatureError if it was used before (or no room)."""
        when = datetime.strptime(sdk_date, DATE_FORMAT).replace(tzinfo=timezone.utc)
        expires = when.timestamp() + self.keep_s
        key = hashlib.sha256(f"{auth.access}\n{auth.signature}".encode()).digest()
        with self._lock:
            now = self.clock()
            while self._expiry and self._expiry[0][0] <= now:
                _, old = heapq.heappop(self._expiry)
                self._seen.pop(old, None)
            if key in self._seen:
                raise SignatureError("this signed request was used before (a replay): sign "
                                     "each request anew")
            if len(self._seen) >= self.capacity:
                raise SignatureError("too many signed requests within the clock-skew window: "
                                     "try again later")
            self._seen[key] = expires
            heapq.heappush(self._expiry, (expires, key))
