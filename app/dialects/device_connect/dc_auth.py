"""Device Connect authorization (its "Local OAuth"): clients, access tokens with an expiry,
and the operator's approval of each token request.

A web page first asks for a client id (`grant`), then for an access token for that client and
a list of scopes (profile names). The token is issued at once when the client is on loopback
and `dc_auto_approve` is on (and no browser names a foreign page as the asker), or when it
presented the station token; otherwise an
`AccessRequested` event asks whoever shows it (the GUI's dialog) and the request waits for
`decide(request_id, approved)`, or for its timeout. Every outcome publishes `AccessDecided`.
At most `MAX_PENDING` requests wait at once (`MAX_PENDING_PER_ADDRESS` from one address):
a page cannot bury the operator under questions.

A token grants its profiles and the media the station handed to its client (`hand`): the
native API serves a record's video, a source's picture or MJPEG, or a photo to a Device
Connect token only when that client was given its `uri` (`was_handed`). This memory is
bounded (`MAX_HANDED_PER_CLIENT` per client, `MAX_CLIENTS_WITH_MEDIA` clients, least recently
handed forgotten first): an old `uri` may stop working, never a new one.

Clients and tokens live in memory only: after a restart a client's token is unknown (errorCode
11) and the reference SDK simply asks for a new one. Expired tokens are remembered for a day
so a client hears "expired" (12) rather than "invalid" (11).
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable

from app.identity import Identity
from app.accounts.roles import VIEWER, may
from app.errors import InvalidInput, NotFound, StationError
from app.events import AccessDecided, AccessRequested, EventSink

log = logging.getLogger(__name__)

MAX_CLIENTS = 1000
MAX_TOKENS = 5000
EXPIRED_MEMORY_S = 24 * 3600
APPROVAL_TIMEOUT_S = 45.0  # under the reference SDK's 60 s request timeout
MAX_PENDING = 32  # access requests waiting for the operator at once
MAX_PENDING_PER_ADDRESS = 4  # ... of them from one client address
MAX_HANDED_PER_CLIENT = 256  # media (records, pictures, MJPEG streams, photos) a client may fetch
MAX_CLIENTS_WITH_MEDIA = 256  # clients whose handed media are remembered
MEDIA_KINDS = frozenset({"record", "picture", "mjpeg", "photo"})


def scope_key(name: str) -> str:
    """Profile and scope names compare without case and underscores, so the seed's
    `mediastream_recording` and the public `mediaStreamRecording` are one scope."""
    return name.strip().lower().replace("_", "")


# --- errors (the Device Connect adapter maps each onto its errorCode) ------------------------
# Whom an application acts as when `dc_user` names no account: the viewer role over every
# source (watch and play, never record or delete), without a user to name.
VIEWER_ONLY = Identity(user_id=0, name="device-connect", role=VIEWER, groups=None, via="device connect")


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
    def __init__(self, scope: str, message: str | None = None):
        super().__init__(message or f"the access token does not cover the scope {scope!r}",
                         field="accessToken", kind="scope")


class TooManyRequests(StationError):
    """Too many access requests already wait for the operator."""

    def __init__(self, message: str):
        super().__init__(message, kind="busy")


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
    # The user account (#26) the application acts as: its role bounds what the token's scopes
    # allow (errorCode 14 beyond it), its scope the sources. None: the station token was
    # presented (the site's service credential, admin-equivalent).
    acts_as: Identity | None = None

    @property
    def ttl_s(self) -> int:
        return int(round(self.expires_at - self.issued_at))

    @property
    def who(self) -> str:
        """The client as logs and the audit trail name it: never the secret id in full."""
        client = f"dc-client:{self.client_id[:8]}"
        return client if self.acts_as is None else f"{self.acts_as.name} ({client})"

    def allows(self, action: str) -> bool:
        """May the application do `action` (a name of the audit vocabulary)?"""
        return self.acts_as is None or may(self.acts_as.role, action)

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
    address: str = ""  # the client's address (for the per-address cap)
    future: Future = field(default_factory=Future)
    acts_as: Identity | None = None  # whom an auto-approval acts as (the operator may choose)


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and their IPv4-mapped forms; anything unparsable is not."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


class DeviceConnectAuth:
    def __init__(self, bus: EventSink, *, auto_approve: Callable[[], bool],
                 token_ttl_s: Callable[[], int], approval_timeout_s: float = APPROVAL_TIMEOUT_S,
                 clock: Callable[[], float] = time.time,
                 default_user: Callable[[], Identity] = lambda: VIEWER_ONLY):
        """`auto_approve` and `token_ttl_s` are read per request, so a settings change applies
        to the next request without a restart. `default_user`: whom an application acts as
        when approved without the operator choosing (`dc_user`)."""
        self.bus = bus
        self._default_user = default_user
        self._auto_approve, self._token_ttl_s = auto_approve, token_ttl_s
        self.approval_timeout_s = approval_timeout_s
        self.clock = clock  # tests move time on
        self._lock = threading.Lock()
        self._clients: OrderedDict[str, float] = OrderedDict()
        self._tokens: OrderedDict[str, AccessToken] = OrderedDict()
        self._pending: dict[str, PendingAccess] = {}
        # client id -> the media handed to it: (kind, key) in the order last handed
        self._handed: OrderedDict[str, OrderedDict[tuple[str, str], None]] = OrderedDict()

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
                       application_name: str | None, origin: str = "", *, address: str = "",
                       station_token_ok: bool = False,
                       foreign_page: bool = False) -> PendingAccess:
        """Start a token request. Its future is already resolved when the client presented
        the station token (`station_token_ok`, checked by the caller) or is on loopback with
        auto-approve on — unless a browser says the request comes from a web page that is not
        a local one (`foreign_page`: any site the operator visits runs on loopback too);
        otherwise it waits for `decide` (call `expire` when giving up on it).
        TooManyRequests when `MAX_PENDING` requests (or `MAX_PENDING_PER_ADDRESS` from this
        address) wait already."""
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
        local = is_loopback(address)
        if not local and address:  # the operator sees where a remote request comes from
            origin = f"{origin} (from {address})" if origin else f"from {address}"
        pending = PendingAccess(uuid.uuid4().hex, client_id, name, wanted, origin, address,
                                acts_as=None if station_token_ok else self._default_user())
        if station_token_ok or (local and not foreign_page and self._auto_approve()):
            pending.future.set_result(self._issue(pending))
            return pending
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                raise TooManyRequests(f"{MAX_PENDING} access requests already wait for the "
                                      "operator: try again later")
            if sum(p.address == address for p in self._pending.values()) \
                    >= MAX_PENDING_PER_ADDRESS:
                raise TooManyRequests(f"{MAX_PENDING_PER_ADDRESS} access requests from this "
                                      "address already wait for the operator")
            self._pending[pending.request_id] = pending
        log.info("Device Connect: %r (%s) asks for an access token; waiting for the operator",
                 name, origin or "no origin")
        self.bus.publish(AccessRequested(pending.request_id, client_id, name, wanted, origin))
        return pending

    def pending(self) -> list[PendingAccess]:
        """Requests waiting for the operator (oldest first)."""
        with self._lock:
            return list(self._pending.values())

    def decide(self, request_id: str, approved: bool, acts_as: Identity | None = None) -> bool:
        """The operator's answer, and whom the application acts as (None: `dc_user`); False
        when the request is no longer waiting (it timed out or was decided already)."""
        with self._lock:
            pending = self._pending.pop(request_id, None)
        if pending is None:
            return False
        if acts_as is not None:
            pending.acts_as = acts_as
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
                            pending.scopes, now, now + self._token_ttl_s(), pending.acts_as)
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

    # --- media handed to a client ---------------------------------------------------------
    def hand(self, client_id: str, kind: str, key: str | int) -> None:
        """Remember that `client_id` was given the `uri` of a medium: `record` (record id),
        `picture` / `mjpeg` (source id) or `photo` (file name)."""
        assert kind in MEDIA_KINDS, kind
        item = (kind, str(key))
        with self._lock:
            handed = self._handed.get(client_id)
            if handed is None:
                handed = self._handed[client_id] = OrderedDict()
            self._handed.move_to_end(client_id)
            handed[item] = None
            handed.move_to_end(item)
            while len(handed) > MAX_HANDED_PER_CLIENT:
                handed.popitem(last=False)
            while len(self._handed) > MAX_CLIENTS_WITH_MEDIA:
                self._handed.popitem(last=False)

    def media_token(self, token: str | None, scope: str, kind: str,
                    key: str | int) -> AccessToken | None:
        """The valid token (covering `scope`) whose client was handed that medium, else None."""
        try:
            found = self.check(token, scope)
        except StationError:
            return None
        with self._lock:
            handed = self._handed.get(found.client_id)
            return found if handed is not None and (kind, str(key)) in handed else None
