"""What every dialect's requests pass through before a handler sees them, in one place: who the
caller is (`Principal`), how its credentials are read (`bearer_token`), and how failed
authentication is counted per client address (`refused` → 429 once an address failed
`AUTH_FAILURES_PER_MINUTE` times within a minute).

Dialects plug in by declaring a `DialectPolicy` on their (sub-)application; the guard
middleware (`guard_middleware`) applies it, so a new dialect gets the checks by construction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Callable

from aiohttp import web

log = logging.getLogger("api.security")

AUTH_FAILURES_PER_MINUTE = 10
FAILURE_WINDOW_S = 60.0
MAX_TRACKED_ADDRESSES = 10_000


@dataclass(frozen=True)
class Principal:
    """Who made a request, for the audit trail and the logs: never a secret.

    `who` is e.g. `station-token`, `open` (no credential needed), `dc-client:<id prefix>`,
    `ak:<access key>`."""

    dialect: str
    address: str
    who: str


PRINCIPAL = web.RequestKey("principal", Principal)


@dataclass(frozen=True)
class DialectPolicy:
    """How the guard treats a dialect's requests, declared on its (sub-)application as
    `app[POLICY]`: its name (logs, audit), how it renders a refusal in its own error shape,
    and whether `Host` and `Origin` are checked (Device Connect serves any page by design and
    is protected by its access tokens instead)."""

    name: str
    render: Callable[[web.Request, int, str], web.StreamResponse]
    check_host: bool = True
    check_origin: bool = True


POLICY = web.AppKey("dialect_policy", DialectPolicy)


def client_address(request: web.BaseRequest) -> str:
    """The peer's address as the socket sees it (no proxy headers: nothing forwards to us)."""
    return request.remote or "-"


def bearer_token(request: web.BaseRequest, *, query: bool = True) -> str | None:
    """The credential a client sent: `Authorization: Bearer`, `X-Auth-Token`, or (for links
    that cannot carry headers) `?accessToken=`."""
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    token = request.headers.get("X-Auth-Token")
    if token:
        return token.strip() or None
    if query:
        return request.query.get("accessToken") or None
    return None


class FailureLimiter:
    """Failed authentications per address in a sliding window; thread-safe, bounded memory."""

    def __init__(self, limit: int = AUTH_FAILURES_PER_MINUTE, window_s: float = FAILURE_WINDOW_S,
                 clock=time.monotonic):
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._failures.get(address)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times

    def failed(self, address: str) -> int:
        """Count one failure; return how many the address has in the window."""
        now = self.clock()
        with self._lock:
            times = self._recent(address, now) or deque()
            times.append(now)
            self._failures[address] = times
            self._failures.move_to_end(address)
            while len(self._failures) > MAX_TRACKED_ADDRESSES:
                self._failures.popitem(last=False)
            return len(times)

    def retry_after(self, address: str) -> float | None:
        """Seconds until the address may try again, or None when it is not blocked."""
        now = self.clock()
        with self._lock:
            times = self._recent(address, now)
            if times is None or len(times) < self.limit:
                return None
            return max(0.0, times[-self.limit] + self.window_s - now)


FAILURES = web.AppKey("auth_failures", FailureLimiter)


def refused(request: web.BaseRequest, dialect: str, why: str) -> None:
    """A request failed authentication: count it against the client's address and log it,
    never with the credential (`why` must not contain it)."""
    address = client_address(request)
    limiter = request.config_dict.get(FAILURES)
    count = limiter.failed(address) if limiter is not None else 0
    log.warning("auth refused: dialect=%s address=%s %s %s: %s (%d in the last minute)",
                dialect, address, request.method, request.path, why, count)
