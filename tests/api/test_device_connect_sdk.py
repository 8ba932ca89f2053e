"""Device Connect answers exactly as the Device Connect Manager gives them to an unmodified
SDK client (issue #14 A): a method an attribute does not define is errorCode 8; `target=`
is 10; `timeslice` is a positive integer; mute is a track state (any recorder state, 16 when
it is set already); pause/resume follow what the client was told (16 on a second resume
while the file waits for its keyframe); the seed's `PUT onphoto` registers and takes a photo.

Every request goes as the reference JavaScript SDK sends it (tests/api/dc_client.py):
lower-case paths, PUT/POST parameters in a multipart/form-data body, GET/DELETE ones in the
query, the Local OAuth access token in the query. Real station, recorder and cameras."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest

from api.app import create_app
from api.device_connect.recording import ATTRIBUTES
from app.events import RecordingMuted
from tests.support.accounts import dc_as_operator
from tests.api.dc_client import assert_error, authorized, next_event, online_source
from tests.support.media import packet_times

METHODS = ("GET", "PUT", "POST", "DELETE")
# the list: what clients were seen to send, each answered 8 by the Manager
UNDEFINED = [
    ("PUT", "mediarecorder"), ("POST", "mediarecorder"), ("DELETE", "mediarecorder"),
    ("GET", "takephoto"), ("PUT", "takephoto"), ("DELETE", "takephoto"),
    ("GET", "record"), ("PUT", "record"), ("DELETE", "record"),
    ("GET", "pause"),
    ("GET", "mutetrack"), ("POST", "mutetrack"), ("DELETE", "mutetrack"),
    ("GET", "unmutetrack"), ("POST", "unmutetrack"), ("DELETE", "unmutetrack"),
    ("GET", "stop"), ("POST", "stop"), ("DELETE", "stop"),
    ("POST", "options"), ("DELETE", "options"),
    ("GET", "onphoto"), ("POST", "onphoto"),
    ("GET", "onrecordingchange"), ("POST", "onrecordingchange"),
    ("POST", "preview"),
]
# attributes that take a target, and the methods they define
TARGETED = [("POST", "record"), ("POST", "takephoto"), ("PUT", "pause"), ("PUT", "resume"),
            ("PUT", "stop"), ("PUT", "mutetrack"), ("PUT", "unmutetrack"), ("GET", "preview"),
            ("PUT", "preview"), ("DELETE", "preview"), ("GET", "options"), ("PUT", "options"),
            ("PUT", "onphoto"), ("PUT", "onrecordingchange")]


@pytest.fixture
async def http(aiohttp_client, station):
    station.live.replace(station.settings.model_copy(update=dc_as_operator(station)))
    return await aiohttp_client(create_app(station))


def _recorder(answer: dict, source_id: int) -> dict:
    assert answer["result"] == 0, answer
    return next(r for r in answer["recorders"] if r["id"] == str(source_id))


async def _state(sdk, source_id: int) -> dict:
    return _recorder(await sdk.msr("GET", "mediarecorder"), source_id)


def _photos(station) -> list[str]:
    folder = station.settings.recordings_dir / "photos"
    return sorted(p.name for p in folder.glob("*.jpg")) if folder.is_dir() else []


# --- 1. a method the attribute does not define: errorCode 8 ---------------------------------------
@pytest.mark.parametrize(("method", "attribute"), UNDEFINED,
                         ids=[f"{m} {a}" for m, a in UNDEFINED])
async def test_a_method_the_attribute_does_not_define_is_unknown_attribute(http, method,
                                                                           attribute):
    sdk = await authorized(http)
    answer = await sdk.msr(method, attribute, target="1", sessionKey=sdk.client_id)
    assert_error(answer, 8)
    assert method in answer["errorMessage"] and attribute in answer["errorMessage"]


async def test_every_undefined_method_is_8_and_changes_nothing(http, station):
    source_id = await online_source(http)
    sdk = await authorized(http)
    undefined = [(m, a) for a, methods in ATTRIBUTES.items() for m in METHODS
                 if m not in methods]
    assert set(UNDEFINED) <= set(undefined)
    for method, attribute in undefined:
        answer = await sdk.msr(method, attribute, target=str(source_id))
        assert (answer["result"], answer.get("errorCode")) == (1, 8), (method, attribute, answer)
    # a defined method is still answered by its attribute (not 8)
    assert (await sdk.msr("GET", "options", target=str(source_id)))["result"] == 0
    await asyncio.sleep(0.3)  # an event, a photo, a file would show by now
    assert (await _state(sdk, source_id))["state"] == "inactive"
    assert await (await http.get("/api/v1/tag/begin")).json() == []
    assert _photos(station) == []
    # an unsupported attribute keeps 4, an unknown one 8, an unknown profile 2
    assert_error(await sdk.msr("PUT", "ondataavailable"), 4)
    assert_error(await sdk.msr("GET", "nosuchattribute"), 8)
    assert_error(await sdk.get("battery", "level", serviceId=sdk.service_id), 2)


# --- 2. target present but empty: errorCode 10 -------------------------------------------------------
async def test_an_empty_target_is_invalid_on_every_attribute_that_takes_one(http, station):
    source_id = await online_source(http)
    sdk = await authorized(http)
    for method, attribute in TARGETED:
        for empty in ("", "  "):
            answer = await sdk.msr(method, attribute, target=empty)
            assert_error(answer, 10)
            assert answer["errorMessage"].startswith("target is invalid."), answer
    await asyncio.sleep(0.3)
    assert (await _state(sdk, source_id))["state"] == "inactive"
    assert (await _state(sdk, source_id))["muted"] is False  # mutetrack did not apply
    assert _photos(station) == []
    # no target at all still means the default recorder (the first video source)
    started = await sdk.msr("POST", "record")
    assert started["result"] == 0 and started["target"] == str(source_id), started
    assert (await sdk.msr("PUT", "stop", target="video"))["result"] == 0  # the demo's target


# --- 3. timeslice -----------------------------------------------------------------------------------
async def test_timeslice_must_be_a_positive_integer(http, station):
    source_id = await online_source(http)
    sdk = await authorized(http)
    for bad in ("", " ", "soon", "0", "-1000", "1.5", "1e3", "0x10", "+1000", "١٠٠٠",
                "99999999999999999999999"):
        answer = await sdk.msr("POST", "record", target=str(source_id), timeslice=bad)
        assert_error(answer, 10)
        assert "timeslice" in answer["errorMessage"]
    assert (await _state(sdk, source_id))["state"] == "inactive"
    assert await (await http.get("/api/v1/tag/begin")).json() == []
    started = await sdk.msr("POST", "record", target=str(source_id), timeslice="1000")
    assert started["result"] == 0, started
    assert (await sdk.msr("PUT", "stop", target=str(source_id)))["result"] == 0


# --- 4. mute is a track state ------------------------------------------------------------------------
async def test_mute_is_a_track_state_in_any_recorder_state(http, station, rtsp_camera_pcma):
    source_id = await online_source(http, "mic", rtsp_camera_pcma.url)
    sdk = await authorized(http)
    target = str(source_id)
    ws = await sdk.connect_websocket()
    await sdk.msr("PUT", "onrecordingchange")
    muted_events: list[RecordingMuted] = []
    unsubscribe = station.bus.subscribe(
        lambda e: muted_events.append(e) if isinstance(e, RecordingMuted) else None)
    try:
        # inactive: the state is kept for the next recording; setting it twice is 16
        assert (await sdk.msr("PUT", "mutetrack", target=target))["result"] == 0
        assert (await _state(sdk, source_id))["muted"] is True
        assert_error(await sdk.msr("PUT", "mutetrack", target=target), 16)
        assert (await sdk.msr("PUT", "unmutetrack", target=target))["result"] == 0
        assert (await _state(sdk, source_id))["muted"] is False
        assert_error(await sdk.msr("PUT", "unmutetrack", target=target), 16)
        assert (await sdk.msr("PUT", "mutetrack", target=target))["result"] == 0
        assert muted_events == []  # no recording: nothing was muted yet

        # the next recording starts muted, from its first packet: no audio, the video carries on
        started = await sdk.msr("POST", "record", target=target)
        assert started["result"] == 0, started
        assert station.recordings.control_state(started["recordId"])["muted"] is True
        state = await _state(sdk, source_id)
        assert (state["state"], state["muted"]) == ("recording", True)
        assert_error(await sdk.msr("PUT", "mutetrack", target=target), 16)
        await asyncio.sleep(3.0)
        # unmuted while recording: the audio comes back in the same file
        assert (await sdk.msr("PUT", "unmutetrack", target=target))["result"] == 0
        await next_event(ws, "onrecordingchange", status="unmutetrack")
        assert_error(await sdk.msr("PUT", "unmutetrack", target=target), 16)
        await asyncio.sleep(1.5)
        stopped = await sdk.msr("PUT", "stop", target=target)
        assert stopped["result"] == 0, stopped
        # started muted (no event: nothing changed for the file); unmuted once
        assert [(e.record_id, e.muted) for e in muted_events] == [(started["recordId"], False)]
    finally:
        unsubscribe()
    video = packet_times(stopped["path"], "video")
    audio = packet_times(stopped["path"], "audio")
    assert video and audio
    assert max(b - a for a, b in zip(video, video[1:])) < 0.2  # the video never stopped
    # The muted stretch (the first 3 s) has no audio at all, not even the pre-roll's moment:
    # the file starts muted under the lock that registers it; then the audio runs unbroken.
    # (The MP4's audio track starts at zero like every track: the first AAC packet, encoded
    # after the unmute, sits at 0 with a duration spanning the muted stretch; what counts is
    # that the next one, the second after the unmute, comes 3 s in.)
    assert audio[1] >= video[0] + 2.5, (video[:3], audio[:5])
    assert max(b - a for a, b in zip(audio[1:], audio[2:])) < 0.5
    assert audio[-1] > video[-1] - 1.0  # back after unmutetrack
    # the track state stays with the recorder: unmuted now, for the next recording too
    assert (await _state(sdk, source_id))["muted"] is False
    await ws.close()


# --- 5. pause / resume follow what the client was told -----------------------------------------------
async def test_resume_when_not_paused_and_pause_when_not_recording_are_16(http, station):
    # a 2 s GOP: a resumed file waits up to 2 s for its keyframe, still "paused" inside
    source_id = await online_source(http, "slow-gop",
                                    "testsrc://testsrc2?size=320x240&rate=25&gop=2")
    sdk = await authorized(http)
    target = str(source_id)
    assert_error(await sdk.msr("PUT", "pause", target=target), 16)  # inactive
    assert_error(await sdk.msr("PUT", "resume", target=target), 16)
    started = await sdk.msr("POST", "record", target=target)
    assert started["result"] == 0, started
    assert_error(await sdk.msr("PUT", "resume", target=target), 16)  # recording
    await asyncio.sleep(0.5)
    assert (await sdk.msr("PUT", "pause", target=target))["result"] == 0
    assert_error(await sdk.msr("PUT", "pause", target=target), 16)  # paused
    await asyncio.sleep(0.5)
    assert (await sdk.msr("PUT", "resume", target=target))["result"] == 0
    # at once, before the keyframe the file goes on from: recording for the client
    assert (await _state(sdk, source_id))["state"] == "recording"
    assert_error(await sdk.msr("PUT", "resume", target=target), 16)
    # and a pause right away holds (the record must not go on at its keyframe)
    assert (await sdk.msr("PUT", "pause", target=target))["result"] == 0
    await asyncio.sleep(2.5)
    assert (await _state(sdk, source_id))["state"] == "paused"
    assert station.recordings.control_state(started["recordId"])["paused"] is True
    # another front end resumes: the Device Connect client sees it at once too
    await asyncio.to_thread(station.recordings.resume, started["recordId"], "gui")
    assert (await _state(sdk, source_id))["state"] == "recording"
    assert_error(await sdk.msr("PUT", "resume", target=target), 16)
    await asyncio.sleep(2.5)
    stopped = await sdk.msr("PUT", "stop", target=target)
    assert stopped["result"] == 0, stopped
    assert_error(await sdk.msr("PUT", "pause", target=target), 16)
    assert_error(await sdk.msr("PUT", "resume", target=target), 16)


# --- 6. the seed's PUT onphoto: registers and takes a photo ------------------------------------------
async def test_put_onphoto_registers_and_takes_a_photo_that_reaches_it(http, station):
    source_id = await online_source(http)
    seed, other = await authorized(http), await authorized(http)
    seed_ws, other_ws = await seed.connect_websocket(), await other.connect_websocket()
    await other.msr("PUT", "onrecordingchange")  # registered, but not for photos

    # as the seed page writes it: serviceId, accessToken, sessionKey; no target
    answer = await seed.msr("PUT", "onphoto", profile="mediastream_recording",
                            sessionKey="seed-session")
    assert answer["result"] == 0, answer
    assert answer["mimeType"] == "image/jpeg" and answer["target"] == str(source_id)
    assert _photos(station) == [answer["path"].rsplit("/", 1)[1]]
    uri = urlsplit(answer["uri"])
    async with http.get(f"{uri.path}?{uri.query}") as resp:
        assert resp.status == 200 and (await resp.read())[:2] == b"\xff\xd8"

    event = await next_event(seed_ws, "onphoto", path=answer["path"])
    assert event["profile"] == "mediastream_recording" and event["sessionKey"] == "seed-session"
    assert event["serviceId"] == seed.service_id
    assert f"accessToken={seed.token}" in event["photo"]["uri"]
    with pytest.raises(asyncio.TimeoutError):
        await other_ws.receive(timeout=0.7)  # another client's socket hears nothing of it

    # the registration stays: a takephoto later reaches it as well
    taken = await seed.msr("POST", "takephoto", target=str(source_id))
    await next_event(seed_ws, "onphoto", path=taken["path"])
    # a bad target: nothing registered, nothing taken
    before = _photos(station)
    assert_error(await other.msr("PUT", "onphoto", target=""), 10)
    assert_error(await other.msr("PUT", "onphoto", target="999"), 10)
    await seed.msr("POST", "takephoto", target=str(source_id))
    with pytest.raises(asyncio.TimeoutError):
        await other_ws.receive(timeout=0.7)
    assert len(_photos(station)) == len(before) + 1
    # unregistered: no more events (and a DELETE takes no photo)
    assert (await seed.msr("DELETE", "onphoto"))["result"] == 0
    assert len(_photos(station)) == len(before) + 1
    await seed_ws.close()
    await other_ws.close()


async def test_put_onphoto_registers_even_without_a_picture(http, station):
    resp = await http.post("/api/v1/source", json={"name": "gone",
                                                   "uri_rtsp": "rtsp://127.0.0.1:9/none"})
    assert resp.status in (200, 201)
    sdk = await authorized(http)
    answer = await sdk.msr("PUT", "onphoto", sessionKey="s")
    assert answer["result"] == 0 and "uri" not in answer, answer
    assert_error(await sdk.msr("POST", "takephoto"), 16)  # no picture: an illegal state
    assert _photos(station) == []
    assert (await sdk.msr("DELETE", "onphoto"))["result"] == 0


# --- C.2: the picture size comes from the frame slot, no JPEG is encoded for it ----------------------
async def test_mediarecorder_reads_the_size_without_encoding_a_jpeg(http, station):
    source_id = await online_source(http)
    sdk = await authorized(http)
    slot = station.sources.frames(source_id)
    for _ in range(3):
        recorder = await _state(sdk, source_id)
        assert (recorder["imageWidth"], recorder["imageHeight"]) == (320, 240)
        assert (recorder["previewWidth"], recorder["previewHeight"]) == (320, 240)
    options = await sdk.msr("GET", "options", target=str(source_id))
    assert options["imageSizes"] == [{"width": 320, "height": 240}]
    assert slot.encodes == 0
    assert slot.latest() is not None  # the keyframe decoded once stays in the slot
