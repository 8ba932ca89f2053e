"""`/api/v1/sync`: copy a tag's finished records elsewhere; `/api/v1/upload`: the resumable,
MD5-verified endpoint another station syncs into. Both only translate HTTP to the sync and
upload services; an upload body is streamed to disk chunk by chunk, never read whole (the
app's 1 MiB body limit applies to `request.read()` only)."""

from __future__ import annotations

import logging
import re

from aiohttp import ClientPayloadError, web

from api.errors import detail_422
from api.keys import STATION
from api.native.params import add_route, ok, read_model
from api.routing import call
from api.native.routedoc import Link
from app.schemas import SyncIn, SyncJobOut, UploadFinishIn, UploadOut

log = logging.getLogger(__name__)
CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
RANGE_HELP = "`bytes START-END/TOTAL`: the body holds bytes START..END (inclusive) of the file"


async def start_sync(request: web.Request) -> web.Response:
    data = await read_model(request, SyncIn)
    return ok(await call(request.app[STATION].sync.create, data.tag_name, data.location))


async def list_jobs(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].sync.list))


async def get_job(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].sync.get, request.match_info["job_id"]))


async def upload_status(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].uploads.status, request.match_info["upload_id"]))


def _content_range(request: web.Request) -> tuple[int, int, int] | web.Response:
    raw = request.headers.get("Content-Range")
    if raw is None:
        return detail_422(["header", "Content-Range"], "Field required: Content-Range", "missing")
    match = CONTENT_RANGE.match(raw.strip())
    if not match:
        return detail_422(["header", "Content-Range"], f"Content-Range must be {RANGE_HELP}",
                          "value_error")
    start, end, total = map(int, match.groups())
    if not start <= end < total:
        return detail_422(["header", "Content-Range"], "Content-Range needs START <= END < TOTAL",
                          "value_error")
    if request.content_length is not None and request.content_length != end - start + 1:
        return detail_422(["header", "Content-Length"],
                          "Content-Length must equal the size of the Content-Range", "value_error")
    return start, end, total


async def upload_chunk(request: web.Request) -> web.Response:
    upload_id = request.match_info["upload_id"]
    parsed = _content_range(request)
    if isinstance(parsed, web.Response):
        return parsed
    writer = await call(request.app[STATION].uploads.open_chunk, upload_id, *parsed)
    broke: Exception | None = None
    try:
        async for chunk in request.content.iter_chunked(1 << 20):
            await call(writer.write, chunk)
    except (ConnectionError, ClientPayloadError) as exc:  # the sender went away mid-body
        broke = exc
    finally:
        state = await call(writer.close)  # what arrived stays: the next PUT continues from it
    if broke is not None:
        log.info("upload %s broke off at byte %d (%s)", upload_id, state.received, broke)
    return ok(state)


async def upload_finish(request: web.Request) -> web.Response:
    data = await read_model(request, UploadFinishIn)
    return ok(await call(request.app[STATION].uploads.finish, request.match_info["upload_id"], data))


def setup(app: web.Application) -> None:
    add_route(app, "POST", "/api/v1/sync", start_sync,
              action="start sync",
              tag="sync", body=SyncIn, response=str,
              errors=(404,),
              summary="Sync a tag's finished records to a folder or another station",
              response_description="the sync job id",
              links={"GetSyncJob": Link("GET", "/api/v1/sync/{job_id}", {"job_id": "$response.body"})},
              description="Copies every finished record of the tag to `location`: an absolute "
              "directory path inside a folder of the `sync_dirs` setting (default "
              "`<data_dir>/exports`; anything else, symbolic links and `..` resolved, is a 422 "
              "naming `location`; files go to `<location>/<tag>/`, never replacing a file) or "
              "another station's base URL (through its `/api/v1/upload` endpoint, token in the "
              "URL as `http://:TOKEN@host:port/` or `?accessToken=TOKEN`). The far end verifies "
              "each file's MD5 before the record's `sync_location` is set. A failed job's error "
              "gives the far end's status code, never its answer. Unknown tag: 404.")
    add_route(app, "GET", "/api/v1/sync", list_jobs, role="operator", tag="sync", response=list[SyncJobOut],
              summary="Every sync job")
    add_route(app, "GET", "/api/v1/sync/{job_id}", get_job, role="operator", tag="sync", response=SyncJobOut,
              path_types={"job_id": str}, summary="A sync job's progress",
              description="Files and bytes total/done, the file in flight, status "
              "(queued, running, done, failed) and errors per file.")
    add_route(app, "GET", "/api/v1/upload/{upload_id}", upload_status, role="admin", tag="sync",
              response=UploadOut, path_types={"upload_id": str},
              summary="How much of an upload this station holds",
              description="`received` is the offset to continue from; `complete` with "
              "`location` once the file was verified and filed.")
    add_route(app, "PUT", "/api/v1/upload/{upload_id}", upload_chunk,
              action="receive upload",
              tag="sync",
              response=UploadOut, path_types={"upload_id": str}, errors=(507,),
              headers={"Content-Range": RANGE_HELP},
              summary="Append bytes to an upload (resumable)",
              description="The raw bytes (`application/octet-stream`) of the file from START, "
              "which must equal `received`. A body cut short keeps what arrived. TOTAL is "
              "reserved on disk: 507 when it, with what every other unfinished upload still "
              "needs, would take the disk below `disk_floor_mb`. An upload untouched for 24 h "
              "is removed.")
    add_route(app, "POST", "/api/v1/upload/{upload_id}/finish", upload_finish,
              action="finish upload",
              tag="sync",
              body=UploadFinishIn, response=UploadOut, path_types={"upload_id": str},
              summary="Verify an upload's MD5 and file it",
              description="Files the copy under `<storage>/synced/<station>/<tag_name>/` as "
              "`<file_name>`, or `<stem>-<upload id>…` when that name is taken: a copy never "
              "replaces a file, and it is write-protected. A wrong MD5 is a 422 and the received "
              "bytes are discarded.")
