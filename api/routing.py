"""Routing helpers every dialect shares: a route with and without its trailing slash (and the
audit action it declares), the address a client reached the station at, and blocking service
calls off the event loop."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from aiohttp import web

from app.services.audit import OneOf, action_name

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Action = str | OneOf  # a name of app.services.audit.ACTIONS, or one chosen by a field

# route -> the audit action it declared, per (sub-)application: the guard's audit names a
# state change by it (`api.security.action_of`).
ROUTE_ACTIONS = web.AppKey("route_actions", dict)
# route -> the role (app.accounts.roles) a user needs for it, per (sub-)application: the guard
# refuses a user with less (`api.permissions`).
ROUTE_ROLES = web.AppKey("route_roles", dict)


def add_both_slashes(app: web.Application, method: str, path: str, handler: Handler, *,
                     action: Action | None = None, role: str | None = None) -> str:
    """Register `path` with and without its trailing slash, with the audit `action` a
    state-changing route declares (checked against the vocabulary now) and the `role` a user
    needs for it; return the bare path."""
    if isinstance(action, str):
        action_name(action)  # before any route is added: a bad name adds nothing
    bare = path.rstrip("/")
    for route in (app.router.add_route(method, bare, handler),
                  app.router.add_route(method, bare + "/", handler)):
        if action is not None:
            declare_action(app, route, action)
        if role is not None:
            app.setdefault(ROUTE_ROLES, {})[route] = role
    return bare


def declared_role(app: web.Application, route: web.AbstractRoute) -> str | None:
    """The role `route` of `app` needs, or None (a route that declared none)."""
    return (app.get(ROUTE_ROLES) or {}).get(route)


def declare_action(app: web.Application, route: web.AbstractRoute, action: Action) -> None:
    """File `action` as what `route` of `app` does, for the audit trail."""
    if isinstance(action, str):
        action_name(action)
    table = app.get(ROUTE_ACTIONS)
    if table is None:
        app[ROUTE_ACTIONS] = table = {}
    table[route] = action


def declared_action(app: web.Application, route: web.AbstractRoute) -> Action | None:
    """The action `route` of `app` declared, or None."""
    return (app.get(ROUTE_ACTIONS) or {}).get(route)


def base_url(request: web.BaseRequest) -> str:
    """`scheme://host:port` as the client reached the station (for URLs handed back to it).
    The guard has checked `Host` against the allowed names before any handler runs."""
    return str(request.url.origin())


async def call(fn, *args, **kwargs):
    """Run a blocking service call (catalog, files) off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)
