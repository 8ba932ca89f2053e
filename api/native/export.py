"""`/api/v1/source/{id}/export` and `/api/v1/export`: any time range as MP4, or a zip.

The export is cut into a work file first (app.services.export), so the answer has a
`Content-Length` and honours `Range` like a record's download (`VideoFile`); the work file is
removed once sent. A `Range` request cuts the range again: the same footage gives the same
bytes (the muxer writes no creation time), so a client may resume or seek. Footage that
another station recorded is fetched from it whole (the request is forwarded, token in the
headers only).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from aiohttp import web
from pydantic import BaseModel, Field

from api.keys import STATION
from api.native.params import IsoDatetime, add_route, path_int, read_query
from api.native.records import PARTIAL, VideoFile
from api.native.routedoc import Binary
from api.proxy import from_owner
from api.routing import call
from app.schemas import iso_utc
from app.services.export import ExportFile

MAX_AROUND_S = 12 * 3600  # either side of a bookmark: the export's 24 h at most in all
RANGE_NOTE = ("`begin`/`end`: ISO 8601 (`2026-11-26T10:15:04.075Z`; without a zone: UTC), "
              "`end` after `begin`, at most 24 h apart. ")


class ExportQuery(BaseModel):
    begin: IsoDatetime = Field(description="first instant shown (ISO 8601, UTC without a zone)")
    end: IsoDatetime = Field(description="the export stops before this instant")


class ExportManyQuery(ExportQuery):
    source_ids: str = Field(pattern=r"^[0-9]{1,18}(,[0-9]{1,18}){0,63}$",
                            description="comma-separated source ids (at most 64): `1,2`")

    def ids(self) -> list[int]:
        return [int(v) for v in self.source_ids.split(",")]


class WorkFile(VideoFile):
    """An export's work file, sent with Range/ETag handling (`VideoFile`), then removed:
    `FileResponse.prepare` sends the whole body, so afterwards (also when the client left
    half-way) the file has served its purpose."""

    def __init__(self, request: web.Request, export: ExportFile) -> None:
        super().__init__(export.path, headers={
            "Content-Type": export.media_type, "Accept-Ranges": "bytes",
            "Content-Disposition": f'attachment; filename="{export.filename}"'})
        self.export = export
        self.exports = request.app[STATION].exports

    async def prepare(self, request: web.BaseRequest):
        try:
            return await super().prepare(request)
        finally:
            await call(self.exports.discard, self.export)


class AroundQuery(BaseModel):
    before_s: float = Field(30.0, ge=0, le=MAX_AROUND_S, description="seconds before the bookmark")
    after_s: float = Field(30.0, ge=0, le=MAX_AROUND_S, description="seconds after it")


async def _export_range(request: web.Request, source_id: int, begin: datetime,
                        end: datetime) -> web.StreamResponse:
    exports = request.app[STATION].exports
    holder = await call(exports.holder, source_id, begin, end)
    if holder is not None:  # all of it on another station's disk: that station cuts it
        params = urlencode({"begin": iso_utc(begin), "end": iso_utc(end)})
        return await from_owner(request, holder, f"/api/v1/source/{source_id}/export?{params}")
    export = await call(exports.export, [source_id], begin, end)
    return WorkFile(request, export)


async def export_source(request: web.Request) -> web.StreamResponse:
    source_id = path_int(request, "source_id")
    query = read_query(request, ExportQuery)
    return await _export_range(request, source_id, query.begin, query.end)


async def export_bookmark(request: web.Request) -> web.StreamResponse:
    query = read_query(request, AroundQuery)
    source_id, begin, end = await call(request.app[STATION].bookmarks.range_around,
                                       path_int(request, "bookmark_id"),
                                       query.before_s, query.after_s)
    return await _export_range(request, source_id, begin, end)


async def export_sources(request: web.Request) -> web.StreamResponse:
    query = read_query(request, ExportManyQuery)
    export = await call(request.app[STATION].exports.export, query.ids(),
                        query.begin, query.end)
    return WorkFile(request, export)


RANGE_HEADER = {"Range": "`bytes=a-b`, `bytes=a-` or `bytes=-n` (the same range gives the "
                         "same bytes again)"}


def setup(app: web.Application) -> None:
    add_route(app, "GET", "/api/v1/source/{source_id}/export", export_source,
              summary="Export a time range of a source as one MP4",
              description=RANGE_NOTE + "Extension. Cut by stream copy from the records that "
              "cover the range, across file boundaries, starting at the keyframe at or before "
              "`begin` with an edit list, so playback starts at `begin`. `Content-Length`, "
              "single byte ranges (206). Footage recorded by another station is fetched from "
              "it. 404 when nothing was recorded in the range; 503 when two exports run "
              "already.", path_types={"source_id": int}, query=ExportQuery,
              binary=Binary("video/mp4", "the range as MP4"), errors=(404, 409, 503),
              headers=RANGE_HEADER, extra_responses=PARTIAL)
    add_route(app, "GET", "/api/v1/bookmark/{bookmark_id}/export", export_bookmark,
              summary="Export the footage around a bookmark as one MP4",
              description="Extension. The bookmark's source from `before_s` seconds before "
              "its moment to `after_s` after (30 s each by default, 12 h at most), cut as "
              "`/api/v1/source/{id}/export` does. 404: no such bookmark, or nothing recorded "
              "around it; 422 on `bookmark_id`: its source was deleted.",
              path_types={"bookmark_id": int},
              query=AroundQuery, binary=Binary("video/mp4", "the range as MP4"),
              errors=(404, 422, 503), headers=RANGE_HEADER, extra_responses=PARTIAL)
    add_route(app, "GET", "/api/v1/export", export_sources,
              summary="Export a time range of several sources as a zip",
              description=RANGE_NOTE + "Extension. A zip (stored, not compressed) holding one "
              "MP4 per source, each cut as `/api/v1/source/{id}/export` does; this station's "
              "footage only (409 naming the station that holds another's). `Content-Length` "
              "and single byte ranges.", query=ExportManyQuery,
              binary=Binary("application/zip", "one MP4 per source"), errors=(404, 409, 503),
              headers=RANGE_HEADER, extra_responses=PARTIAL)
