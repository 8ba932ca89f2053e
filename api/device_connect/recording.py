"""The MediaStreamRecording profile (`/gotapi/mediastreamrecording/...`, also spelled
`mediaStreamRecording` and the seed's `mediastream_recording`): thin handlers over
`MediaRecorderService`, which owns the recorder state machine.

`ATTRIBUTES` is the profile's API as the Device Connect Manager defines it, method by
method: any other method on these attributes is errorCode 8 (the dispatcher's rule)."""

from __future__ import annotations

import json

from api import routing
from api.device_connect import media
from api.device_connect.context import Call
from api.device_connect.envelope import Code, DcError
from api.device_connect.events import Registration
from app.visibility import in_scope
from app.dialects.device_connect.dc_recorder import PHOTO_MIME, VIDEO_MIME, Photo, RecorderInfo
from app.errors import Conflict, InvalidInput
from app.schemas import RecordOut


def _svc(call: Call):
    return call.station.media_recorders


def _recorder_json(info: RecorderInfo) -> dict:
    source = info.source
    config = {"source": source.name, "sourceStatus": source.status, "muted": info.muted,
              "recordIds": [r.id for r in info.records]}
    return {
        "id": str(source.id), "name": source.name, "state": info.state, "mimeType": VIDEO_MIME,
        "config": json.dumps(config), "imageWidth": info.width, "imageHeight": info.height,
        "previewWidth": info.width, "previewHeight": info.height,
        "previewMaxFrameRate": info.preview_fps, "type": "video",
        "sourceStatus": source.status, "muted": info.muted,
    }


def _record_json(call: Call, record: RecordOut) -> dict:
    return {"uri": call.record_uri(record.id),
            "path": record.location or "", "mimeType": VIDEO_MIME, "recordId": record.id,
            "tag": record.tag_name or "", "target": str(record.source.id) if record.source else ""}


async def mediarecorder(call: Call) -> dict:
    """The recorders (sources) the application's user may see (#26: its scope)."""
    recorders = await routing.call(_svc(call).recorders)
    user = call.token.acts_as if call.token is not None else None
    visible = await routing.call(call.station.scope.sources, user)
    return {"recorders": [_recorder_json(i) for i in recorders
                          if in_scope(i.source.id, visible)]}


async def record(call: Call) -> dict:
    # `timeslice` (ms) asks for `ondataavailable` chunks, which the station does not offer
    # (it writes files): checked, then not used
    call.params.positive_integer("timeslice")
    return _record_json(call, await routing.call(_svc(call).record, call.target))


async def stop(call: Call) -> dict:
    """The last file of the recording (a long one rolls over to new files) and, in
    `records`, every file of the recordings stopped, oldest first."""
    stopped = await routing.call(_svc(call).stop, call.target)
    files = await routing.call(_svc(call).files, stopped)
    mine = [r for r in stopped if (r.tag_name or "").startswith("dc-")] or stopped
    return _record_json(call, mine[0]) | {"records": [_record_json(call, r) for r in files]}


async def pause(call: Call) -> dict:
    await routing.call(_svc(call).pause, call.target)
    return {}


async def resume(call: Call) -> dict:
    await routing.call(_svc(call).resume, call.target)
    return {}


async def mutetrack(call: Call) -> dict:
    await routing.call(_svc(call).set_muted, call.target, True)
    return {}


async def unmutetrack(call: Call) -> dict:
    await routing.call(_svc(call).set_muted, call.target, False)
    return {}


def _photo_json(call: Call, photo: Photo) -> dict:
    return {"uri": call.photo_uri(photo.name),
            "path": str(photo.path), "mimeType": PHOTO_MIME, "target": str(photo.source_id)}


async def takephoto(call: Call) -> dict:
    return _photo_json(call, await routing.call(_svc(call).take_photo, call.target))


# --- events ------------------------------------------------------------------------------------
def _client_id(call: Call) -> str:
    assert call.token is not None
    return call.token.client_id


async def register(call: Call) -> dict:
    """`PUT onrecordingchange` (and the first half of `PUT onphoto`): events go to the
    client's WebSocket (the seed's `sessionKey` is echoed in each event; it names no
    socket)."""
    assert call.attribute is not None and call.token is not None
    if call.target is not None:
        await routing.call(_svc(call).source_of, call.target)
    call.hub.register(Registration(_client_id(call), call.attribute, call.profile, call.base,
                                   call.params.text("sessionKey")))
    return {}


async def register_and_take_photo(call: Call) -> dict:
    """`PUT onphoto`: registers the event, as an SDK client expects, and takes a photo, as
    the seed's page says ("写真撮影を実行"): its `onphoto` event reaches the registration
    just made, and the answer carries it too (uri, path, mimeType, target). A recorder
    without a picture (offline, nothing received yet; or no source at all) still
    registers: the answer then has no photo. A bad `target` registers nothing (10)."""
    answer = await register(call)
    try:
        photo = await routing.call(_svc(call).take_photo, call.target)
    except (Conflict, InvalidInput):  # a bad target was refused by `register` already
        return answer
    return answer | _photo_json(call, photo)


async def unregister(call: Call) -> dict:
    assert call.attribute is not None
    call.hub.unregister(_client_id(call), call.attribute)
    return {}


# --- preview -----------------------------------------------------------------------------------
async def _previewable(call: Call) -> RecorderInfo:
    info = await routing.call(_svc(call).recorder, call.target)
    if not info.width:
        raise DcError(Code.ILLEGAL_DEVICE_STATE,
                      f"recorder {info.source_id} has no picture ({info.source.status})")
    return info


async def preview_picture(call: Call) -> dict:
    """`GET preview`: a JPEG of the latest frame."""
    info = await _previewable(call)
    return {"uri": call.picture_uri(info.source_id), "mimeType": PHOTO_MIME}


async def preview_start(call: Call) -> dict:
    """`PUT preview`: the MJPEG stream, at most `previewMaxFrameRate` pictures a second."""
    info = await _previewable(call)
    mjpeg = call.mjpeg_uri(info.source_id, info.preview_fps)
    jpeg = call.picture_uri(info.source_id)
    return {"uri": mjpeg, "mimeType": media.MJPEG_MIME,
            "streams": [{"mimeType": media.MJPEG_MIME, "uri": mjpeg},
                        {"mimeType": PHOTO_MIME, "uri": jpeg}]}


async def preview_stop(call: Call) -> dict:
    """`DELETE preview`: nothing runs for a preview; the stream ends when its client goes."""
    await routing.call(_svc(call).source_of, call.target)
    return {}


# --- options -----------------------------------------------------------------------------------
def _sizes(info: RecorderInfo) -> list[dict]:
    return [{"width": info.width, "height": info.height}] if info.width else []


async def options(call: Call) -> dict:
    """`GET options`: the spec's top-level lists and the `recorders` list (the union of what
    public sources describe)."""
    svc = _svc(call)
    info = await routing.call(svc.recorder, call.target)
    everyone = await routing.call(svc.recorders)
    return {"imageSizes": _sizes(info), "previewSizes": _sizes(info), "mimeType": [VIDEO_MIME],
            "previewMaxFrameRate": info.preview_fps, "target": str(info.source_id),
            "recorders": [{"id": str(i.source_id), "imageSizes": _sizes(i),
                           "previewSizes": _sizes(i), "mimeType": [VIDEO_MIME]} for i in everyone]}


def _check_size(params, info: RecorderInfo, prefix: str) -> None:
    width = params.number(f"{prefix}Width", integer=True)
    height = params.number(f"{prefix}Height", integer=True)
    if width is None and height is None:
        return
    if (width, height) != (info.width, info.height):
        raise DcError(Code.INVALID_REQUEST_PARAMETER,
                      f"{prefix}Width/{prefix}Height: recorder {info.source_id} offers only "
                      f"{info.width}x{info.height}")


async def set_options(call: Call) -> dict:
    """`PUT options`: the picture size is the camera's (only it is accepted); the preview's
    frame rate can be set (above 0, at most 30 a second)."""
    svc = _svc(call)
    info = await routing.call(svc.recorder, call.target)
    _check_size(call.params, info, "image")
    _check_size(call.params, info, "preview")
    mime = call.params.text("mimeType")
    if mime is not None and mime.lower() != VIDEO_MIME:
        raise DcError(Code.INVALID_REQUEST_PARAMETER, f"mimeType: only {VIDEO_MIME} is recorded")
    fps = call.params.number("previewMaxFrameRate")
    if fps is not None:
        await routing.call(svc.set_preview_fps, call.target, fps)
    return {}


ATTRIBUTES = {
    "mediarecorder": {"GET": mediarecorder},
    "record": {"POST": record},
    "stop": {"PUT": stop},
    "pause": {"PUT": pause},
    "resume": {"PUT": resume},
    "mutetrack": {"PUT": mutetrack},
    "unmutetrack": {"PUT": unmutetrack},
    "takephoto": {"POST": takephoto},
    "onphoto": {"PUT": register_and_take_photo, "DELETE": unregister},
    "onrecordingchange": {"PUT": register, "DELETE": unregister},
    "preview": {"GET": preview_picture, "PUT": preview_start, "DELETE": preview_stop},
    "options": {"GET": options, "PUT": set_options},
}

# What each state-changing method of ATTRIBUTES is called in the audit trail (one vocabulary
# with the native API and the GUI: app.services.audit.ACTIONS).
AUDIT_ACTIONS = {
    ("record", "POST"): "start recording",
    ("stop", "PUT"): "stop recording",
    ("pause", "PUT"): "pause recording",
    ("resume", "PUT"): "resume recording",
    ("mutetrack", "PUT"): "mute audio",
    ("unmutetrack", "PUT"): "unmute audio",
    ("takephoto", "POST"): "take photo",
    ("onphoto", "PUT"): "take photo",
    ("onphoto", "DELETE"): "stop watching events",
    ("onrecordingchange", "PUT"): "watch events",
    ("onrecordingchange", "DELETE"): "stop watching events",
    ("preview", "PUT"): "start preview",
    ("preview", "DELETE"): "stop preview",
    ("options", "PUT"): "set recorder options",
}
# attributes of the public profile this station does not offer (errorCode 4, not 8)
UNSUPPORTED = frozenset({"ondataavailable"})
