"""`/api/v1/bookmark`: moments an operator marked on a source (issue #16 item 5). Only
translates HTTP to `BookmarkService` (app.recordings.bookmarks)."""

from __future__ import annotations


from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from api.keys import STATION
from api.permissions import keep_visible
from api.native.params import (
    IsoDatetime, add_route, ok, path_int, read_model, read_query, unprocessable)
from api.routing import call
from app.recordings.bookmarks import EARLIEST
from app.schemas import BookmarkIn, BookmarkOut

MAX_LISTED = 1000  # bookmarks in one answer of GET /api/v1/bookmark

REQUIRED = ("source_id", "time_utc", "title")


class BookmarkQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    source_id: int | None = Field(None, ge=1, le=2**63 - 1, description="of this source only")
    begin: IsoDatetime | None = Field(None, description="at or after this moment (ISO 8601; "
                                   "without an offset: UTC)")
    end: IsoDatetime | None = Field(None, description="before this moment (ISO 8601)")
    q: str | None = Field(None, min_length=1, max_length=255,
                          description="text in the title or the note (case-insensitive)")
    limit: int = Field(MAX_LISTED, ge=1, le=MAX_LISTED,
                       description="at most this many, the first in time order (ask again "
                       "with `begin` after the last one for more)")


async def create_bookmark(request: web.Request) -> web.Response:
    data = await read_model(request, BookmarkIn)
    missing = [name for name in REQUIRED if getattr(data, name) is None]
    if missing:
        raise unprocessable([{"loc": ["body", name], "msg": "Field required", "type": "missing"}
                             for name in missing])
    return ok(await call(request.app[STATION].bookmarks.create, data))


async def list_bookmarks(request: web.Request) -> web.Response:
    query = read_query(request, BookmarkQuery)
    found = await call(request.app[STATION].bookmarks.search, source_id=query.source_id,
                       begin=query.begin, end=query.end, text=query.q, limit=query.limit)
    return ok(keep_visible(request, found, lambda bookmark: bookmark.source_id))


async def get_bookmark(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].bookmarks.get, path_int(request, "bookmark_id")))


async def update_bookmark(request: web.Request) -> web.Response:
    bookmark_id = path_int(request, "bookmark_id")
    data = await read_model(request, BookmarkIn)
    nulls = [name for name in REQUIRED if name in data.model_fields_set and getattr(data, name) is None]
    if nulls:
        raise unprocessable([{"loc": ["body", name], "msg": "may not be null", "type": "value_error"}
                             for name in nulls])
    return ok(await call(request.app[STATION].bookmarks.update, bookmark_id, data))


async def delete_bookmark(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].bookmarks.delete, path_int(request, "bookmark_id")))


def setup(app: web.Application) -> None:
    one = "/api/v1/bookmark/{bookmark_id}"
    bid = {"bookmark_id": int}
    add_route(app, "POST", "/api/v1/bookmark", create_bookmark,
              action="create bookmark",
              tag="bookmark",
              summary="Mark a moment of a source", body=BookmarkIn, response=BookmarkOut,
              errors=(404,),  # no such source
              description="`source_id` (an existing source), `time_utc` (ISO 8601) and `title` "
              "are required, `note` is free text. While it exists, retention keeps the file of "
              "every record of the source it falls in. Bounds (422 beyond, naming the field): "
              f"`time_utc` from {EARLIEST:%Y-%m-%d} to a day after the station's clock; `title` "
              "1-255 characters, `note` up to 4096, no control characters (a note may hold line "
              "breaks and tabs); at most `max_bookmarks_per_source` per source and "
              "`max_bookmarks` in all (settings, 1000 and 10000 by default).")
    add_route(app, "GET", "/api/v1/bookmark", list_bookmarks, role="viewer", tag="bookmark", query=BookmarkQuery,
              response=list[BookmarkOut], summary="List and search bookmarks",
              description="In time order; every filter given must match: the source, "
              "`begin` <= time < `end`, `q` in the title or the note. At most `limit` "
              f"({MAX_LISTED} at most) are answered.")
    add_route(app, "GET", one, get_bookmark, role="viewer", tag="bookmark", summary="A bookmark",
              path_types=bid, response=BookmarkOut)
    add_route(app, "PUT", one, update_bookmark,
              action="update bookmark",
              tag="bookmark", summary="Change a bookmark",
              description="Only the fields sent change.", path_types=bid, body=BookmarkIn,
              response=BookmarkOut)
    add_route(app, "DELETE", one, delete_bookmark,
              action="delete bookmark",
              tag="bookmark", summary="Delete a bookmark",
              path_types=bid, response=BookmarkOut, response_description="the deleted bookmark")
