"""Roles and scope at the native API's door: after the guard knows who the caller is, a user
(a session or a personal token) is held to the role the route declared and to the sources in
their scope. The rules are `app.accounts.roles` and `app.accounts.scope`; this module only
applies them to requests.

- A route declares the role it needs where it is added (`add_route(..., role=...)`, or its
  audit action's role); a route without one is refused to every user (fail closed).
- A source outside a user's scope does not exist for them: an id of it in the path (a source,
  its records, bookmarks, events, a group outside scope) answers the very 404 an unknown id
  does, and a body or query naming it (`source_id`, `source_ids`) too (`check_fields`).
  Lists drop what is out of scope (`visible_sources`, `keep_visible`).

Callers without a user (the site's service token, another station's signed request, an open
loopback station, a Device Connect client's media token) are not limited here: they are what
they were before accounts, and the station token is documented as admin-equivalent.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, TypeVar

from aiohttp import web

from api.keys import STATION
from api.routing import call, declared_role
from app.identity import Identity
from app.accounts.roles import allows
from app.visibility import event_visible, in_scope
from app.errors import NotFound

T = TypeVar("T")
VISIBLE = web.RequestKey("visible_sources", object)  # frozenset[int] | None, set by `authorize`
IDENTITY = web.RequestKey("identity", object)  # the user a request acts as (Identity | None)


def identity_of(request: web.Request) -> Identity | None:
    found = request.get(IDENTITY)
    return found if isinstance(found, Identity) else None


def visible_sources(request: web.Request) -> frozenset[int] | None:
    """The source ids the caller may see; None: every source."""
    value = request.get(VISIBLE)
    return value if isinstance(value, frozenset) else None


def keep_visible(request: web.Request, items: Iterable[T], source_of: Callable[[T], Any]) -> list[T]:
    """`items` without those whose source the caller may not see."""
    visible = visible_sources(request)
    return [item for item in items if in_scope(source_of(item), visible)]


async def authorize(request: web.Request) -> tuple[int, str] | None:
    """None when the caller may make this request; else the refusal's status and message
    (the guard renders it in the dialect's own error shape)."""
    identity = identity_of(request)
    if identity is None:
        return None
    apps = request.match_info.apps
    need = declared_role(apps[-1] if apps else request.app, request.match_info.route)
    if need is None:
        if request.match_info.http_exception is not None:  # no such route: its own 404/405
            return None
        return 403, "this request is not open to user accounts"
    if not allows(identity.role, need):
        return 403, f"the role {identity.role!r} may not do this (it needs {need!r})"
    scope = request.app[STATION].scope
    visible = await call(scope.sources, identity)
    request[VISIBLE] = visible
    if visible is None:
        return None
    match = request.match_info
    try:
        if "source_id" in match:
            _source(_int(match["source_id"]), visible, "source", match["source_id"])
        if "group_id" in match and _int(match["group_id"]) not in (identity.groups or ()):
            raise NotFound("group", match["group_id"], field="group_id")
        if "record_id" in match:
            owner = await call(scope.record_source, match["record_id"])
            _source(owner, visible, "record", match["record_id"])
        if "bookmark_id" in match:
            owner = await call(scope.bookmark_source, _int(match["bookmark_id"]) or 0)
            _source(owner, visible, "bookmark", match["bookmark_id"])
        if "event_id" in match:
            owner = await call(scope.event_source, _int(match["event_id"]) or 0)
            if not event_visible(owner, visible):
                raise NotFound("event", match["event_id"], field="event_id")
    except NotFound as exc:
        return 404, exc.message
    return None


def check_fields(request: web.Request, fields: dict) -> None:
    """A body or query naming a source out of the caller's scope: the 404 an unknown source
    gets (raised as `NotFound`, answered by the dialect's error translator)."""
    visible = visible_sources(request)
    if visible is None:
        return
    named = []
    if "source_id" in fields:  # one, or several (a repeated query parameter)
        value = fields["source_id"]
        named.extend(value if isinstance(value, list) else [value])
    ids = fields.get("source_ids")
    if isinstance(ids, str):
        ids = [part for part in ids.split(",") if part.strip()]
    if isinstance(ids, list):
        named.extend(ids)
    for value in named:
        source_id = _int(value)
        if source_id is not None and source_id not in visible:
            raise NotFound("source", source_id, field="source_id")


async def check_group_name(request: web.Request, fields: dict) -> None:
    """A body naming a group (`group_name`: start or stop a group's recording) out of the
    caller's scope: the 404 an unknown group gets."""
    identity = identity_of(request)
    name = fields.get("group_name")
    if identity is None or identity.groups is None or not isinstance(name, str) or not name:
        return
    group_id = await call(request.app[STATION].scope.group_named, name)
    if group_id not in identity.groups:
        raise NotFound("group", repr(name), field="group_name")


def _source(source_id: int | None, visible: frozenset[int], kind: str, raw: str) -> None:
    if not in_scope(source_id, visible):
        raise NotFound(kind, raw, field=f"{kind}_id")


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None

