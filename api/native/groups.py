"""`/api/v1/group`: groups and their membership."""

from __future__ import annotations

from aiohttp import web

from api.keys import STATION
from api.permissions import identity_of
from api.native.params import add_route, ok, path_int, read_model
from api.routing import call
from api.native.routedoc import Link
from app.schemas import GroupDetail, GroupIn, GroupOut


async def list_groups(request: web.Request) -> web.Response:
    groups = await call(request.app[STATION].groups.list)
    identity = identity_of(request)
    if identity is not None and identity.groups is not None:  # a user's scope: its groups
        groups = [group for group in groups if group.id in identity.groups]
    return ok(groups)


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
    gid = {"group_id": int}
    both = {"group_id": int, "source_id": int}
    one = "/api/v1/group/{group_id}"
    add_route(app, "GET", "/api/v1/group", list_groups, role="viewer", summary="List the groups",
              response=list[GroupOut])
    add_route(app, "POST", "/api/v1/group", create_group,
              action="create group",
              summary="Create a group",
              description="Returns a list holding the new group (as the seed shows); a duplicate "
                          "name is a 422.", body=GroupIn, response=list[GroupOut],
              links={"GetGroup": Link("GET", one, {"group_id": "$response.body#/0/id"}),
                     "DeleteGroup": Link("DELETE", one, {"group_id": "$response.body#/0/id"}),
                     "AddSource": Link("POST", one + "/source/{source_id}",
                                       {"group_id": "$response.body#/0/id"})})
    add_route(app, "GET", "/api/v1/group/{group_id}", get_group, role="viewer", summary="A group with its sources",
              path_types=gid, response=GroupDetail)
    add_route(app, "DELETE", "/api/v1/group/{group_id}", delete_group,
              action="delete group",
              summary="Delete a group",
              path_types=gid, response=GroupOut, response_description="the deleted group")
    add_route(app, "POST", "/api/v1/group/{group_id}/source/{source_id}", add_member,
              action="add source to group",
              summary="Add a source to a group", path_types=both, response=bool,
              response_description="`true` when added, `false` when it already was a member")
    add_route(app, "DELETE", "/api/v1/group/{group_id}/source/{source_id}", remove_member,
              action="remove source from group",
              summary="Remove a source from a group", path_types=both, response=bool,
              response_description="`true` when removed, `false` when it was not a member")
