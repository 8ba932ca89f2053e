"""Device Connect authorization (its "Local OAuth"): clients, access tokens with an expiry,
and the operator's approval of each token request.

A web page first asks for a client id (`grant`), then for an access token for that client and
a list of scopes (profile names). With `dc_auto_approve` the token is issued at once; otherwise
an `AccessRequested` event asks whoever shows it (the GUI's dialog) and the request waits for
`decide(request_id, approved)`, or for its timeout. Every outcome publishes `AccessDecided`.

Clients and tokens live in memory only: after a restart a client's token is unknown (errorCode
11) and the reference SDK simply asks for a new one. Expired tokens are remembered for a day
so a client hears "expired" (12) rather than "invalid" (11).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable

from app.errors import InvalidInput, NotFound, StationError
from app.events import AccessDecided, AccessRequested, EventSink

log = logging.getLogger(__name__)

MAX_CLIENTS = 1000
MAX_TOKENS = 5000
EXPIRED_MEMORY_S = 24 * 3600
APPROVAL_TIMEOUT_S = 45.0  # under the reference SDK's 60 s request timeout


def scope_key(name: str) -> str:
    """Profile and scope names compare without case and underscores, so the seed's
    `mediastream_recording` and the public `mediaStreamRecording` are one scope."""
    return name.strip().lower().replace("_", "")


# --- errors (the Device Connect adapter maps each onto its errorCode) ------------------------
class AccessDenied(StationError):
    """The operator refused the token request (or the token is not valid)."""

    def __init__(self, message: str):
        super().__init__(message, kind="authorization")


class ApprovalTimeout(StationError):
    """Nobody decided about the token request in time."""

    def __init__(self, message: str):
        super().__init__(message, kind="timeout")


class TokenMissing(StationError):
    def __init__(self) -> None:
        super().__init__("accessToken is required", field="accessToken", kind="empty_token")


class TokenExpired(StationError):
    def __init__(self) -> None:
        super().__init__("the access token has expired", field="accessToken", kind="expired_token")


class ScopeMissing(StationError):
    def __init__(self, scope: str):
        super().__init__(f"the access token does not cover the scope {scope!r}",
                         field="accessToken", kind="scope")


class UnknownClient(NotFound):
    def __init__(self, client_id: str):
        super().__init__("client", repr(client_id), field="clientId")


@dataclass(frozen=True)
class AccessToken:
    token: str
    client_id: str
    application_name: str
    scopes: tuple[str, ...]
    issued_at: float
    expires_at: float

    @property
    def ttl_s(self) -> int:
        return int(round(self.expires_at - self.issued_at))

    def covers(self, scope: str) -> bool:
        wanted = scope_key(scope)
        return any(scope_key(s) == wanted for s in self.scopes)


@dataclass
class PendingAccess:
    """A token request waiting for the operator; `future` resolves to the AccessToken or
    raises AccessDenied / ApprovalTimeout."""

    request_id: str
    client_id: str
    application_name: str
    scopes: tuple[str, ...]
    origin: str
    future: Future = field(default_factory=Future)


class DeviceConnectAuth:
    def __init__(self, bus: EventSink, *, auto_approve: Callable[[], bool],
                 token_ttl_s: Callable[[], int], approval_timeout_s: float = APPROVAL_TIMEOUT_S,
                 clock: Callable[[], float] = time.time):
        """`auto_approve` and `token_ttl_s` are read per request, so a settings change applies
        to the next request without a restart."""
        self.bus = bus
        self._auto_approve, self._token_ttl_s = auto_approve, token_ttl_s
        self.approval_timeout_s = approval_timeout_s
        self.clock = clock  # tests move time on
        self._lock = threading.Lock()
        self._clients: OrderedDict[str, float] = OrderedDict()
        self._tokens: OrderedDict[str, AccessToken] = OrderedDict()
        self._pending: dict[str, PendingAccess] = {}

    # --- clients -----------------------------------------------------------------------
    def grant(self) -> str:
        """A new client id (`authorization/grant`)."""
        client_id = uuid.uuid4().hex
        with self._lock:
            self._clients[client_id] = self.clock()
            while len(self._clients) > MAX_CLIENTS:
                self._clients.popitem(last=False)
        return client_id

    def is_client(self, client_id: str) -> bool:
        with self._lock:
            return client_id in self._clients

    # --- token requests ----------------------------------------------------------------
    def request_access(self, client_id: str | None, scopes: list[str] | tuple[str, ...] | str | None,
                       application_name: str | None, origin: str = "") -> PendingAccess:
        """Start a token request. Its future is already resolved when auto-approve is on;
        otherwise it waits for `decide` (call `expire` when giving up on it)."""
        if not client_id:
            raise InvalidInput("clientId is required", field="clientId", kind="missing")
        if isinstance(scopes, str):
            scopes = scopes.split(",")
        wanted = tuple(dict.fromkeys(s.strip() for s in (scopes or ()) if s and s.strip()))
        if not wanted:
            raise InvalidInput("scope is required (comma-separated profile names)", field="scope",
                               kind="missing")
        if not self.is_client(client_id):
            raise UnknownClient(client_id)
        name = (application_name or "").strip() or "(unnamed application)"
        pending = PendingAccess(uuid.uuid4().hex, client_id, name, wanted, origin)
        if self._auto_approve():
            pending.future.set_result(self._issue(pending))
            return pending
        with self._lock:
            self._pending[pending.request_id] = pending
        log.info("Device Connect: %r (%s) asks for an access token; waiting for the operator",
                 name, origin or "no origin")
        self.bus.publish(AccessRequested(pending.request_id, client_id, name, wanted, origin))
        return pending

    def pending(self) -> list[PendingAccess]:
        """Requests waiting for the operator (oldest first)."""
        with self._lock:
            return list(self._pending.values())

    def decide(self, request_id: str, approved: bool) -> bool:
        """The operator's answer; False when the request is no longer waiting (it timed out
        or was decided already)."""
        with self._lock:
            pending = self._pending.pop(request_id, None)
        if pending is None:
            return False
        if approved:
            pending.future.set_result(self._issue(pending))
        else:
            pending.future.set_exception(AccessDenied(
                f"the operator refused access for {pending.application_name!r}"))
        self.bus.publish(AccessDecided(request_id, "approved" if approved else "denied"))
        return True

    def expire(self, request_id: str) -> None:
        """Give up waiting on a request (its timeout): it can no longer be approved."""
        with self._lock:
            pending = self._pending.pop(request_id, None)
        if pending is None:
            return
        pending.future.set_exception(ApprovalTimeout("nobody approved the access request in time"))
        self.bus.publish(AccessDecided(request_id, "timeout"))

    def _issue(self, pending: PendingAccess) -> AccessToken:
        now = self.clock()
        token = AccessToken(secrets.token_urlsafe(32), pending.client_id, pending.application_name,
                            pending.scopes, now, now + self._token_ttl_s())
        with self._lock:
            self._tokens[token.token] = token
            self._forget_old(now)
        return token

    def _forget_old(self, now: float) -> None:
        for key in [k for k, t in self._tokens.items() if t.expires_at + EXPIRED_MEMORY_S < now]:
            del self._tokens[key]
        while len(self._tokens) > MAX_TOKENS:
            self._tokens.popitem(last=False)

    # --- checking ------------------------------------------------------------------------
    def check(self, token: str | None, scope: str | None = None) -> AccessToken:
        """The valid token, or TokenMissing (13) / TokenExpired (12) / AccessDenied (11) /
        ScopeMissing (14)."""
        if not token:
            raise TokenMissing()
        with self._lock:
            found = self._tokens.get(token)
        if found is None:
            raise AccessDenied("the access token is not valid")
        if found.expires_at <= self.clock():
            raise TokenExpired()
        if scope is not None and not found.covers(scope):
            raise ScopeMissing(scope)
        return found

    def is_valid(self, token: str | None, scope: str | None = None) -> bool:
        try:
            self.check(token, scope)
        except StationError:
            return False
        return True

    def client_token(self, client_id: str) -> AccessToken | None:
        """The newest unexpired token of a client."""
        now = self.clock()
        with self._lock:
            tokens = [t for t in self._tokens.values() if t.client_id == client_id
                      and t.expires_at > now]
        return max(tokens, key=lambda t: t.issued_at, default=None)
