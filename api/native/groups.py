"""`/api/v1/group`: groups and their membership."""

from __future__ import annotations

from aiohttp import web

from api.keys import STATION
from api.native.params import add_route, call, ok, path_int, read_model
from app.schemas import GroupIn


async def list_groups(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].groups.list))


async def create_group(request: web.Request) -> web.Response:
    data = await read_model(request, GroupIn)
    group = await call(request.app[STATION].groups.create, data)
    return ok([group])  # the seed returns a list holding the new group


async def get_group(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].groups.get, path_int(request, "group_id")))


async def delete_group(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].groups.delete, path_int(request, "group_id")))


async def add_member(request: web.Request) -> web.Response:
    groups = request.app[STATION].groups
    return ok(await call(groups.add_source, path_int(request, "group_id"), path_int(request, "source_id")))


async def remove_member(request: web.Request) -> web.Response:
    groups = request.app[STATION].groups
    return ok(await call(groups.remove_source, path_int(request, "group_id"),
                         path_int(request, "source_id")))


def setup(app: web.Application) -> None:
    add_route(app, "GET", "/api/v1/group", list_groups)
    add_route(app, "POST", "/api/v1/group", create_group)
    add_route(app, "GET", "/api/v1/group/{group_id}", get_group)
    add_route(app, "DELETE", "/api/v1/group/{group_id}", delete_group)
    add_route(app, "POST", "/api/v1/group/{group_id}/source/{source_id}", add_member)
    add_route(app, "DELETE", "/api/v1/group/{group_id}/source/{source_id}", remove_member)
