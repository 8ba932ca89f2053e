"""`/api/v1/source`: CRUD, the latest picture, and the MJPEG stream."""

from __future__ import annotations

import asyncio

from aiohttp import web

from api.keys import STATION
from api.permissions import keep_visible
from api.proxy import from_owner, remote_owner
from api.native.models import VideoQuery
from api.native.params import add_route, ok, path_int, read_model, read_query
from api.routing import call
from api.native.routedoc import Binary, Link
from app.schemas import SourceIn, SourceOut
from app.site.client import SOURCE_PICTURE, SOURCE_VIDEO
from app.live import Demand

BOUNDARY = "frame"
POLL_S = 0.02  # how often a viewer looks for a newer frame while none has come
MJPEG_STREAMS = web.AppKey("native_mjpeg_streams", set)  # the handler tasks streaming now


async def list_sources(request: web.Request) -> web.Response:
    sources = await call(request.app[STATION].sources.list)
    return ok(keep_visible(request, sources, lambda source: source.id))


async def create_source(request: web.Request) -> web.Response:
    data = await read_model(request, SourceIn)
    return ok(await call(request.app[STATION].sources.create, data))


async def get_source(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].sources.get, path_int(request, "source_id")))


async def update_source(request: web.Request) -> web.Response:
    source_id = path_int(request, "source_id")
    data = await read_model(request, SourceIn)
    return ok(await call(request.app[STATION].sources.update, source_id, data))


async def delete_source(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].sources.delete, path_int(request, "source_id")))


async def picture(request: web.Request) -> web.StreamResponse:
    source_id = path_int(request, "source_id")
    owner = remote_owner(request, request.app[STATION].site.owner(source_id))
    if owner is not None:  # read by another station: its picture comes from there
        return await from_owner(request, owner, SOURCE_PICTURE, source_id=source_id)
    jpeg = await call(request.app[STATION].sources.picture_jpeg, path_int(request, "source_id"))
    return web.Response(body=jpeg, content_type="image/jpeg",
                        headers={"Cache-Control": "no-store"})


async def snapshot(request: web.Request) -> web.StreamResponse:
    """The main stream's picture at full size (#27 item 4), whatever the wall shows."""
    source_id = path_int(request, "source_id")
    owner = remote_owner(request, request.app[STATION].site.owner(source_id))
    if owner is not None:  # another station's source: its /picture is its main stream's
        return await from_owner(request, owner, SOURCE_PICTURE, source_id=source_id)
    jpeg = await call(request.app[STATION].sources.full_picture_jpeg, source_id)
    return web.Response(body=jpeg, content_type="image/jpeg",
                        headers={"Cache-Control": "no-store",
                                 "Content-Disposition": f'inline; filename="source-{source_id}.jpg"'})


async def video(request: web.Request) -> web.StreamResponse:
    """MJPEG: one JPEG per `delay` seconds (default 1) until the client goes away. The JPEG of
    a frame is encoded once however many clients watch, and waiting for a frame holds no
    thread: a viewer looks at the slot from the event loop and sleeps."""
    source_id = path_int(request, "source_id")
    query = read_query(request, VideoQuery)
    owner = remote_owner(request, request.app[STATION].site.owner(source_id))
    if owner is not None:
        return await from_owner(request, owner, SOURCE_VIDEO, {"delay": f"{query.delay:g}"},
                                source_id=source_id)
    slot = await call(request.app[STATION].sources.frames, source_id)
    streams = request.app[MJPEG_STREAMS]
    task = asyncio.current_task()
    token = slot.watch(Demand.ALL if query.delay < 2 else Demand.KEYFRAMES)
    streams.add(task)
    response = web.StreamResponse(headers={
        "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        "Cache-Control": "no-store", "Pragma": "no-cache"})
    try:
        await response.prepare(request)
        last_seq = 0
        while request.transport is not None and not request.transport.is_closing():
            frame = slot.latest()
            if frame is None or frame.seq <= last_seq:
                await asyncio.sleep(POLL_S)
                continue
            seq_jpeg = slot.ready_jpeg() or await call(slot.jpeg)
            if seq_jpeg is None:
                continue
            last_seq, jpeg = seq_jpeg
            await response.write(
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}"
                f"\r\n\r\n".encode() + jpeg + b"\r\n")
            await asyncio.sleep(query.delay)
    except ConnectionResetError:  # the client went away mid-write
        pass
    finally:
        slot.unwatch(token)
        streams.discard(task)
    return response


def _links(source_id: str) -> dict[str, Link]:
    one = "/api/v1/source/{source_id}"
    return {"GetSource": Link("GET", one, {"source_id": source_id}),
            "UpdateSource": Link("PUT", one, {"source_id": source_id}),
            "DeleteSource": Link("DELETE", one, {"source_id": source_id}),
            "GetPicture": Link("GET", one + "/picture", {"source_id": source_id})}


def setup(app: web.Application) -> None:
    app[MJPEG_STREAMS] = set()
    sid = {"source_id": int}
    add_route(app, "GET", "/api/v1/source", list_sources, role="viewer", summary="List the sources",
              response=list[SourceOut])
    add_route(app, "POST", "/api/v1/source", create_source,
              action="create source",
              summary="Create a source",
              description="`Source` needs `uri_rtsp`, `PictureSource` needs `uri_http_picture`; "
                          "a duplicate name is a 422. The station starts reading it at once.",
              body=SourceIn, response=SourceOut, links=_links("$response.body#/id"))
    add_route(app, "GET", "/api/v1/source/{source_id}", get_source, role="viewer", summary="A source",
              path_types=sid, response=SourceOut)
    add_route(app, "PUT", "/api/v1/source/{source_id}", update_source,
              action="update source",
              summary="Change a source",
              description="Only the fields sent change; the address cannot change while it records.",
              path_types=sid, body=SourceIn, response=SourceOut)
    add_route(app, "DELETE", "/api/v1/source/{source_id}", delete_source,
              action="delete source",
              summary="Delete a source",
              description="Refused (422) while the source records.", path_types=sid,
              response=SourceOut, response_description="the deleted source")
    add_route(app, "GET", "/api/v1/source/{source_id}/picture", picture,
              action="take snapshot",  # a picture leaving the station is in the audit trail
              summary="The latest picture of a source", path_types=sid,
              binary=Binary("image/jpeg", "the latest frame"),
              description="422 while no picture has arrived yet. Audited as `take snapshot` "
                          "(one entry per caller and source a minute, however often it polls).")
    add_route(app, "GET", "/api/v1/source/{source_id}/snapshot", snapshot,
              action="take snapshot",
              summary="A full-resolution snapshot of a source", path_types=sid,
              binary=Binary("image/jpeg", "the main stream's newest picture at its full size"),
              description="The main stream's picture at its own size, never the preview "
                          "stream's nor a tile-sized one (a stream not decoded now has its "
                          "newest keyframe decoded). 422 while there is none yet. Audited as "
                          "`take snapshot`.")
    add_route(app, "GET", "/api/v1/source/{source_id}/video", video, role="viewer",
              summary="MJPEG live stream of a source", path_types=sid, query=VideoQuery,
              binary=Binary(f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                            "one JPEG part per `delay` seconds until the client disconnects"),
              description="Each part is `--frame`, `Content-Type: image/jpeg`, `Content-Length`, "
                          "the JPEG. Any number of viewers share one JPEG encode per frame.")
