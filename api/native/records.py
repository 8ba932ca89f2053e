"""`/api/v1/record` and `/api/v1/tag`: start and stop tags, read records, download files."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from api.keys import STATION
from api.native.params import add_route, call, ok, query_str, read_model
from app.schemas import RecordListItem, RecordStartIn, RecordStopIn


class DeleteFileIn(BaseModel):
    location: str = Field(min_length=1)


async def list_records(request: web.Request) -> web.Response:
    tag_name = query_str(request, "tag_name")
    records = await call(request.app[STATION].recordings.list, tag_name)
    # The seed shows `source` as a one-element list in this listing only.
    items = [RecordListItem(**{**r.model_dump(), "source": [r.source] if r.source else []})
             for r in records]
    return ok(items)


async def start_records(request: web.Request) -> web.Response:
    data = await read_model(request, RecordStartIn)
    return ok(await call(request.app[STATION].recordings.start, data.tag_name, data.group_name,
                         data.model, origin="api"))


async def stop_records(request: web.Request) -> web.Response:
    data = await read_model(request, RecordStopIn)
    return ok(await call(request.app[STATION].recordings.stop, data.tag_name, data.model,
                         origin="api"))


async def running(request: web.Request) -> web.Response:
    tag_name = query_str(request, "tag_name")
    return ok(await call(request.app[STATION].recordings.is_running, tag_name))


async def get_record(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].recordings.get, request.match_info["record_id"]))


async def record_video(request: web.Request) -> web.StreamResponse:
    """The file with single-range support, ETag and If-Range (aiohttp's FileResponse); a file
    still being written is served up to its current size."""
    path = await call(request.app[STATION].recordings.video_path, request.match_info["record_id"])
    return web.FileResponse(path, headers={"Content-Type": "video/mp4", "Accept-Ranges": "bytes"})


async def delete_file(request: web.Request) -> web.Response:
    data = await read_model(request, DeleteFileIn)
    return ok(await call(request.app[STATION].recordings.delete_file,
                         request.match_info["record_id"], data.location))


async def get_tag(request: web.Request) -> web.Response:
    name = query_str(request, "name")
    return ok(await call(request.app[STATION].recordings.tag, name))


async def tags_begun(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].recordings.running_tags))


def setup(app: web.Application) -> None:
    add_route(app, "GET", "/api/v1/record", list_records)
    add_route(app, "POST", "/api/v1/record", start_records)
    add_route(app, "PUT", "/api/v1/record", stop_records)
    add_route(app, "GET", "/api/v1/record/runing", running)
    add_route(app, "GET", "/api/v1/record/running", running)
    add_route(app, "GET", "/api/v1/record/{record_id}", get_record)
    add_route(app, "GET", "/api/v1/record/{record_id}/video", record_video)
    add_route(app, "DELETE", "/api/v1/record/{record_id}/file", delete_file)
    add_route(app, "GET", "/api/v1/tag", get_tag)
    add_route(app, "GET", "/api/v1/tag/begin", tags_begun)
