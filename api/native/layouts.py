"""`/api/v1/layout`: the named wall layouts (#27 item 1) and the shapes they take.

Reads are a viewer's, changes an operator's (`create/update/delete layout`). A user with a
scope sees the cells of sources outside it as empty and cannot place such a source (the
refusal an unknown id gets); what they could not see stays in a layout they change
(`app.layouts.service`)."""

from __future__ import annotations

from aiohttp import web

from api.keys import STATION
from api.native.params import add_route, ok, path_int, read_model
from api.native.routedoc import Link
from api.permissions import visible_sources
from api.routing import call
from app.layouts.schemas import LayoutChange, LayoutIn, LayoutOut, ShapeOut
from app.layouts.service import shapes_out


async def list_layouts(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].layouts.list, visible_sources(request)))


async def list_shapes(request: web.Request) -> web.Response:
    return ok(shapes_out())


async def create_layout(request: web.Request) -> web.Response:
    data = await read_model(request, LayoutIn)
    return ok(await call(request.app[STATION].layouts.create, data, visible_sources(request)))


async def get_layout(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].layouts.get, path_int(request, "layout_id"),
                         visible_sources(request)))


def _layout_id(request: web.Request) -> int:
    """The path's id; `shapes` (GET only) answers a change as the unknown method it is."""
    if request.match_info["layout_id"] == "shapes":
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
    return path_int(request, "layout_id")


async def update_layout(request: web.Request) -> web.Response:
    layout_id = _layout_id(request)
    data = await read_model(request, LayoutChange)
    return ok(await call(request.app[STATION].layouts.update, layout_id, data,
                         visible_sources(request)))


async def delete_layout(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].layouts.delete, _layout_id(request),
                         visible_sources(request)))


def setup(app: web.Application) -> None:
    lid = {"layout_id": int}
    one = "/api/v1/layout/{layout_id}"
    add_route(app, "GET", "/api/v1/layout", list_layouts, role="viewer",
              summary="List the layouts", response=list[LayoutOut],
              description="By name. Cells of sources outside the caller's scope, or deleted, "
                          "are null.")
    # before /{layout_id}, which would take `shapes` for an id
    add_route(app, "GET", "/api/v1/layout/shapes", list_shapes, role="viewer",
              summary="The shapes a layout may take",
              description="Each shape's grid (`rows` x `cols`) and its cells in order, each as "
                          "`row`, `col`, `row_span`, `col_span` on that grid: big cells first, "
                          "then the small ones row by row.", response=list[ShapeOut])
    add_route(app, "POST", "/api/v1/layout", create_layout, action="create layout",
              summary="Create a layout", body=LayoutIn, response=LayoutOut,
              description="`cells`: as many as the shape has, each a source id or null (empty); "
                          "omitted, all empty. An unknown shape, a wrong count or an unknown "
                          "source is a 422, as is a duplicate name.",
              links={"GetLayout": Link("GET", one, {"layout_id": "$response.body#/id"}),
                     "UpdateLayout": Link("PUT", one, {"layout_id": "$response.body#/id"}),
                     "DeleteLayout": Link("DELETE", one, {"layout_id": "$response.body#/id"})})
    add_route(app, "GET", one, get_layout, role="viewer", summary="A layout",
              path_types=lid, response=LayoutOut)
    add_route(app, "PUT", one, update_layout, action="update layout",
              summary="Change a layout", path_types=lid, body=LayoutChange, response=LayoutOut,
              description="Only the fields sent change. A new shape without `cells` keeps the "
                          "cells in order (those past the new count dropped, new ones empty). "
                          "For a user with a scope, a cell they see empty and send as null "
                          "keeps the source outside their scope it shows.")
    add_route(app, "DELETE", one, delete_layout, action="delete layout",
              summary="Delete a layout", path_types=lid, response=LayoutOut,
              description="Refused (422) to a user with a scope when the layout also shows "
                          "sources outside it.",
              response_description="the deleted layout")
