"""How the stations of a site prove who they are to each other, and which addresses of the
catalog they may reach each other at (issue #21 item 4).

The catalog is shared, and its database password sits in every station's settings: whoever
can write it can add a station row whose URL points anywhere, or change a row's URL, and move
a source onto that station. A station used to send `Authorization: Bearer <site token>` to
whatever URL the row said, and its proxy passed on whatever came back. So:

- A request to another station carries no reusable credential. It is signed (HMAC-SHA256)
  with the key of the station it is meant for (`credentials.station_key(token, target id)`)
  over the method, the path and query, the sender's and the target's ids, the time, a random
  nonce and the body's SHA-256. The target takes it only when it names the target's own id,
  within `WINDOW_S` of its clock, once (the nonce is remembered), with the very body signed.
  What a rogue URL captures is one request to one station: never the site token, never a key.
- The answer proves the target too (`X-RS-Proof`: an HMAC with the target's key over the
  request's nonce and the answer's status). An answer without it is refused, so a URL that is
  not the station named cannot put its own pages behind that station's sources.
- A URL read from the catalog is `scheme://host:port` and nothing else
  (`app.uri_policy.station_url`); the address it names is checked by the outgoing-address
  policy when connecting (recorder.outgoing), and no HTTP client follows a redirect with these
  headers.

A site without a token (loopback only) signs nothing: there is no secret to keep.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping

from app.credentials import station_key

SCHEME = "RS-Station-HMAC-SHA256"
SENDER = "X-RS-Station"
TARGET = "X-RS-Target"
TIME = "X-RS-Time"
NONCE = "X-RS-Nonce"
CONTENT = "X-RS-Content-SHA256"
PROOF = "X-RS-Proof"
WINDOW_S = 30  # a signed request is good this long either side of the receiver's clock
MAX_NONCES = 100_000  # nonces remembered (about 10 MB); full of live ones: refuse, never forget


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def _canonical(method: str, path_qs: str, sender: str, target: str, when: str, nonce: str,
               content: str) -> str:
    return "\n".join((SCHEME, method.upper(), path_qs, sender, target, when, nonce, content))


def sign(secret: str, *, sender: str, target: str, method: str, path_qs: str,
         body: bytes = b"") -> dict[str, str]:
    """The headers of one request from station `sender` to station `target`."""
    when, nonce = str(int(time.time())), secrets.token_hex(16)
    content = hashlib.sha256(body).hexdigest()
    mac = _mac(station_key(secret, target),
               _canonical(method, path_qs, sender, target, when, nonce, content))
    return {SENDER: sender, TARGET: target, TIME: when, NONCE: nonce, CONTENT: content,
            "Authorization": f"{SCHEME} {mac}"}


def is_signed(headers: Mapping[str, str]) -> bool:
    return headers.get("Authorization", "").startswith(SCHEME + " ")


def proof(secret: str, station_id: str, nonce: str, status: int) -> str:
    """What station `station_id` adds to its answer to the signed request `nonce`."""
    return _mac(station_key(secret, station_id), f"answer\n{nonce}\n{int(status)}")


def answer_proved(secret: str, sent: Mapping[str, str], status: int,
                  answer: Mapping[str, str]) -> bool:
    """The answer to the signed request whose headers were `sent` comes from its target."""
    given = answer.get(PROOF, "")
    expected = proof(secret, sent[TARGET], sent[NONCE], status)
    return hmac.compare_digest(given.encode("ascii", "replace"), expected.encode())


class Verifier:
    """The receiving end of one station: checks signed requests meant for it and remembers
    their nonces until they leave the window. Thread-safe, bounded."""

    def __init__(self, window_s: float = WINDOW_S, capacity: int = MAX_NONCES, clock=time.time):
        self.window_s, self.capacity, self.clock = window_s, capacity, clock
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, float] = OrderedDict()  # nonce -> when it expires

    def check(self, secret: str, own_id: str, method: str, path_qs: str,
              headers: Mapping[str, str]) -> tuple[str, str]:
        """(sender id, nonce) of a request signed for this station; ValueError naming why
        not (never echoing what was sent). The body is checked apart (`body_matches`), after
        this: a request is not read before its signature holds."""
        try:
            sender, target = headers[SENDER], headers[TARGET]
            when, nonce, content = headers[TIME], headers[NONCE], headers[CONTENT]
        except KeyError:
            raise ValueError("a station signature without its headers") from None
        if target != own_id:
            raise ValueError("a station signature for another station")
        try:
            sent_at = int(when)
        except ValueError:
            raise ValueError("a station signature without a usable time") from None
        now = self.clock()
        if abs(now - sent_at) > self.window_s:
            raise ValueError("a station signature outside its time window (check the clocks)")
        given = headers.get("Authorization", "")[len(SCHEME) + 1:].strip()
        expected = _mac(station_key(secret, own_id),
                        _canonical(method, path_qs, sender, target, when, nonce, content))
        if not hmac.compare_digest(given.encode("ascii", "replace"), expected.encode()):
            raise ValueError("a station signature that does not match")
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now:
                self._seen.popitem(last=False)
            if nonce in self._seen:
                raise ValueError("a station request sent again (replay)")
            if len(self._seen) >= self.capacity:
                raise ValueError("too many station requests in the time window")
            self._seen[nonce] = sent_at + self.window_s + 1
            self._seen.move_to_end(nonce)
        return sender, nonce


def body_matches(headers: Mapping[str, str], body: bytes) -> bool:
    return hmac.compare_digest(headers.get(CONTENT, "").encode("ascii", "replace"),
                               hashlib.sha256(body).hexdigest().encode())
