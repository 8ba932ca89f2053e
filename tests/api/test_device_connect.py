"""The Device Connect / GotAPI MediaStreamRecording dialect, driven by a client that sends
what the reference JavaScript SDK sends (tests/api/dc_client.py), on the real app, services
and recorder (test-pattern sources)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import cv2
import numpy as np
import pytest

from api.app import create_app
from app.events import AccessDecided, AccessRequested
from tests.support.accounts import dc_as_operator
from tests.api.dc_client import ORIGIN, SdkClient, form_data, next_event, online_source
from tests.conftest import decode_video


@pytest.fixture
async def http(aiohttp_client, station):
    station.live.replace(station.settings.model_copy(update=dc_as_operator(station)))
    return await aiohttp_client(create_app(station))


async def _sdk(http, **kwargs) -> SdkClient:
    sdk = SdkClient(http, **kwargs)
    await sdk.authorize()
    await sdk.discover()
    return sdk


async def _fetch(url: str) -> tuple[int, str, bytes]:
    """GET an absolute `uri` the way a browser's <img>/<video> would: a new connection."""
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.read()


def _jpeg_size(data: bytes) -> tuple[int, int]:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG"
    return image.shape[1], image.shape[0]


def _recorder(answer: dict, source_id: int) -> dict:
    return next(r for r in answer["recorders"] if r["id"] == str(source_id))


async def test_sdk_flow_record_pause_resume_mute_stop(http, station, tmp_path):
    source_id = await online_source(http)
    sdk = SdkClient(http)
    available = await sdk.get("availability")
    assert available["result"] == 0 and available["product"] == station.name
    assert available["version"] == station.version
    await sdk.authorize()
    service_id = await sdk.discover()
    found = await sdk.get("servicediscovery")
    assert found["services"][0]["online"] is True
    assert "mediastreamrecording" in found["services"][0]["scopes"]
    info = await sdk.get("serviceinformation", serviceId=service_id)
    assert {"mediastreamrecording", "mediastream_recording"} <= set(info["supports"])

    ws = await sdk.connect_websocket()
    assert (await sdk.msr("PUT", "onrecordingchange"))["result"] == 0

    recorders = await sdk.msr("GET", "mediarecorder")
    recorder = _recorder(recorders, source_id)
    assert recorder["state"] == "inactive" and recorder["mimeType"] == "video/mp4"
    assert (recorder["imageWidth"], recorder["imageHeight"]) == (320, 240)

    started = await sdk.msr("POST", "record", target=str(source_id), timeslice="1000")
    assert started["result"] == 0, started
    assert started["uri"].startswith("http://127.0.0.1:") and started["path"].endswith(".mp4")
    event = await next_event(ws, "onrecordingchange", status="recording")
    assert event["profile"] == "mediastreamrecording" and event["serviceId"] == service_id
    assert event["media"]["path"] == started["path"] and event["media"]["target"] == str(source_id)
    assert _recorder(await sdk.msr("GET", "mediarecorder"), source_id)["state"] == "recording"
    record = await (await http.get(f"/api/v1/record/{started['recordId']}")).json()
    assert record["status"] == "recording" and record["tag_name"].startswith("dc-cam-")

    await asyncio.sleep(0.8)
    assert (await sdk.msr("PUT", "pause", target=str(source_id)))["result"] == 0
    await next_event(ws, "onrecordingchange", status="pause")
    assert _recorder(await sdk.msr("GET", "mediarecorder"), source_id)["state"] == "paused"
    assert (await sdk.msr("PUT", "resume", target=str(source_id)))["result"] == 0
    await next_event(ws, "onrecordingchange", status="resume")
    assert (await sdk.msr("PUT", "mutetrack", target=str(source_id)))["result"] == 0
    await next_event(ws, "onrecordingchange", status="mutetrack")
    assert _recorder(await sdk.msr("GET", "mediarecorder"), source_id)["muted"] is True
    assert (await sdk.msr("PUT", "unmutetrack", target=str(source_id)))["result"] == 0
    await next_event(ws, "onrecordingchange", status="unmutetrack")
    await asyncio.sleep(0.8)

    stopped = await sdk.msr("PUT", "stop", target=str(source_id))
    assert stopped["result"] == 0 and stopped["path"] == started["path"]
    event = await next_event(ws, "onrecordingchange", status="stop")
    assert event["media"]["uri"].split("?")[0] == stopped["uri"].split("?")[0]
    assert _recorder(await sdk.msr("GET", "mediarecorder"), source_id)["state"] == "inactive"

    status, ctype, data = await _fetch(stopped["uri"])
    assert status == 200 and ctype == "video/mp4"
    copy = tmp_path / "fetched.mp4"
    copy.write_bytes(data)
    decoded = decode_video(copy)
    assert decoded["frames"] > 10 and decoded["monotonic"]
    record = await (await http.get(f"/api/v1/record/{started['recordId']}")).json()
    assert record["status"] == "finished" and record["size_bytes"] == len(data)
    await ws.close()


async def test_takephoto_onphoto_event_with_the_seed_spelling(http, station):
    source_id = await online_source(http)
    sdk = await _sdk(http)
    ws = await sdk.connect_websocket()
    # the seed's "写真撮影を実行": registers the event and takes a photo (tested in
    # test_device_connect_sdk.py); here the event of a takephoto
    registered = await sdk.msr("PUT", "onphoto", profile="mediastream_recording",
                               sessionKey=sdk.client_id)
    assert registered["result"] == 0
    await next_event(ws, "onphoto", path=registered["path"])

    taken = await sdk.msr("POST", "takephoto", profile="mediastream_recording",
                          target=str(source_id))
    assert taken["result"] == 0 and taken["mimeType"] == "image/jpeg"
    status, ctype, data = await _fetch(taken["uri"])
    assert status == 200 and ctype == "image/jpeg"
    assert _jpeg_size(data) == (320, 240)
    # the reference demo appends `?<timestamp>` to the uri before loading it
    status, _, again = await _fetch(taken["uri"] + "?" + str(int(time.time() * 1000)))
    assert status == 200 and again == data

    event = await next_event(ws, "onphoto")
    assert event["profile"] == "mediastream_recording"  # the SDK routes events by this name
    assert event["sessionKey"] == sdk.client_id
    assert event["photo"]["path"] == taken["path"] and event["photo"]["mimeType"] == "image/jpeg"
    assert event["photo"]["uri"].split("?")[0] == taken["uri"].split("?")[0]

    assert (await sdk.msr("DELETE", "onphoto"))["result"] == 0
    await sdk.msr("POST", "takephoto", target=str(source_id))
    with pytest.raises(asyncio.TimeoutError):
        await ws.receive(timeout=0.7)  # unregistered: no event any more
    await ws.close()


async def test_preview_and_options(http, station):
    source_id = await online_source(http)
    sdk = await _sdk(http)
    picture = await sdk.msr("GET", "preview", target=str(source_id))
    assert picture["result"] == 0, picture
    status, ctype, data = await _fetch(picture["uri"])
    assert status == 200 and ctype == "image/jpeg" and _jpeg_size(data) == (320, 240)

    options = await sdk.msr("GET", "options", target=str(source_id))
    assert options["imageSizes"] == [{"width": 320, "height": 240}]
    assert options["previewSizes"] == [{"width": 320, "height": 240}]
    assert options["mimeType"] == ["video/mp4"]
    assert options["recorders"][0]["id"] == str(source_id)
    assert options["recorders"][0]["imageSizes"] == options["imageSizes"]

    assert (await sdk.msr("PUT", "options", target=str(source_id), previewMaxFrameRate="20",
                          imageWidth="320", imageHeight="240", mimeType="video/mp4"))["result"] == 0
    assert _recorder(await sdk.msr("GET", "mediarecorder"), source_id)["previewMaxFrameRate"] == 20
    for bad in ({"imageWidth": "640", "imageHeight": "480"}, {"mimeType": "video/webm"},
                {"previewMaxFrameRate": "abc"}, {"previewMaxFrameRate": "0"}):
        answer = await sdk.msr("PUT", "options", target=str(source_id), **bad)
        assert (answer["result"], answer["errorCode"]) == (1, 10), (bad, answer)
        assert answer["errorMessage"]
    assert _recorder(await sdk.msr("GET", "mediarecorder"), source_id)["previewMaxFrameRate"] == 20

    stream = await sdk.msr("PUT", "preview", target=str(source_id))
    assert stream["result"] == 0 and "delay=0.050" in stream["uri"]
    assert stream["streams"][0] == {"mimeType": "video/x-mjpeg", "uri": stream["uri"]}
    # an old WebKit page loads `uri?snapshot&<time>` instead of the stream itself
    for url in (stream["uri"], stream["uri"] + "?snapshot&" + str(int(time.time()))):
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("multipart/x-mixed-replace")
            head = await resp.content.readuntil(b"\r\n\r\n")
            assert b"Content-Type: image/jpeg" in head
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            assert _jpeg_size(await resp.content.readexactly(length)) == (320, 240)
    assert (await sdk.msr("DELETE", "preview", target=str(source_id)))["result"] == 0


async def _error(answer: dict, code: int) -> None:
    assert answer["result"] == 1 and answer["errorCode"] == code, answer
    assert answer["errorMessage"]


async def test_error_codes_in_http_200_envelopes(http, station):
    source_id = await online_source(http)
    sdk = await _sdk(http)
    target = str(source_id)
    await _error(await sdk.get("battery", "level", serviceId=sdk.service_id), 2)
    await _error(await sdk.msr("GET", "record", target=target), 8)  # see test_device_connect_sdk
    await _error(await sdk.msr("DELETE", "takephoto"), 8)
    await _error(await sdk.msr("PUT", "ondataavailable"), 4)
    await _error(await sdk.msr("GET", "nosuchattribute"), 8)
    await _error(await sdk.get("mediastreamrecording", "mediarecorder"), 5)
    await _error(await sdk.get("mediastreamrecording", "mediarecorder", serviceId="other"), 6)
    for bad in ("999", "abc", "audio"):
        answer = await sdk.msr("POST", "record", target=bad)
        await _error(answer, 10)
        assert answer["errorMessage"].startswith("target is invalid.")
    await _error(await sdk.msr("POST", "record", target=target, timeslice="soon"), 10)
    # the recorder state machine: errorCode 16 on an illegal transition
    await _error(await sdk.msr("PUT", "stop", target=target), 16)
    await _error(await sdk.msr("PUT", "pause", target=target), 16)
    await _error(await sdk.msr("PUT", "resume", target=target), 16)
    await _error(await sdk.msr("PUT", "unmutetrack", target=target), 16)  # not muted
    assert await (await http.get("/api/v1/tag/begin")).json() == []  # nothing started
    assert (await sdk.msr("POST", "record", target=target))["result"] == 0
    await _error(await sdk.msr("POST", "record", target=target), 16)
    await _error(await sdk.msr("PUT", "resume", target=target), 16)
    assert (await sdk.msr("PUT", "pause", target=target))["result"] == 0
    await _error(await sdk.msr("PUT", "pause", target=target), 16)
    await _error(await sdk.msr("POST", "record", target=target), 16)
    assert (await sdk.msr("PUT", "stop", target=target))["result"] == 0
    assert await (await http.get("/api/v1/tag/begin")).json() == []
    # a full disk: the server cannot record (17), nothing starts
    station.recordings.disk_floor_bytes = 1 << 60
    await _error(await sdk.msr("POST", "record", target=target), 17)
    assert _recorder(await sdk.msr("GET", "mediarecorder"), source_id)["state"] == "inactive"
    station.recordings.disk_floor_bytes = 0

    # tokens: missing 13, unknown 11, expired 12, scope 14; client 15; bad request 10
    token = sdk.token
    sdk.token = None
    await _error(await sdk.msr("GET", "mediarecorder"), 13)
    await _error(await sdk.get("servicediscovery"), 13)
    sdk.token = "not-a-token"
    await _error(await sdk.msr("GET", "mediarecorder"), 11)
    sdk.token = token
    clock = station.dc_auth.clock
    station.dc_auth.clock = lambda: clock() + 2 * 24 * 3600 - 10
    try:
        await _error(await sdk.msr("GET", "mediarecorder"), 12)
    finally:
        station.dc_auth.clock = clock
    narrow = await _sdk(http, scopes=("servicediscovery", "battery"))
    await _error(await narrow.msr("GET", "mediarecorder"), 14)
    grant = await sdk.get("authorization", "accessToken", clientId="nobody",
                          scope="mediastreamrecording", applicationName="x")
    await _error(grant, 15)
    client_id = (await sdk.get("authorization", "grant"))["clientId"]
    await _error(await sdk.get("authorization", "accessToken", clientId=client_id), 10)


async def test_websocket_handshake_refusals(http, station):
    for sent, code in (('{"accessToken":"bogus"}', 11), ("{}", 13), ("[1]", 10)):
        ws = await http.ws_connect("/gotapi/websocket")
        await ws.send_str(sent)
        answer = await ws.receive_json(timeout=5)
        assert answer["result"] == 1 and answer["errorCode"] == code, answer
        assert (await ws.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE,
                                                      aiohttp.WSMsgType.CLOSED)
        await ws.close()


async def test_cors_case_insensitive_names_and_body_kinds(http, station):
    source_id = await online_source(http)
    sdk = await _sdk(http)
    resp = await http.options("/gotapi/mediastreamrecording/record", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-gotapi-origin,content-type"})
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "PUT" in resp.headers["Access-Control-Allow-Methods"]
    assert "x-gotapi-origin" in resp.headers["Access-Control-Allow-Headers"].lower()
    resp = await http.get(sdk.uri("availability"), headers={"Origin": ORIGIN})
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN

    for profile, attribute in (("mediaStreamRecording", "mediaRecorder"),
                               ("MEDIASTREAM_RECORDING", "MediaRecorder/"),
                               ("mediastream_recording", "mediarecorder")):
        answer = await sdk.send("GET", profile, attribute, serviceId=sdk.service_id)
        assert answer["result"] == 0 and _recorder(answer, source_id), (profile, attribute)

    # the seed's application/json body
    resp = await http.post(sdk.uri("mediastream_recording", "record"),
                           json={"serviceId": sdk.service_id, "target": source_id})
    assert (await resp.json())["result"] == 0
    # an urlencoded body, parameter names in another case
    resp = await http.put(sdk.uri("mediastreamrecording", "pause"),
                          data={"serviceid": sdk.service_id, "Target": str(source_id)})
    assert (await resp.json())["result"] == 0, await resp.text()
    # SDK 2.x `put(uri, bodyObject)` sends the object as a whole URL in an urlencoded body
    body = (f"http://127.0.0.1:4035/gotapi?accessToken={sdk.token}"
            f"&serviceId={sdk.service_id}&target={source_id}")
    answer = await sdk.send("PUT", "mediastreamrecording", "resume", raw_body=body)
    assert answer["result"] == 0, answer
    # a multipart body carrying the token too (nothing in the query)
    sdk_token, sdk.token = sdk.token, None
    data, ctype = form_data({"accessToken": sdk_token, "serviceId": sdk.service_id,
                             "target": str(source_id)})
    resp = await http.put("/gotapi/mediastreamrecording/stop", data=data,
                          headers={"Content-Type": ctype, "X-GotAPI-Origin": ORIGIN})
    assert (await resp.json())["result"] == 0


async def test_malformed_requests_are_code_10_and_start_nothing(http, station):
    source_id = await online_source(http)
    sdk = await _sdk(http)
    uri = sdk.uri("mediastreamrecording", "record", serviceId=sdk.service_id, target=source_id)
    bodies = (
        ("multipart/form-data", b"no boundary"),
        ("multipart/form-data; boundary=xx", b"--xx\r\nbroken header\r\n\r\n"),
        ("application/json", b"[" * 50000),
        ("application/json", b'["an array"]'),
        ("text/plain", b"x" * (2 << 20)),
    )
    for ctype, body in bodies:
        resp = await http.post(uri, data=body, headers={"Content-Type": ctype})
        assert resp.status == 200
        await _error(await resp.json(), 10)
    resp = await http.get("/gotapi/websocket")  # no upgrade
    await _error(await resp.json(), 10)
    assert await (await http.get("/api/v1/tag/begin")).json() == []
    assert _recorder(await sdk.msr("GET", "mediarecorder"), source_id)["state"] == "inactive"


async def _access_request(http, sdk: SdkClient) -> dict:
    client_id = (await sdk.get("authorization", "grant"))["clientId"]
    return await sdk.get("authorization", "accessToken", clientId=client_id,
                         scope="servicediscovery,mediastreamrecording", applicationName="Viewer")


async def test_access_tokens_wait_for_the_operator(http, station):
    station.live.replace(station.settings.model_copy(update={"dc_auto_approve": False}))
    heard: list = []
    unsubscribe = station.bus.subscribe(
        lambda e: heard.append(e) if isinstance(e, (AccessRequested, AccessDecided)) else None)
    sdk = SdkClient(http)
    try:
        for approved in (True, False):
            heard.clear()
            waiting = asyncio.create_task(_access_request(http, sdk))
            for _ in range(100):
                if heard:
                    break
                await asyncio.sleep(0.05)
            request = heard[0]
            assert isinstance(request, AccessRequested)
            assert request.application_name == "Viewer" and request.origin == ORIGIN
            assert request.scopes == ("servicediscovery", "mediastreamrecording")
            assert [p.request_id for p in station.dc_auth.pending()] == [request.request_id]
            assert station.dc_auth.decide(request.request_id, approved) is True
            answer = await waiting
            if approved:
                assert answer["result"] == 0 and answer["accessToken"]
                assert answer["scopes"][0]["expirePeriod"] == station.settings.dc_token_ttl_s
                assert answer["expire"] > time.time() * 1000
                sdk.token = answer["accessToken"]
                assert (await sdk.get("servicediscovery"))["result"] == 0
            else:
                await _error(answer, 11)
            assert heard[-1] == AccessDecided(request.request_id,
                                              "approved" if approved else "denied")

        heard.clear()
        station.dc_auth.approval_timeout_s = 0.3
        await _error(await _access_request(http, sdk), 7)
        assert heard[-1].outcome == "timeout" and station.dc_auth.pending() == []
        assert station.dc_auth.decide(heard[0].request_id, True) is False
    finally:
        unsubscribe()


async def test_cross_dialect_native_start_dc_stop(http, station, tmp_path):
    source_id = await online_source(http)
    (group,) = await (await http.post("/api/v1/group", json={"name": "hall"})).json()
    assert await (await http.post(f"/api/v1/group/{group['id']}/source/{source_id}")).json()
    sdk = await _sdk(http)
    ws = await sdk.connect_websocket()
    await sdk.msr("PUT", "onrecordingchange")

    started = await (await http.post("/api/v1/record", json={"tag_name": "meeting",
                                                             "group_name": "hall"})).json()
    event = await next_event(ws, "onrecordingchange", status="recording")
    assert event["media"]["origin"] == "api" and event["media"]["recordId"] == started[0]["id"]
    assert _recorder(await sdk.msr("GET", "mediarecorder"), source_id)["state"] == "recording"
    await asyncio.sleep(0.6)
    # the GUI pauses and resumes through the same core services
    await asyncio.to_thread(station.recordings.pause, started[0]["id"], "gui")
    event = await next_event(ws, "onrecordingchange", status="pause")
    assert event["media"]["origin"] == "gui"
    assert _recorder(await sdk.msr("GET", "mediarecorder"), source_id)["state"] == "paused"
    await asyncio.to_thread(station.recordings.resume, started[0]["id"], "gui")
    await next_event(ws, "onrecordingchange", status="resume")
    await asyncio.sleep(0.6)

    stopped = await sdk.msr("PUT", "stop")  # no target: the first video source
    assert stopped["recordId"] == started[0]["id"] and stopped["result"] == 0
    await next_event(ws, "onrecordingchange", status="stop")
    records = await (await http.get("/api/v1/record", params={"tag_name": "meeting"})).json()
    assert [r["status"] for r in records] == ["finished"]
    assert decode_video(records[0]["location"])["frames"] > 10

    # and the other way: Device Connect starts, the native API sees and stops it
    dc = await sdk.msr("POST", "record")
    tag = (await (await http.get(f"/api/v1/record/{dc['recordId']}")).json())["tag_name"]
    assert await (await http.get("/api/v1/record/running", params={"tag_name": tag})).json() is True
    await asyncio.sleep(0.6)
    resp = await http.put("/api/v1/record", json={"tag_name": tag})
    assert resp.status == 200 and (await resp.json())[0]["status"] == "finished"
    event = await next_event(ws, "onrecordingchange", status="stop")
    assert event["media"]["origin"] == "api"
    assert _recorder(await sdk.msr("GET", "mediarecorder"), source_id)["state"] == "inactive"
    await ws.close()


async def test_uris_work_when_the_station_has_a_token(http, station):
    source_id = await online_source(http)
    station.live.replace(station.settings.model_copy(update={"token": "station-secret"}))
    assert (await http.get("/api/v1/source")).status == 401
    sdk = await _sdk(http)  # /gotapi has its own auth: no station token needed
    picture = await sdk.msr("GET", "preview", target=str(source_id))
    status, ctype, _ = await _fetch(picture["uri"])
    assert (status, ctype) == (200, "image/jpeg")
    base = picture["uri"].split("?")[0]
    assert (await _fetch(base + "?accessToken=forged"))[0] == 401
    # a Device Connect token opens only the media a uri points at
    resp = await http.get("/api/v1/source", params={"accessToken": sdk.token})
    assert resp.status == 401


async def test_on_the_server_thread_events_flow_and_shutdown_leaves_no_socket_hanging(
        station, api_server):
    """The station as it runs: the API on its own thread and loop, the SDK client elsewhere."""
    station.live.replace(station.settings.model_copy(update=dc_as_operator(station)))
    async with aiohttp.ClientSession(base_url=api_server.url.rstrip("/")) as http:
        source_id = await online_source(http)
        sdk = await _sdk(http)
        ws = await sdk.connect_websocket()
        await sdk.msr("PUT", "onrecordingchange")
        started = await sdk.msr("POST", "record", target=str(source_id))
        event = await next_event(ws, "onrecordingchange", status="recording")
        assert event["media"]["recordId"] == started["recordId"]
        assert event["media"]["uri"].startswith(api_server.url.rstrip("/") + "/api/v1/record/")
        began = time.monotonic()
        await asyncio.to_thread(api_server.stop)
        assert time.monotonic() - began < 5
        assert (await ws.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE,
                                                      aiohttp.WSMsgType.CLOSED)
