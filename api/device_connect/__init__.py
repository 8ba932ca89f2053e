"""The Device Connect / GotAPI dialect (`/gotapi/...`): the MediaStreamRecording profile and
what a Device Connect client needs around it (availability, authorization, service discovery,
the event WebSocket).

One catch-all route dispatches by hand, because Device Connect names are case-insensitive
(`mediaStreamRecording`, `mediastreamrecording`, the seed's `mediastream_recording`), a
trailing slash is optional, and every failure — unknown profile, wrong method, bad token —
must still be an HTTP 200 envelope with the right errorCode. Order of checks: profile (2),
access token (13/12/11) and its scope (14), attribute (8/4), method (8), serviceId (5/6),
then the handler. A method the attribute does not define is errorCode 8, "unknown
attribute", not 3: the Device Connect Manager looks an API up by method and path together,
and SDK clients are written against its answers.

Security: the sub-application declares its `DialectPolicy` (no Host/Origin checks: Device
Connect serves pages anywhere by design and is protected by its access tokens; the guard's
refusals come back as Device Connect envelopes). A token that is not valid or has expired is
counted against the client's address (`api.security.refused`, 429 after too many); a valid
one makes the request's principal `dc-client:<first 8 of the client id>`. A token in the query
is checked before the body is read, so a request without a valid one cannot hold its
connection by sending its body slowly; one in the body is read (bounded by `params.MAX_BODY`
and the connection's body deadline) and then checked. While the client's address is locked
out, a request whose query carries a valid token or whose header carries the station token
still passes (`_vouch`).
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field

from aiohttp import web

from api.device_connect import recording, system
from api.device_connect.context import Call, Handler
from api.device_connect.envelope import (
    DIALECT,
    Code,
    DcError,
    error,
    from_station_error,
    ok,
    preflight,
    render_refusal,
    service_id,
)
from api.device_connect.events import EventHub, hub_setup
from api.device_connect.params import Params, read_params
from api.keys import STATION
from api.routing import call, declare_action
from api.media_tokens import MEDIA_SCOPE, uri_token
from api.security import (
    POLICY,
    PRINCIPAL,
    AUDIT_FIELDS,
    DialectPolicy,
    Principal,
    action_of,
    bearer_token,
    client_address,
    credentialed,
    note_terms,
    refused,
)
from app.visibility import in_scope
from app.dialects.device_connect.dc_auth import (
    AccessDenied, AccessToken, ScopeMissing, TokenExpired, scope_key)
from app.errors import NotFound, StationError
from app.services.audit import UNNAMED, OneOf

log = logging.getLogger(__name__)
HUB = web.AppKey("device_connect_hub", EventHub)


@dataclass(frozen=True)
class Profile:
    attributes: dict[str | None, dict[str, Handler]]
    token: bool = True  # needs an access token
    scope: str | None = None  # ... covering this scope
    service: bool = True  # needs the serviceId
    unsupported: frozenset[str] = field(default_factory=frozenset)


PROFILES: dict[str, Profile] = {
    "availability": Profile({None: {"GET": system.availability}}, token=False, service=False),
    "authorization": Profile({"grant": {"GET": system.grant},
                              "accesstoken": {"GET": system.access_token}},
                             token=False, service=False),
    "servicediscovery": Profile({None: {"GET": system.servicediscovery}}, service=False),
    "serviceinformation": Profile({None: {"GET": system.serviceinformation}}),
    MEDIA_SCOPE: Profile(recording.ATTRIBUTES, scope=MEDIA_SCOPE,
                         unsupported=recording.UNSUPPORTED),
}


def _audited_as(fields) -> tuple[str, str] | None:
    """`(attribute, method)` of a request to the recording profile, as `AUDITED` names it;
    `("photos", "GET")` for a photo file handed out."""
    segments = [s for s in str(fields.get("tail") or "").split("/") if s]
    if len(segments) == 3 and segments[:2] == ["files", "photos"]:
        return "photos", str(fields.get("method"))
    if len(segments) != 2 or scope_key(segments[0]) != MEDIA_SCOPE:
        return None
    return segments[1].lower(), str(fields.get("method"))


# The one dispatcher's audit action, by the recording profile's attribute and method; a
# photo file read is a picture leaving the station (the guard audits that read, coalesced).
AUDITED = OneOf(_audited_as, {**recording.AUDIT_ACTIONS, ("photos", "GET"): "take snapshot"},
                UNNAMED)


def _handler(profile: Profile, segments: list[str], method: str) -> tuple[str | None, Handler]:
    if len(segments) > 2:  # an interface: none of these profiles has one
        raise DcError(Code.UNKNOWN_ATTRIBUTE, f"unknown attribute: {'/'.join(segments[1:])}")
    attribute = segments[1].lower() if len(segments) == 2 else None
    methods = profile.attributes.get(attribute)
    if methods is None:
        if attribute in profile.unsupported:
            raise DcError(Code.NOT_SUPPORT_ATTRIBUTE, f"attribute {attribute} is not supported")
        raise DcError(Code.UNKNOWN_ATTRIBUTE, f"unknown attribute: {attribute or '(none)'}")
    handler = methods.get(method)
    if handler is None:
        path = f"{segments[0]}/{attribute or ''}".rstrip("/")
        raise DcError(Code.UNKNOWN_ATTRIBUTE, f"unknown attribute: {method} {path} "
                                              f"(it answers {', '.join(methods)})")
    return attribute, handler


def _check_service(request: web.Request, params: Params) -> None:
    given = params.text("serviceId")
    if given is None:
        raise DcError(Code.EMPTY_SERVICE_ID, "serviceId is required")
    if given.lower() != service_id(request.app[STATION].settings).lower():
        raise DcError(Code.NOT_FOUND_SERVICE, f"service {given!r} not found")


def _authenticate(request: web.Request, given: str | None, scope: str | None) -> AccessToken:
    """The valid token covering `scope` (else the service's error, an invalid or expired
    token counted against the address); it becomes the request's principal."""
    try:
        token = request.app[STATION].dc_auth.check(given, scope)
    except (AccessDenied, TokenExpired) as exc:
        refused(request, DIALECT, exc.message)
        raise
    request[PRINCIPAL] = Principal(DIALECT, client_address(request), token.who)
    credentialed(request)  # its connection is no longer among the first cut at the cap
    return token


def _query_token(request: web.Request) -> str | None:
    """The `accessToken` of the query (any case of the name, as `Params` reads it)."""
    for name, value in request.query.items():
        if name.lower() == "accesstoken":
            return value.strip() or None
    return None


def _vouch(request: web.Request) -> bool:
    """A valid credential checked without the body: a live access token in the query, or
    the station token in a header (what the `accessToken` request of a trusted tool sends).
    A credential given and not valid counts as a failed authentication, as everywhere."""
    station = request.app[STATION]
    token = station.settings.token
    given = bearer_token(request, query=False)
    if given:
        if token and hmac.compare_digest(given.encode(), token.encode()):
            return True
        refused(request, DIALECT, "the station token is not valid")
    access = uri_token(_query_token(request))
    if access:
        try:
            station.dc_auth.check(access)
            return True
        except StationError as exc:
            refused(request, DIALECT, exc.message)
    return False


async def _route(request: web.Request) -> web.StreamResponse | dict:
    station, hub = request.app[STATION], request.app[HUB]
    segments = [s for s in request.match_info.get("tail", "").split("/") if s]
    if not segments:
        raise DcError(Code.NOT_SUPPORT_PROFILE, "a profile is required: /gotapi/<profile>")
    name = scope_key(segments[0])
    if name == "websocket" and len(segments) == 1:
        return await hub.websocket(request)
    if name == "files":
        return await _file(request, segments)
    profile = PROFILES.get(name)
    if profile is None:
        raise DcError(Code.NOT_SUPPORT_PROFILE, f"profile {segments[0]} is not supported")
    early = _query_token(request) if profile.token else None
    if early is not None:  # checked before the body is read (see the module's docstring)
        token = _authenticate(request, early, profile.scope)
    params = await read_params(request)
    if profile.token:
        given = params.text("accessToken")  # the body's, if it names one, else the query's
        if early is None or given != early:
            token = _authenticate(request, given, profile.scope)
    else:
        token = None
        request[PRINCIPAL] = Principal(DIALECT, client_address(request), "open")
    _note_target(request, segments, params)  # authenticated: its words may enter the trail
    if token is not None:
        await _check_user(request, token, params)
    attribute, handler = _handler(profile, segments, request.method)
    if profile.service:
        _check_service(request, params)
    return await handler(Call(request, station, hub, params, segments[0], attribute, token))


async def _check_user(request: web.Request, token: AccessToken, params: Params) -> None:
    """The user the application acts as (#26, `dc_user` or the operator's choice): a call
    beyond that user's role is refused as a scope the token lacks (errorCode 14); a recorder
    outside the user's scope does not exist for it."""
    action = action_of(request)
    if action != UNNAMED and not token.allows(action):
        role = token.acts_as.role if token.acts_as else "admin"
        raise ScopeMissing(action, f"the user this application acts as ({role}) may not "
                                   f"{action}")
    target = params.given("target")
    if token.acts_as is None or token.acts_as.groups is None or not target:
        return
    visible = await call(request.app[STATION].scope.sources, token.acts_as)
    if not str(target).isdigit() or not in_scope(int(target), visible):
        raise NotFound("recorder", repr(str(target)[:64]), field="target")


def _segment(segments: list[str], index: int) -> str | None:
    return segments[index][:64] if len(segments) > index else None


def _note_target(request: web.Request, segments: list[str], params: Params) -> None:
    """What the audit entry names, in the profile's own terms: the profile, attribute and
    interface, the serviceId and the target (a recorder: a source id, so the trail shows the
    source's name beside it); never the access token or the client id."""
    service, target = params.text("serviceId"), params.given("target")
    note_terms(request, profile=segments[0][:64], attribute=_segment(segments, 1),
               interface=_segment(segments, 2), serviceId=service, target=target)
    fields = {"serviceId": service} if service else {}
    if target and target.isdigit():
        fields["source_id"] = target
    request[AUDIT_FIELDS] = fields


async def _file(request: web.Request, segments: list[str]) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD"):
        raise DcError(Code.NOT_SUPPORT_ACTION, f"{request.method} is not supported on files")
    if len(segments) != 3 or segments[1] != "photos":
        raise DcError(Code.INVALID_REQUEST_PARAMETER, "no such file")
    station = request.app[STATION]
    params = await read_params(request)
    token = _authenticate(request, uri_token(params.text("accessToken")), MEDIA_SCOPE)
    note_terms(request, profile="files", photo=segments[2][:64])  # authenticated: named
    call = Call(request, station, request.app[HUB], params, "files", None, token)
    return await system.photo_file(call, segments[2])


async def dispatch(request: web.Request) -> web.StreamResponse:
    if request.method == "OPTIONS":
        return preflight(request)
    station = request.app[STATION]
    try:
        result = await _route(request)
    except DcError as exc:
        return error(request, station.name, station.version, exc)
    except StationError as exc:
        return error(request, station.name, station.version, from_station_error(exc))
    except web.HTTPException:  # the connection was cut (its body too slow, or closed at the
        raise  # connection cap): aiohttp's own answer, no traceback to log
    except ConnectionError:  # the client went away mid-body: nobody to answer
        log.debug("Device Connect %s %s: the connection was lost", request.method, request.path)
        return error(request, station.name, station.version,
                     DcError(Code.UNKNOWN, "the connection was lost"))
    except Exception:  # noqa: BLE001 - still an envelope: the SDK reads only HTTP 200 bodies
        log.exception("Device Connect %s %s failed", request.method, request.path)
        return error(request, station.name, station.version,
                     DcError(Code.UNKNOWN, "internal error"))
    if isinstance(result, web.StreamResponse):
        return result
    return ok(request, station.name, station.version, result)


def setup(app: web.Application) -> None:
    """Mount `/gotapi` as a sub-application that checks Device Connect access tokens itself
    (the root's native token check steps aside for it) and declares its policy to the guard."""
    sub = web.Application()
    sub[STATION] = app[STATION]
    sub[POLICY] = DialectPolicy(DIALECT, render=render_refusal, check_host=False,
                                check_origin=False, vouch=_vouch)
    hub_setup(sub, HUB)
    declare_action(sub, sub.router.add_route("*", "/{tail:.*}", dispatch), AUDITED)
    app.add_subapp("/gotapi", sub)
