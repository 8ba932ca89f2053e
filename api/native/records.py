"""`/api/v1/record` and `/api/v1/tag`: start and stop tags, read records, download files."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from aiohttp import hdrs, web
from multidict import CIMultiDict

from api.executors import FORWARD, slow
from api.keys import STATION
from api.permissions import keep_visible, visible_sources
from api.native.models import DeleteFileIn, TagNameQuery, TagQuery
from api.native.params import add_route, ok, read_model, read_query
from api.native.routedoc import Binary, Link
from api.proxy import from_owner, remote_owner
from api.routing import call
from app.schemas import (
    RecordListItem,
    RecordOut,
    RecordProtectIn,
    RecordSourcesIn,
    RecordStartIn,
    RecordStopIn,
    TagOut,
    TagProtectIn,
    TagRetentionIn,
    TagRetentionOut,
)
from app.services.audit import OneOf
from app.site.client import FORWARDED_HEADER, RECORD_VIDEO


async def list_records(request: web.Request) -> web.Response:
    tag_name = read_query(request, TagNameQuery).tag_name
    records = keep_visible(request, await call(request.app[STATION].recordings.list, tag_name),
                           lambda record: record.source.id if record.source else None)
    # The seed shows `source` as a one-element list in this listing only.
    items = [RecordListItem.model_construct(**{**dict(r), "source": [r.source] if r.source else []})
             for r in records]  # fields already validated: no second validation
    return ok(items)


def forwarded(request: web.Request) -> bool:
    """Another station of the site passed this request on: act on this station's own only."""
    return FORWARDED_HEADER in request.headers


async def start_or_stop(request: web.Request, fn, *args, **kwargs):
    """A start or a stop that other stations of the site may take part in waits for them over
    the network: it runs on the forwarding lane (api.executors, 503 once it is full), so
    stations that answer slowly never take the catalog's threads. On a station alone, or for
    a request another station forwarded here (never forwarded again), it is a catalog call."""
    if forwarded(request) or not request.app[STATION].site.has_others():
        return await call(fn, *args, forwarded=forwarded(request), **kwargs)
    return await slow(request, FORWARD, fn, *args, forwarded=False, **kwargs)


async def start_records(request: web.Request) -> web.Response:
    data = await read_model(request, RecordStartIn)
    return ok(await start_or_stop(request, request.app[STATION].recordings.start, data.tag_name,
                                  data.group_name, data.model, origin="api"))


async def start_sources(request: web.Request) -> web.Response:
    data = await read_model(request, RecordSourcesIn)
    return ok(await start_or_stop(request, request.app[STATION].recordings.start_sources,
                                  data.tag_name, data.source_ids, origin="api"))


async def stop_records(request: web.Request) -> web.Response:
    data = await read_model(request, RecordStopIn)
    return ok(await start_or_stop(request, request.app[STATION].recordings.stop, data.tag_name,
                                  data.model, origin="api", sources=visible_sources(request)))


async def running(request: web.Request) -> web.Response:
    tag_name = read_query(request, TagNameQuery).tag_name
    return ok(await call(request.app[STATION].recordings.is_running, tag_name))


async def get_record(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].recordings.get, request.match_info["record_id"]))


# The seed writes the Range header as `Number-Number`, without the `bytes=` unit
# (`range: Численный-Численный`); a client written from it sends `Range: 0-1023`.
SEED_RANGE = re.compile(r"\s*(\d+-\d*|-\d+)\s*")


def seed_range(value: str) -> str:
    """The `Range` header as RFC 9110 writes it: the seed's bare `a-b`, `a-` or `-n` gets
    the `bytes=` unit it means; anything else is left for aiohttp to judge."""
    match = SEED_RANGE.fullmatch(value)
    return f"bytes={match.group(1)}" if match else value


class VideoFile(web.FileResponse):
    """A recording's file. `If-Range` is decided here, as RFC 9110 says: the range applies
    only when the client's strong ETag or date matches the file now, otherwise the whole file
    comes back with 200 (aiohttp alone honours dates only, and no ETag). A `Range` in the
    seed's bare form is read as bytes (`seed_range`)."""

    def __init__(self, path: Path, **kwargs) -> None:
        super().__init__(path, **kwargs)
        self.video_path = Path(path)

    async def prepare(self, request: web.BaseRequest):
        if self.prepared:
            return await super().prepare(request)
        if_range = request.headers.get(hdrs.IF_RANGE)
        ranges = request.headers.get(hdrs.RANGE)
        if if_range is None and (ranges is None or seed_range(ranges) == ranges):
            return await super().prepare(request)
        headers = CIMultiDict((k, v) for k, v in request.headers.items()
                              if k.lower() not in ("if-range", "range"))
        if ranges is not None:
            headers[hdrs.RANGE] = seed_range(ranges)
        if if_range is not None:
            try:
                st = await asyncio.get_running_loop().run_in_executor(None, self.video_path.stat)
            except OSError:
                st = None  # gone: FileResponse answers 404 itself
            if st is None or not _range_still_valid(if_range.strip(), st, request):
                headers.popall(hdrs.RANGE, None)
        return await super().prepare(request.clone(headers=headers))


def _range_still_valid(if_range: str, st, request: web.BaseRequest) -> bool:
    if if_range.startswith('"'):
        return if_range == f'"{st.st_mtime_ns:x}-{st.st_size:x}"'  # FileResponse's ETag
    if if_range.startswith("W/"):
        return False  # a weak tag never validates a range
    date = request.if_range
    return date is not None and int(st.st_mtime) <= date.timestamp()


async def record_video(request: web.Request) -> web.StreamResponse:
    """Single byte ranges, ETag, If-Range; a file still being written is served up to its
    current size."""
    record_id = request.match_info["record_id"]
    record = await call(request.app[STATION].recordings.get, record_id)
    owner = remote_owner(request, record.station)
    if owner is not None:  # the file is on the disk of the station that recorded it
        return await from_owner(request, owner, RECORD_VIDEO, record_id=record_id)
    path = await call(request.app[STATION].recordings.video_path, record_id)
    return VideoFile(path, headers={"Content-Type": "video/mp4", "Accept-Ranges": "bytes"})


async def delete_file(request: web.Request) -> web.Response:
    data = await read_model(request, DeleteFileIn)
    return ok(await call(request.app[STATION].recordings.delete_file,
                         request.match_info["record_id"], data.location))


async def protect_record(request: web.Request) -> web.Response:
    data = await read_model(request, RecordProtectIn)
    return ok(await call(request.app[STATION].recordings.set_protected,
                         request.match_info["record_id"], data.protected))


async def protect_tag(request: web.Request) -> web.Response:
    data = await read_model(request, TagProtectIn)
    return ok(await call(request.app[STATION].recordings.protect_tag, data.name, data.protected))


async def tag_retention(request: web.Request) -> web.Response:
    data = await read_model(request, TagRetentionIn)
    return ok(await call(request.app[STATION].storage.set_tag_retention, data.name,
                         data.retention_days))


async def get_tag(request: web.Request) -> web.Response:
    name = read_query(request, TagQuery).name
    return ok(await call(request.app[STATION].recordings.tag, name))


async def tags_begun(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].recordings.running_tags))


RANGE_HEADERS = {
    "Accept-Ranges": {"description": "`bytes`", "schema": {"type": "string"}},
    "ETag": {"description": "changes whenever the file does (size, mtime)", "schema": {"type": "string"}},
    "Last-Modified": {"schema": {"type": "string"}},
}
PARTIAL = {
    206: {"description": "the requested byte range", "headers": {
        **RANGE_HEADERS,
        "Content-Range": {"description": "`bytes a-b/size`", "schema": {"type": "string"}}},
        "content": {"video/mp4": {"schema": {"type": "string", "contentMediaType": "video/mp4"}}}},
    416: {"description": "the range lies outside the file", "headers": {
        "Content-Range": {"description": "`bytes */size`", "schema": {"type": "string"}}}},
    200: {"headers": RANGE_HEADERS},
}


def setup(app: web.Application) -> None:
    rid = {"record_id": str}
    one = "/api/v1/record/{record_id}"
    add_route(app, "GET", "/api/v1/record", list_records, role="viewer", summary="The records of a tag",
              description="Here (only) each record's `source` is a list holding one source, as "
                          "the seed shows. An unknown tag gives `[]`.",
              query=TagNameQuery, response=list[RecordListItem])
    add_route(app, "POST", "/api/v1/record", start_records,
              action="start recording",
              summary="Start recording a group under a tag",
              description="Starts every source of the group (of `model`, if given), each on "
                          "the station that owns it; a source already recording under this "
                          "tag is left alone. Creates the tag. 503 when the catalog's server "
                          "or an owner cannot be reached and nothing started.",
              body=RecordStartIn, response=list[RecordOut], errors=(404, 503, 507),
              links={"GetRecord": Link("GET", one, {"record_id": "$response.body#/0/id"}),
                     "GetVideo": Link("GET", one + "/video", {"record_id": "$response.body#/0/id"})})
    add_route(app, "POST", "/api/v1/record/sources", start_sources,
              action="start recording",
              summary="Start recording chosen sources under a tag",
              description="Extension: the sources of `source_ids`, each on the station that "
                          "owns it (the others' are asked with the shared token). A source "
                          "already recording under this tag is left alone. Creates the tag. "
                          "503 when an owner (or the catalog's server) cannot be reached and "
                          "nothing started.",
              body=RecordSourcesIn, response=list[RecordOut], errors=(404, 503, 507))
    add_route(app, "PUT", "/api/v1/record", stop_records,
              action="stop recording",
              summary="Stop a tag's recordings",
              description="Returns the records finalized (`hash_md5`, `end_utc` set), those "
                          "of every station recording the tag (each stops its own).",
              body=RecordStopIn, response=list[RecordOut], errors=(404,))
    for path in ("/api/v1/record/runing", "/api/v1/record/running"):
        add_route(app, "GET", path, running, role="viewer", summary="Is a tag recording?", query=TagNameQuery,
                  response=bool, description="`/runing` is the seed's spelling, `/running` an alias.")
    add_route(app, "GET", "/api/v1/record/{record_id}", get_record, role="viewer", summary="A record",
              path_types=rid, response=RecordOut)
    add_route(app, "PUT", "/api/v1/record/{record_id}", protect_record,
              action=OneOf("protected", {False: "unprotect record"}, "protect record"),
              summary="Protect a record from retention (or release it)",
              description="`{\"protected\": true}`: retention never deletes this record's file "
                          "(the operator still can). 507 when the catalog cannot be written "
                          "now (nothing changed).",
              path_types=rid, body=RecordProtectIn, response=RecordOut, errors=(404, 507))
    add_route(app, "GET", "/api/v1/record/{record_id}/video", record_video,
              action="download footage",  # footage leaving the station is in the audit trail
              summary="Download a record's video",
              description="Audited as `download footage` (a player's range requests within a "
                          "minute are one entry). "
                          "Single byte ranges (206 with `Content-Range`; 416 when unsatisfiable), "
                          "`ETag` and `If-Range`. A file still being recorded is served up to its "
                          "current size. Another station's record is streamed from it.",
              path_types=rid, binary=Binary("video/mp4"),
              headers={"Range": "`bytes=a-b`, `bytes=a-` or `bytes=-n`; the seed's bare "
                                 "`a-b` (also `a-`, `-n`) means the same bytes",
                       "If-Range": "an ETag or date: the range applies only if the file is unchanged"},
              extra_responses=PARTIAL)
    add_route(app, "DELETE", "/api/v1/record/{record_id}/file", delete_file,
              action="delete file",
              summary="Delete a record's file",
              description="`location` must equal the record's own location inside the storage "
                          "folder; refused (422) while it records. The record stays, `deleted`.",
              path_types=rid, body=DeleteFileIn, response=RecordOut)
    add_route(app, "GET", "/api/v1/tag", get_tag, role="viewer", summary="A tag with its records",
              query=TagQuery, response=TagOut, errors=(404,))
    add_route(app, "PUT", "/api/v1/tag/protect", protect_tag,
              action=OneOf("protected", {False: "unprotect tag"}, "protect tag"),
              summary="Protect every record of a tag from retention (or release them)",
              description="Running records included: the files they roll over to are "
                          "protected too. Returns the tag's records. 507 when the catalog "
                          "cannot be written now (nothing changed).",
              body=TagProtectIn, response=list[RecordOut], errors=(404, 507))
    add_route(app, "PUT", "/api/v1/tag/retention", tag_retention,
              action="set tag retention",
              summary="Keep a tag's records for its own number of days",
              description="Over the station's `retention_days` (a source's own "
                          "`retention_days` comes first): operators keep motion footage "
                          "longer than continuous. 0 or null: the station's again.",
              body=TagRetentionIn, response=TagRetentionOut, errors=(404,))
    add_route(app, "GET", "/api/v1/tag/begin", tags_begun, role="viewer", summary="Tags that are recording",
              response=list[str], response_description="names of tags with a running record")
