"""Huawei SparkRTC individual stream jobs against a real station on a real socket, driven by
the official `huaweicloudsdkcloudrtc` SDK (AK/SK signed) and by requests the SDK's own
signer signs; forwards read back from a real nginx-rtmp server."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import av
import pytest
import requests
from huaweicloudsdkcloudrtc.v2 import (
    CreateIndividualStreamJobRequest,
    IndividualStreamJobReq,
    RecordParam,
    ShowIndividualStreamJobRequest,
    StopIndividualStreamJobRequest,
)
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from sqlmodel import select

from api.server import ApiServer
from app.models import RtcJob
from app.schemas import GroupIn, SourceIn
from app.station import build_station, start_station, stop_station
from tests.conftest import TESTSRC, decode_video, make_settings, md5_of, wait_until
from tests.support.huawei import AK, APP_ID, SK, rtc_client, signed
from tests.support.rtmp_server import RTMP_PLAY, RtmpServer, skip_reason

JOBS = f"/v2/apps/{APP_ID}/individual-stream-jobs"


def _settings(tmp_path, **extra):
    return make_settings(tmp_path, huawei_ak=AK, huawei_sk=SK, huawei_app_id=APP_ID, **extra)


def _serve(station):
    return ApiServer(station, "127.0.0.1", 0).start()


def _add(station, group_name: str, name: str, uri: str = TESTSRC, online: bool = True) -> int:
    groups = {g.name: g.id for g in station.groups.list()}
    gid = groups.get(group_name) or station.groups.create(GroupIn(name=group_name)).id
    source = next((s for s in station.sources.list() if s.name == name), None) \
        or station.sources.create(SourceIn(name=name, uri_rtsp=uri))
    station.groups.add_source(gid, source.id)
    if online:
        wait_until(lambda: station.sources.get(source.id).status.value == "online", 20,
                   message=f"{name} online")
    return source.id


@pytest.fixture
def rtc(tmp_path):
    """A station with Huawei AK/SK and app id, the API on loopback; room `room1` holds
    test-pattern source `user1`."""
    station = build_station(_settings(tmp_path))
    start_station(station)
    server = _serve(station)
    _add(station, "room1", "user1")
    yield station, server.url.rstrip("/")
    server.stop()
    stop_station(station)


@pytest.fixture
def rtmp_server():
    reason = skip_reason()
    if reason:  # `make test` installs the packages: a missing one is a failure
        pytest.fail(reason)
    server = RtmpServer().start()
    yield server
    server.stop()


def create(url: str, body: dict, **kwargs) -> requests.Response:
    return signed("POST", url + JOBS, body, **kwargs)


def job(url: str, job_id: str) -> dict:
    resp = signed("GET", f"{url}{JOBS}/{job_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_sdk_create_show_delete_and_the_record_it_makes(rtc):
    station, url = rtc
    client = rtc_client(url)
    created = client.create_individual_stream_job(CreateIndividualStreamJobRequest(
        app_id=APP_ID, body=IndividualStreamJobReq(
            room_id="room1", user_id="user1", record_param=RecordParam(record_rule_id="rule-1"))))
    assert created.state == "RUNNING" and created.app_id == APP_ID
    assert (created.room_id, created.user_id, created.is_record_audio, created.video_type,
            created.select_stream_type, created.max_idle_time) == (
        "room1", "user1", True, "CAMERASTREAM", "FHD", 30)
    assert created.record_param.record_rule_id == "rule-1"
    assert created.create_time.endswith("Z") and len(created.create_time) == 24
    assert created.x_request_id

    # the record is an ordinary one: the native dialect lists it under the room's name
    records = requests.get(f"{url}/api/v1/record?tag_name=room1", timeout=10).json()
    assert [Path(r["location"]).name for r in records] == [
        f"s_{created.job_id}_room1_user1.mp4"]
    time.sleep(2.0)
    shown = client.show_individual_stream_job(ShowIndividualStreamJobRequest(
        app_id=APP_ID, job_id=created.job_id))
    assert shown.state == "RUNNING" and shown.job_id == created.job_id

    client.stop_individual_stream_job(StopIndividualStreamJobRequest(
        app_id=APP_ID, job_id=created.job_id))
    shown = client.show_individual_stream_job(ShowIndividualStreamJobRequest(
        app_id=APP_ID, job_id=created.job_id))
    assert (shown.state, shown.stop_reason) == ("STOPPED", "TENANT_STOP") and shown.stop_time
    record = station.recordings.get(records[0]["id"])
    assert record.status.value == "finished" and record.hash_md5 == md5_of(Path(record.location))
    assert decode_video(record.location)["frames"] >= 40

    # the SDK signs with a 1 s clock and no nonce: the same call within a second is a replay
    time.sleep(1.0)
    with pytest.raises(ClientRequestException) as exc:  # a stopped job cannot stop again
        client.stop_individual_stream_job(StopIndividualStreamJobRequest(
            app_id=APP_ID, job_id=created.job_id))
    assert (exc.value.status_code, exc.value.error_code) == (400, "RTC.00001009")


def test_sdk_with_wrong_credentials_or_app_fails_cleanly(rtc):
    station, url = rtc
    body = IndividualStreamJobReq(room_id="room1", user_id="user1", record_param=RecordParam())
    for client in (rtc_client(url, sk="wrong-secret"), rtc_client(url, ak="WRONGAK")):
        with pytest.raises(ClientRequestException) as exc:
            client.create_individual_stream_job(CreateIndividualStreamJobRequest(
                app_id=APP_ID, body=body))
        assert (exc.value.status_code, exc.value.error_code) == (401, "RTC.00001001")
        assert exc.value.request_id
    with pytest.raises(ClientRequestException) as exc:
        rtc_client(url).create_individual_stream_job(CreateIndividualStreamJobRequest(
            app_id="another-app", body=body))
    assert (exc.value.status_code, exc.value.error_code) == (404, "RTC.00001003")
    with pytest.raises(ClientRequestException) as exc:
        rtc_client(url).show_individual_stream_job(ShowIndividualStreamJobRequest(
            app_id=APP_ID, job_id="no-such-job"))
    assert (exc.value.status_code, exc.value.error_code) == (404, "RTC.00001003")
    assert station.recordings.list() == []


def test_every_error_code_and_nothing_stored(rtc):
    station, url = rtc
    _add(station, "100", "200")  # numeric room and user names
    ok = {"room_id": "room1", "user_id": "user1", "record_param": {}}
    cases = [
        (b"{not json", 400, "RTC.00001002"),
        (b"[1, 2]", 400, "RTC.00001002"),
        (b"", 400, "RTC.00001002"),
        ({"user_id": "user1", "record_param": {}}, 400, "RTC.00001005"),
        ({"room_id": "room1", "record_param": {}}, 400, "RTC.00001005"),
        ({"room_id": "room1", "user_id": "user1"}, 400, "RTC.00001005"),
        ({**ok, "publish_param": {}}, 400, "RTC.00001005"),
        ({**ok, "video_type": "WEBCAM"}, 400, "RTC.00001003"),
        ({**ok, "video_type": "SCREENSTREAM"}, 400, "RTC.00001003"),  # not a screen source
        ({**ok, "select_stream_type": "UHD"}, 400, "RTC.00001003"),
        ({**ok, "max_idle_time": 4}, 400, "RTC.00001003"),
        ({**ok, "max_idle_time": 43201}, 400, "RTC.00001003"),
        ({**ok, "max_idle_time": "30"}, 400, "RTC.00001003"),
        ({**ok, "is_record_audio": "yes"}, 400, "RTC.00001003"),
        ({**ok, "room_id": True}, 400, "RTC.00001003"),
        ({**ok, "record_param": "rule"}, 400, "RTC.00001003"),
        ({**ok, "publish_param": {"rtmp_urls": ["http://example.com/live"]}}, 400, "RTC.00001003"),
        ({**ok, "publish_param": {"rtmp_urls": []}}, 400, "RTC.00001003"),
        ({**ok, "room_id": "no-room"}, 400, "RTC.00001003"),
        ({**ok, "user_id": "no-user"}, 400, "RTC.00001003"),
    ]
    for body, status, code in cases:
        resp = create(url, None, raw=body) if isinstance(body, bytes) else create(url, body)
        assert resp.status_code == status, (body, resp.text)
        assert resp.json()["error_code"] == code, (body, resp.text)
        assert resp.headers["X-request-Id"]
    assert station.recordings.list() == [] and station.recordings.tag_names() == []
    with station.catalog.session() as s:
        assert s.exec(select(RtcJob)).all() == []

    # room and user ids may be numbers; the limits of max_idle_time are accepted
    resp = create(url, {"room_id": 100, "user_id": 200, "max_idle_time": 43200, "record_param": {}})
    assert resp.status_code == 201, resp.text
    assert (resp.json()["room_id"], resp.json()["user_id"]) == ("100", "200")
    first = create(url, {**ok, "max_idle_time": 5})
    assert first.status_code == 201
    resp = create(url, ok)
    assert (resp.status_code, resp.json()["error_code"]) == (400, "RTC.00001006")
    # there is no list endpoint; PUT needs record_param; DELETE of a stopped job is JobDone
    resp = signed("GET", url + JOBS)
    assert resp.status_code == 405 and resp.json()["error_code"] == "APIG.0101"
    job_id = first.json()["job_id"]
    resp = signed("PUT", f"{url}{JOBS}/{job_id}", {"record_rule": "x"})
    assert (resp.status_code, resp.json()["error_code"]) == (400, "RTC.00001005")
    resp = signed("PUT", f"{url}{JOBS}/{job_id}/", {"record_param": {"record_rule_id": "r2"}})
    assert resp.status_code == 200 and resp.json()["record_param"] == {"record_rule_id": "r2"}
    assert signed("DELETE", f"{url}{JOBS}/{job_id}").status_code == 204
    resp = signed("DELETE", f"{url}{JOBS}/{job_id}")
    assert (resp.status_code, resp.json()["error_code"]) == (400, "RTC.00001009")
    resp = signed("PUT", f"{url}{JOBS}/{job_id}", {"record_param": {}})
    assert (resp.status_code, resp.json()["error_code"]) == (400, "RTC.00001009")
    assert signed("DELETE", f"{url}{JOBS}/unknown").status_code == 404


def test_select_stream_type_scales_the_record(rtc):
    station, url = rtc
    _add(station, "room2", "user1")  # the same source in a second room: two jobs at once
    jobs = {}
    for room, level in (("room1", "SD"), ("room2", "LD")):
        resp = create(url, {"room_id": room, "user_id": "user1", "select_stream_type": level,
                            "record_param": {}})
        assert resp.status_code == 201, resp.text
        jobs[level] = resp.json()["job_id"]
    time.sleep(3.0)
    heights = {}
    for level, job_id in jobs.items():
        assert signed("DELETE", f"{url}{JOBS}/{job_id}").status_code == 204
        (record,) = [r for r in station.recordings.list() if job_id in r.location]
        video = decode_video(record.location)
        heights[level] = (video["width"], video["height"], video["frames"] > 25)
    assert heights == {"SD": (640, 480, True), "LD": (480, 360, True)}


@pytest.mark.rtsp
def test_is_record_audio_false_leaves_the_audio_out(tmp_path, rtsp_camera_pcma):
    station = build_station(_settings(tmp_path))
    start_station(station)
    server = _serve(station)
    url = server.url.rstrip("/")
    try:
        _add(station, "with", "cam", rtsp_camera_pcma.url)
        _add(station, "without", "cam")
        ids = {room: create(url, {"room_id": room, "user_id": "cam", "record_param": {},
                                  "is_record_audio": room == "with"}).json()["job_id"]
               for room in ("with", "without")}
        time.sleep(3.0)
        audio = {}
        for room, job_id in ids.items():
            assert signed("DELETE", f"{url}{JOBS}/{job_id}").status_code == 204
            (record,) = station.recordings.list(room)
            with av.open(record.location) as container:
                audio[room] = (len(container.streams.audio), len(container.streams.video))
        assert audio == {"with": (1, 1), "without": (0, 1)}
    finally:
        server.stop()
        stop_station(station)


@pytest.mark.rtsp
def test_max_idle_time_stops_the_job_and_keeps_its_file(tmp_path, rtsp_camera_small):
    station = build_station(_settings(tmp_path))
    start_station(station)
    server = _serve(station)
    url = server.url.rstrip("/")
    try:
        _add(station, "room", "cam", rtsp_camera_small.url)
        _add(station, "room", "dead", "rtsp://127.0.0.1:9/nothing", online=False)
        running = create(url, {"room_id": "room", "user_id": "cam", "max_idle_time": 5,
                               "record_param": {}}).json()
        waiting = create(url, {"room_id": "room", "user_id": "dead", "max_idle_time": 5,
                               "record_param": {}}).json()
        assert (running["state"], waiting["state"]) == ("RUNNING", "INIT")
        time.sleep(2.0)
        rtsp_camera_small.stop()
        for job_id in (running["job_id"], waiting["job_id"]):
            done = wait_until(lambda: job(url, job_id)["state"] == "STOPPED" and job(url, job_id),
                              30, message="job stopped by max_idle_time")
            assert done["stop_reason"] == "EXCEED_MAX_IDLE_TIME"
        assert job(url, waiting["job_id"])["start_time"] is None  # never ran
        (record,) = [r for r in station.recordings.list("room") if running["job_id"] in r.location]
        assert record.status.value == "finished"
        assert decode_video(record.location)["frames"] >= 25
    finally:
        server.stop()
        stop_station(station)


def test_publish_param_forwards_live_to_rtmp(rtc, rtmp_server):
    station, url = rtc
    rtmp_url = rtmp_server.url("user1")
    resp = create(url, {"room_id": "room1", "user_id": "user1",
                        "publish_param": {"rtmp_urls": [rtmp_url]}})
    assert resp.status_code == 201, resp.text
    job_id = resp.json()["job_id"]
    # the stream key is a secret: masked in the answer like every credential (#11 item 8)
    assert resp.json()["publish_param"] == {"rtmp_urls": [rtmp_url.rpartition("/")[0] + "/******"]}
    frames = []
    with av.open(rtmp_url, timeout=(15.0, 5.0), options=RTMP_PLAY) as container:
        for frame in container.decode(container.streams.video[0]):
            frames.append((frame.width, frame.height, float(frame.time or 0)))
            if len(frames) >= 50:
                break
    assert {(w, h) for w, h, _ in frames} == {(320, 240)}
    times = [t for _, _, t in frames]
    assert all(b > a for a, b in zip(times, times[1:]))
    assert station.recordings.list() == []  # forwarding only: no record

    # record_param added later: the job starts recording too
    resp = signed("PUT", f"{url}{JOBS}/{job_id}", {"record_param": {"record_rule_id": "r"}})
    assert resp.status_code == 200
    (record,) = station.recordings.list("room1")
    time.sleep(1.5)
    assert signed("DELETE", f"{url}{JOBS}/{job_id}").status_code == 204
    assert station.recordings.get(record.id).status.value == "finished"
    wait_until(lambda: not [t for t in threading.enumerate()
                            if t.name.startswith("forward-")], 10, message="forward closed")


def test_cross_dialect_a_job_stopped_natively_or_by_live_stops_too(rtc):
    station, url = rtc
    job_id = create(url, {"room_id": "room1", "user_id": "user1", "record_param": {}}).json()["job_id"]
    assert requests.get(f"{url}/api/v1/record/running?tag_name=room1", timeout=10).json() is True
    time.sleep(1.0)
    stopped = requests.put(f"{url}/api/v1/record", json={"tag_name": "room1"}, timeout=10).json()
    assert len(stopped) == 1 and stopped[0]["status"] == "finished"
    done = wait_until(lambda: job(url, job_id)["state"] == "STOPPED" and job(url, job_id), 10)
    assert done["stop_reason"] == "TENANT_STOP"

    # the same stream through Huawei Live: STOP there ends this job as well
    job_id = create(url, {"room_id": "room1", "user_id": "user1", "record_param": {}}).json()["job_id"]
    live = signed("POST", f"{url}/v1/any/record/control?action=START",
                  {"publish_domain": "d", "app": "room1", "stream": "user1"})
    assert live.json()["error_code"] == "LIVE.100011022"  # recording already
    time.sleep(1.0)
    assert signed("POST", f"{url}/v1/any/record/control?action=STOP",
                  {"publish_domain": "d", "app": "room1", "stream": "user1"}).status_code == 200
    done = wait_until(lambda: job(url, job_id)["state"] == "STOPPED" and job(url, job_id), 10)
    assert done["stop_reason"] == "TENANT_STOP"
    assert [r.status.value for r in station.recordings.list("room1")] == ["finished", "finished"]

    # the recorder loses the file: the job ends with an internal error
    job_id = create(url, {"room_id": "room1", "user_id": "user1", "record_param": {}}).json()["job_id"]
    (record,) = station.recordings.list("room1", status="recording")
    station.recordings.fail(record.id, "writing the file failed: No space left on device")
    done = wait_until(lambda: job(url, job_id)["state"] == "STOPPED" and job(url, job_id), 10)
    assert done["stop_reason"] == "INTERNAL_ERROR" and "failed" in done["description"]

    # no room left on the disk: nothing starts, an InternalError is said
    station.recordings.disk_floor_bytes = 1 << 60
    resp = create(url, {"room_id": "room1", "user_id": "user1", "record_param": {}})
    assert (resp.status_code, resp.json()["error_code"]) == (500, "RTC.00002001")
    with station.catalog.session() as s:
        assert len(s.exec(select(RtcJob)).all()) == 3


def test_jobs_survive_a_restart_and_a_crash_leaves_them_stopped(tmp_path):
    settings = _settings(tmp_path)
    station = build_station(settings)
    start_station(station)
    server = _serve(station)
    url = server.url.rstrip("/")
    _add(station, "room1", "user1")
    finished = create(url, {"room_id": "room1", "user_id": "user1", "record_param": {}}).json()
    assert signed("DELETE", f"{url}{JOBS}/{finished['job_id']}").status_code == 204
    running = create(url, {"room_id": "room1", "user_id": "user1", "record_param": {}}).json()
    time.sleep(2.0)
    # a crash: the process vanishes without finalizing anything
    server.stop()
    station.recorder.shutdown()
    station.catalog.close()

    station = build_station(settings)
    start_station(station)
    server = _serve(station)
    url = server.url.rstrip("/")
    try:
        again = job(url, running["job_id"])
        assert (again["state"], again["stop_reason"]) == ("STOPPED", "INTERNAL_ERROR")
        assert again["stop_time"] and again["create_time"] == running["create_time"]
        assert job(url, finished["job_id"])["stop_reason"] == "TENANT_STOP"
        (record,) = [r for r in station.recordings.list("room1") if running["job_id"] in r.location]
        assert record.status.value == "interrupted"
        assert record.hash_md5 == md5_of(Path(record.location))
        assert decode_video(record.location)["frames"] >= 25
        resp = signed("DELETE", f"{url}{JOBS}/{running['job_id']}")
        assert resp.json()["error_code"] == "RTC.00001009"
        # a clean stop ends running jobs too, and they come back STOPPED
        _add(station, "room1", "user1")
        third = create(url, {"room_id": "room1", "user_id": "user1", "record_param": {}}).json()
        assert third["state"] == "RUNNING"
    finally:
        server.stop()
        stop_station(station)
    station = build_station(settings)
    start_station(station)
    try:
        row = station.rtc_jobs.get(APP_ID, third["job_id"])
        assert (row.state, row.stop_reason) == ("STOPPED", "INTERNAL_ERROR")
        assert row.description == "the station shut down"
    finally:
        stop_station(station)
