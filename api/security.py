"""What every dialect's requests pass through before a handler sees them, in one place: who the
caller is (`Principal`), how its credentials are read (`bearer_token`), and how failed
authentication is counted per client address (`refused` → 429 once an address failed
`AUTH_FAILURES_PER_MINUTE` times within a minute). An IPv6 client is counted by its /64 (it
owns all of it and could rotate through it). A locked-out address still gets answers for
requests that carry a valid credential: a program that fails on purpose must not lock out
every tool that shares its address (127.0.0.1), while its own guesses keep getting 429.

Dialects plug in by declaring a `DialectPolicy` on their (sub-)application; the guard
middleware (`guard_middleware`) applies it, so a new dialect gets the checks by construction.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Awaitable, Callable

from aiohttp import web
from yarl import URL

from api.connections import note_authenticated, peer_group
from api.keys import STATION
from api.permissions import authorize
from app.identity import ACTING
from api.routing import declared_action
from app.redaction import is_secret_param, redact
from app.services.audit import UNNAMED, OneOf, describe_target

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
    # Checks the request's credentials: None when it may pass (having set PRINCIPAL), else
    # why not (the guard counts the failure and answers 401). None for a dialect whose
    # handlers authenticate themselves (Device Connect: the check depends on the profile).
    authenticate: Callable[[web.Request], Awaitable[str | None]] | None = None
    # Content types a state-changing request body may have (None = any): native bodies are
    # JSON; a cross-site page can send text/plain or a form without a preflight, never JSON.
    body_types: Callable[[web.Request], tuple[str, ...]] | None = None
    # Which requests another site's page may make through the operator's browser (refused
    # with 403 otherwise; None = all): a page can make the browser send any GET, and a GET
    # can make the station work, so the native API takes only the media URLs Device Connect
    # pages embed.
    cross_site: Callable[[web.Request], bool] | None = None
    # For a dialect whose handlers authenticate themselves (`authenticate` None): does the
    # request carry a valid credential that can be checked without reading its body? Only
    # asked while the address is locked out (such a request still passes); None = never.
    vouch: Callable[[web.Request], bool] | None = None


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
    limiter = request.config_dict.get(FAILURES)
    count = limiter.failed(failure_key(request)) if limiter is not None else 0
    log.warning("auth refused: dialect=%s address=%s%s %s %s: %s (%d in the last minute)",
                dialect, client_address(request), " (a web page)" if from_a_web_page(request) else "",
                request.method, request.path, why, count)


def from_a_web_page(request: web.BaseRequest) -> bool:
    """A browser fetching for a page of another site (`<img src>`, `fetch`): browsers send
    `Sec-Fetch-Site` on every request and no page can remove or forge it."""
    return request.headers.get("Sec-Fetch-Site", "").lower() in ("cross-site", "same-site")


def failure_key(request: web.BaseRequest) -> str:
    """Whose failed authentications count together. A web page's requests come from the
    operator's own address, like every local tool's: counted apart, a page that makes
    requests fail on purpose locks out only other pages, never the tools on the station's
    computer. (A client claiming to be a page gets one more bucket of 10 guesses, no more.)"""
    address = peer_group(client_address(request))  # an IPv6 client by its /64
    return f"{address} (web page)" if from_a_web_page(request) else address


ANONYMOUS = frozenset({"anonymous", "open", "public"})


def credentialed(request: web.BaseRequest) -> bool:
    """Did the request pass with a real credential (not merely an open station's welcome)?
    Then its connection is marked authenticated (`api.connections`): at the connection cap,
    connections that never carried one are closed first."""
    principal = request.get(PRINCIPAL)
    if principal is None or principal.who in ANONYMOUS:
        return False
    note_authenticated(request)
    return True


# --- the guard -------------------------------------------------------------------------------
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = ("localhost", "localhost.", "ip6-localhost", "ip6-loopback")
# The fields a request's body gave (a dialect's reader stores them): the audit trail takes the
# names of what a state change touched from them (`describe_target`), never anything else.
AUDIT_FIELDS = web.RequestKey("audit_fields", dict)
# What was asked in the dialect's own terms (`action=START`, `app`, `stream`; a Device Connect
# `profile`, `attribute`, `serviceId`, `interface`, `target`): the dialect's handler notes them
# (`note_terms`) and the guard writes them into the entry's `detail` after the route pattern.
AUDIT_TERMS = web.RequestKey("audit_terms", dict)
# A read that hands out footage or a picture (a route that declared an action for GET) is
# written once per caller, action and target within this window: a page polling a picture
# or a player's range requests are one entry, not thousands.
READ_COALESCE_S = 60.0
# A state change a route wants written once per caller, action and target within a window
# (a held PTZ arrow re-sends its move every ~0.3 s: api.native.ptz): its handler sets it.
AUDIT_COALESCE_S = web.RequestKey("audit_coalesce_s", float)
MAX_TERM = 96  # characters of one term's value in `detail`


def note_terms(request: web.Request, **terms: object) -> None:
    """Note what a request asked in its dialect's own words, for its audit entry. Only
    names and ids belong here; a term whose name says secret (token, signature, password
    ...) is dropped, a URI is masked, whatever the caller passes."""
    noted = request.get(AUDIT_TERMS)
    if noted is None:
        request[AUDIT_TERMS] = noted = {}
    for key, value in terms.items():
        if value is not None and value != "" and not is_secret_param(key):
            noted[key] = value


def terms_text(terms: dict | None) -> str:
    """` action=START app=live stream="cam 1"`: each value cleaned, masked, cut, quoted
    when it has a space, a quote or `=` (so one value cannot imitate another term)."""
    parts = []
    for key, value in (terms or {}).items():
        text = redact(str(value)).replace("\n", " ")
        text = "".join(ch if ch.isprintable() else "?" for ch in text)
        if len(text) > MAX_TERM:
            text = text[:MAX_TERM - 1] + "…"
        if not text or any(ch in text for ch in ' "=\\'):
            text = json.dumps(text, ensure_ascii=False)
        parts.append(f"{key}={text}")
    return (" " + " ".join(parts)) if parts else ""


def policy_of(request: web.Request) -> DialectPolicy | None:
    """The policy of the innermost application the route belongs to (`create_app` makes sure
    every dialect's application declares one)."""
    apps = request.match_info.apps
    return (apps[-1] if apps else request.app).get(POLICY)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def host_allowed(host_header: str, bind_host: str, allowed_hosts: list[str]) -> bool:
    """Is `Host` a name this station answers to? A DNS-rebinding page reaches the station
    under the attacker's name, so names must be known: the bind address, loopback names and
    addresses, `allowed_hosts` (`*.example.org` allows subdomains). A station bound to every
    interface also answers to any IP literal (an address cannot be rebound)."""
    host = URL.build(scheme="http", authority=host_header).host if host_header else ""
    if not host:
        return False
    host = host.lower().rstrip(".") if host != "." else host
    address = _ip(host)
    bound = _ip(bind_host)
    if address is not None:
        return address.is_loopback or (bound is not None and (bound.is_unspecified or address == bound))
    if host in LOOPBACK_NAMES or host.endswith(".localhost") or host == bind_host.lower():
        return True
    for allowed in allowed_hosts:
        allowed = allowed.lower().rstrip(".")
        if host == allowed or (allowed.startswith("*.") and host.endswith(allowed[1:])):
            return True
    return False


def origin_allowed(origin: str, request: web.Request, allowed_origins: list[str]) -> bool:
    """A state change from a page is allowed only from the station's own pages (the docs) or
    an origin the operator listed. `null` (sandboxed frames, file://) never is."""
    origin = origin.strip().rstrip("/").lower()
    own = f"{request.scheme}://{request.host}".lower()
    return origin == own or origin in {o.strip().rstrip("/").lower() for o in allowed_origins}


def _refuse(request: web.Request, policy: DialectPolicy, status: int, message: str,
            headers: dict[str, str] | None = None) -> web.StreamResponse:
    response = policy.render(request, status, message)
    response.headers.update(headers or {})
    return response


@web.middleware
async def guard_middleware(request: web.Request, handler):
    """The checks every dialect's requests pass, in order: an address that failed to
    authenticate too often (429), an unknown `Host` (421), a state change from a foreign page
    (403) or in a body type the dialect does not take (415), the dialect's credentials (401);
    then the handler, and the audit trail records the state change."""
    policy = policy_of(request)
    if policy is None or request.method == "OPTIONS":
        return await handler(request)
    station = request.app[STATION]
    settings = station.settings
    address = client_address(request)
    request[PRINCIPAL] = Principal(policy.name, address, "anonymous")
    ACTING.set(None)  # a keep-alive connection's requests share a task: nobody acts yet
    wait = request.app[FAILURES].retry_after(failure_key(request))
    if wait is not None and not await _vouched(request, policy):
        log.warning("refused: dialect=%s address=%s %s %s: locked out for %.0f s after failed "
                    "authentications", policy.name, address, request.method, request.path, wait)
        return _refuse(request, policy, 429, "too many failed authentications from this "
                       f"address: try again in {math.ceil(wait)} s",
                       {"Retry-After": str(max(1, math.ceil(wait)))})
    if policy.check_host and not host_allowed(request.headers.get("Host", ""), settings.host,
                                              settings.allowed_hosts):
        log.warning("refused: dialect=%s address=%s %s %s: unknown Host %r", policy.name,
                    address, request.method, request.path, request.headers.get("Host", "")[:100])
        return _refuse(request, policy, 421, "this station does not answer to that Host name "
                       "(add it to allowed_hosts)")
    if policy.cross_site is not None and from_a_web_page(request) and not policy.cross_site(request):
        log.warning("refused: dialect=%s address=%s (a web page) %s %s: Sec-Fetch-Site %s",
                    policy.name, address, request.method, request.path,
                    request.headers.get("Sec-Fetch-Site", "")[:20])
        return _refuse(request, policy, 403, "requests from another site's web page are not "
                       "allowed here")
    changing = request.method in STATE_CHANGING
    origin = request.headers.get("Origin")
    if changing and policy.check_origin and origin is not None \
            and not origin_allowed(origin, request, settings.allowed_origins):
        log.warning("refused: dialect=%s address=%s %s %s: Origin %r not allowed", policy.name,
                    address, request.method, request.path, origin[:100])
        return _refuse(request, policy, 403, "requests from this web page's origin are not "
                       "allowed (add it to allowed_origins)")
    if changing and policy.body_types is not None and request.body_exists:
        accepted = policy.body_types(request)
        if request.content_type not in accepted:
            return _refuse(request, policy, 415, f"the body must be {' or '.join(accepted)}, "
                           f"not {request.content_type}")
    if policy.authenticate is not None and not request.get(VOUCHED, False):
        why = await policy.authenticate(request)
        if why is not None:
            refused(request, policy.name, why)
            if changing:  # an attempt to change state without the right credential (bounded
                _audit(request, 401)  # by the lockout above): the operator sees who tried
            return _refuse(request, policy, 401, why)
        credentialed(request)
    refusal = await authorize(request)  # a user's role and scope (api.permissions)
    if refusal is not None:
        if changing:
            _audit(request, refusal[0])
        return _refuse(request, policy, *refusal)
    if not changing and not _audited_read(request):
        return await handler(request)
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        _audit(request, status)


VOUCHED = web.RequestKey("vouched", bool)


async def _vouched(request: web.Request, policy: DialectPolicy) -> bool:
    """While its address is locked out, may this request pass? Only with a valid, real
    credential (checked here; the dialect's `authenticate`, or its `vouch` for a dialect
    whose handlers check their own). A failed check still counts against the address, so a
    guesser stays locked out; it is answered 429 like any other request of the address."""
    if policy.authenticate is not None:
        why = await policy.authenticate(request)
        if why is None and credentialed(request):
            request[VOUCHED] = True
            return True
        if why is not None:
            refused(request, policy.name, why)
        return False
    return policy.vouch is not None and policy.vouch(request)


def _audited_read(request: web.Request) -> bool:
    """Is this GET a read the trail keeps? One whose route declared an action for it (a
    picture, a record's file handed out; a Device Connect preview picture): footage and
    pictures leaving the station are audited like changes. Every other read is not."""
    if request.method not in ("GET", "HEAD"):
        return False
    apps = request.match_info.apps
    if declared_action(apps[-1] if apps else request.app, request.match_info.route) is None:
        return False
    return action_of(request) != UNNAMED


def _audit(request: web.Request, status: int) -> None:
    """One audit entry for a state change asked of the station (or a read handing out
    footage), whatever its result: the action its route declared (a name of the one
    vocabulary the GUI speaks too), the method, route pattern and the dialect's own terms
    in `detail` for an investigator. The ids of the target get their names when the entry is
    written (`app.services.audit_names`), off this event loop."""
    principal = request[PRINCIPAL]
    read = request.method not in STATE_CHANGING
    request.app[STATION].audit.record(
        dialect=principal.dialect, address=principal.address, who=principal.who,
        action=action_of(request),
        detail=f"{request.method} {_route(request)}{terms_text(request.get(AUDIT_TERMS))}",
        target=describe_target(request.match_info, request.get(AUDIT_FIELDS)), result=str(status),
        coalesce_s=READ_COALESCE_S if read else request.get(AUDIT_COALESCE_S))


def action_of(request: web.Request) -> str:
    """The action the request's route declared where it was added (`add_both_slashes`,
    `add_route`), chosen by the request's fields when it depends on one (`OneOf`: the query,
    the body fields the dialect read, the path parameters and `method`); `unnamed request`
    for no route or a route that declared none."""
    apps = request.match_info.apps
    declared = declared_action(apps[-1] if apps else request.app, request.match_info.route)
    if declared is None:
        return UNNAMED
    if isinstance(declared, OneOf):
        fields = {key: request.query.get(key) for key in request.query}
        fields.update(request.get(AUDIT_FIELDS) or {})
        fields.update(request.match_info)
        fields["method"] = request.method
        return declared.pick(fields)
    return declared


def _route(request: web.Request) -> str:
    """The route pattern (`/api/v1/source/{source_id}`), never the concrete path: a request
    for no route (404, 405) would otherwise write its own text into the trail."""
    resource = request.match_info.route.resource
    return (resource.canonical if resource is not None else "(no such route)")[:256]
