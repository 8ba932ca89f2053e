"""Huawei Live record control against a real station on a real socket, driven by the
official `huaweicloudsdklive` SDK (AK/SK signed) and by requests the SDK's own signer signs."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdklive.v1 import RecordControlInfo, RunRecordRequest

from api.server import ApiServer
from app.schemas import GroupIn, SourceIn
from app.station import apply_settings, build_station, start_station, stop_station
from tests.conftest import TESTSRC, decode_video, make_settings, md5_of, wait_until
from tests.support.huawei import AK, PROJECT, SK, CallbackReceiver, live_client, signed

REQUEST_ID = re.compile(r"^[0-9a-f]{32}-\d{10}-\S+$")
DOMAIN = "publish.example.com"


@pytest.fixture
def receiver():
    server = CallbackReceiver(fail_first=1)
    yield server
    server.stop()


@pytest.fixture
def huawei(tmp_path, receiver):
    """A station with Huawei credentials, a callback URL, a 2 s interruption window and
    the API on a loopback socket; group `live` with test-pattern source `cam`."""
    settings = make_settings(tmp_path, huawei_ak=AK, huawei_sk=SK, huawei_project_id=PROJECT,
                             huawei_callback_url=receiver.url, huawei_interrupt_s=2,
                             token="station-token")
    station = build_station(settings)
    start_station(station)
    server = ApiServer(station, "127.0.0.1", 0).start()
    group = station.groups.create(GroupIn(name="live"))
    source = station.sources.create(SourceIn(name="cam", uri_rtsp=TESTSRC))
    station.groups.add_source(group.id, source.id)
    wait_until(lambda: station.sources.get(source.id).status.value == "online", 15,
               message="cam online")
    yield station, server.url.rstrip("/")
    server.stop()
    stop_station(station)


def control(url: str, action: str, app: str = "live", stream: str = "cam", **kwargs):
    body = {"publish_domain": DOMAIN, "app": app, "stream": stream}
    return signed("POST", f"{url}/v1/{PROJECT}/record/control?action={action}", body, **kwargs)


def run_record(client, action: str, app: str = "live", stream: str = "cam"):
    return client.run_record(RunRecordRequest(
        action=action, body=RecordControlInfo(publish_domain=DOMAIN, app=app, stream=stream)))


def native(url: str, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, url + path, headers={"X-Auth-Token": "station-token"},
                            timeout=30, **kwargs)


def test_sdk_start_stop_records_the_stream_and_posts_callbacks(huawei, receiver):
    station, url = huawei
    client = live_client(url)
    started = run_record(client, "START")
    assert REQUEST_ID.match(started.x_request_id)

    (record,) = native(url, "GET", "/api/v1/record?tag_name=live").json()
    assert record["status"] == "recording" and record["source"][0]["name"] == "cam"
    time.sleep(2.0)
    stopped = run_record(client, "STOP")
    assert REQUEST_ID.match(stopped.x_request_id) and stopped.x_request_id != started.x_request_id

    after = station.recordings.get(record["id"])
    assert after.status.value == "finished" and after.hash_md5 == md5_of(Path(after.location))
    assert decode_video(after.location)["frames"] >= 40

    # the first delivery was refused (503): retried with backoff, all four arrive in order
    wait_until(lambda: len(receiver.received) >= 4, 20, message="four callbacks")
    assert receiver.events(record["id"]) == ["RECORD_START", "RECORD_NEW_FILE_START",
                                             "RECORD_FILE_COMPLETE", "RECORD_OVER"]
    assert receiver.attempts == 5
    complete = receiver.received[2]
    assert {k: complete[k] for k in ("project_id", "publish_domain", "app", "stream",
                                     "record_format", "file_size", "width", "height")} == {
        "project_id": PROJECT, "publish_domain": DOMAIN, "app": "live", "stream": "cam",
        "record_format": "MP4", "file_size": after.size_bytes, "width": 320, "height": 240}
    assert complete["job_id"] == complete["asset_id"] == record["id"]
    assert complete["record_duration"] == round(after.duration_s)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", complete["start_time"])
    assert complete["start_time"] <= complete["end_time"]
    # download_url points at the record's video on the station
    video = native(url, "GET", complete["download_url"].removeprefix(url))
    assert video.status_code == 200 and md5_of(video.content) == after.hash_md5


def test_wrong_credentials_are_refused_in_the_apig_shape(huawei):
    station, url = huawei
    for client in (live_client(url, sk="not-the-secret"), live_client(url, ak="OTHERAK")):
        with pytest.raises(ClientRequestException) as exc:
            run_record(client, "START")
        assert exc.value.status_code == 401 and exc.value.error_code == "APIG.0301"
        assert REQUEST_ID.match(exc.value.request_id)

    # a correct signature from 20 minutes ago is outside the clock-skew window
    old = (datetime.now(timezone.utc) - timedelta(minutes=20)).strftime("%Y%m%dT%H%M%SZ")
    resp = control(url, "START", sdk_date=old)
    assert resp.status_code == 401 and "expired" in resp.json()["error_msg"]
    # a body changed after signing no longer matches its signature
    resp = signed("POST", f"{url}/v1/{PROJECT}/record/control?action=START",
                  {"publish_domain": DOMAIN, "app": "live", "stream": "other"},
                  send=b'{"publish_domain": "publish.example.com", "app": "live", "stream": "cam"}')
    assert resp.status_code == 401 and "signature" in resp.json()["error_msg"]
    unsigned = requests.post(f"{url}/v1/{PROJECT}/record/control?action=START", timeout=10,
                             json={"publish_domain": DOMAIN, "app": "live", "stream": "cam"})
    assert unsigned.status_code == 401
    assert unsigned.json()["error_code"] == "APIG.0301"
    assert REQUEST_ID.match(unsigned.headers["X-request-id"])
    assert station.recordings.list() == []  # nothing started by any refused request

    # the station token is accepted as X-Auth-Token, Huawei's token header
    resp = requests.post(f"{url}/v1/{PROJECT}/record/control?action=START", timeout=10,
                         headers={"X-Auth-Token": "station-token"},
                         json={"publish_domain": DOMAIN, "app": "live", "stream": "cam"})
    assert resp.status_code == 200 and resp.content == b""
    assert station.recordings.is_running("live")


def test_every_error_code_and_nothing_stored(huawei):
    station, url = huawei
    cases = [
        # (action, body, status, error_code, error_msg)
        ("PAUSE", {"publish_domain": DOMAIN, "app": "live", "stream": "cam"}, 400,
         "LIVE.100011001", "Request Illegal"),
        ("START", {"app": "live", "stream": "cam"}, 400, "LIVE.100011001", "Request Illegal"),
        ("START", {"publish_domain": DOMAIN, "app": "a" * 129, "stream": "cam"}, 400,
         "LIVE.100011001", "Request Illegal"),
        ("START", {"publish_domain": DOMAIN, "app": "live", "stream": ""}, 400,
         "LIVE.100011001", "Request Illegal"),
        ("START", {"publish_domain": "d" * 256, "app": "live", "stream": "cam"}, 400,
         "LIVE.100011001", "Request Illegal"),
        ("START", {"publish_domain": DOMAIN, "app": "live", "stream": "s" * 513}, 400,
         "LIVE.100011001", "Request Illegal"),
        ("START", {"publish_domain": DOMAIN, "app": 5, "stream": "cam"}, 400,
         "LIVE.100011001", "Request Illegal"),
        ("START", ["not", "an", "object"], 400, "LIVE.100011001", "Request Illegal"),
        # lengths at their maximum pass validation: the app then does not exist
        ("START", {"publish_domain": "d" * 255, "app": "a" * 128, "stream": "s" * 512}, 404,
         "LIVE.100011001", "The resource to access is not exists"),
        ("START", {"publish_domain": DOMAIN, "app": "live", "stream": "nope"}, 404,
         "LIVE.100011001", "The resource to access is not exists"),
        ("STOP", {"publish_domain": DOMAIN, "app": "live", "stream": "cam"}, 404,
         "LIVE.100011001", "The resource to access is not exists"),
    ]
    for action, body, status, code, message in cases:
        resp = signed("POST", f"{url}/v1/{PROJECT}/record/control?action={action}", body)
        assert resp.status_code == status, (action, body, resp.text)
        got = resp.json()
        assert (got["error_code"], got["error_msg"]) == (code, message), (action, body)
        assert REQUEST_ID.match(resp.headers["X-request-id"])
    resp = signed("POST", f"{url}/v1/{PROJECT}/record/control?action=START", raw=b"{oops")
    assert resp.status_code == 400 and resp.json()["error_code"] == "LIVE.100011001"
    assert "app" in signed("POST", f"{url}/v1/{PROJECT}/record/control?action=START",
                           {"publish_domain": DOMAIN, "app": "a" * 129, "stream": "c"}).json()["detail"]
    # the signature covers every query parameter, however it needs encoding
    resp = signed("POST", f"{url}/v1/{PROJECT}/record/control?action=STOP&z=a b&y=ü+~&y=0&x=",
                  {"publish_domain": DOMAIN, "app": "live", "stream": "cam"})
    assert resp.status_code == 404 and resp.json()["error_code"] == "LIVE.100011001"
    # another project than the station's
    resp = signed("POST", f"{url}/v1/other-project/record/control?action=START",
                  {"publish_domain": DOMAIN, "app": "live", "stream": "cam"})
    assert resp.status_code == 404 and resp.json()["error_code"] == "LIVE.100011001"
    # no such API: API Gateway's answer, in JSON, with the request id
    resp = signed("GET", f"{url}/v1/{PROJECT}/record/control")
    assert resp.status_code == 405 and resp.json()["error_code"] == "APIG.0101"
    assert REQUEST_ID.match(resp.headers["X-request-id"])
    assert station.recordings.list() == [] and station.recordings.tag_names() == []

    # configured ingest domains: any other is unknown
    apply_settings(station, station.settings.model_copy(
        update={"huawei_publish_domains": [DOMAIN, "push.example.org"]}))
    resp = signed("POST", f"{url}/v1/{PROJECT}/record/control?action=START",
                  {"publish_domain": "other.example.com", "app": "live", "stream": "cam"})
    assert resp.status_code == 404 and "publish_domain" not in resp.json()["error_msg"]
    assert "other.example.com" in resp.json()["detail"]
    # an algorithm the station does not verify
    resp = requests.post(f"{url}/v1/{PROJECT}/record/control?action=START", timeout=10,
                         headers={"Authorization": f"SDK-HMAC-SM3 Access={AK}, "
                                  "SignedHeaders=host, Signature=00"}, json={})
    assert resp.status_code == 401 and "SDK-HMAC-SHA256" in resp.json()["error_msg"]

    # a source not online is not "being pushed"
    offline = station.sources.create(SourceIn(name="dark", uri_rtsp="rtsp://127.0.0.1:9/none"))
    station.groups.add_source(station.groups.list()[0].id, offline.id)
    resp = control(url, "START", stream="dark")
    assert resp.status_code == 404 and "not being pushed" in resp.json()["detail"]

    assert control(url, "START").status_code == 200
    resp = control(url, "START")
    assert resp.status_code == 400
    assert resp.json() | {"detail": None, "request_id": None} == {
        "error_code": "LIVE.100011022", "error_msg": "LIVE.Record task exist.",
        "detail": None, "request_id": None}
    assert len(station.recordings.list()) == 1
    assert control(url, "STOP").status_code == 200
    resp = signed("POST", f"{url}/v1/{PROJECT}/record/control/?action=STOP",
                  {"publish_domain": DOMAIN, "app": "live", "stream": "cam"})
    assert resp.status_code == 404  # the trailing slash is served too: nothing left to stop


def test_cross_dialect_start_here_stop_natively_and_the_reverse(huawei, receiver):
    station, url = huawei
    assert control(url, "START").status_code == 200
    (record,) = native(url, "GET", "/api/v1/record?tag_name=live").json()
    assert native(url, "GET", "/api/v1/record/running?tag_name=live").json() is True
    time.sleep(1.0)
    stopped = native(url, "PUT", "/api/v1/record", json={"tag_name": "live"}).json()
    assert [r["id"] for r in stopped] == [record["id"]] and stopped[0]["status"] == "finished"
    assert control(url, "STOP").status_code == 404  # nothing records any more
    wait_until(lambda: "RECORD_OVER" in receiver.events(record["id"]), 20, message="RECORD_OVER")
    assert decode_video(stopped[0]["location"])["frames"] > 10

    # started natively under the group's name: Live sees the task and stops it
    native(url, "POST", "/api/v1/record", json={"tag_name": "live", "group_name": "live"})
    assert control(url, "START").json()["error_code"] == "LIVE.100011022"
    time.sleep(1.0)
    assert control(url, "STOP").status_code == 200
    assert native(url, "GET", "/api/v1/record/running?tag_name=live").json() is False
    assert [r.status.value for r in station.recordings.list("live")] == ["finished", "finished"]


def test_a_recording_the_recorder_loses_is_reported_record_failed(huawei, receiver):
    station, url = huawei
    assert control(url, "START").status_code == 200
    (record,) = station.recordings.list("live")
    time.sleep(1.0)
    station.recordings.fail(record.id, "writing the file failed: No space left on device")
    wait_until(lambda: "RECORD_FAILED" in receiver.events(record.id), 20, message="RECORD_FAILED")
    assert receiver.events(record.id) == ["RECORD_START", "RECORD_NEW_FILE_START", "RECORD_FAILED"]
    failed = receiver.received[-1]
    assert "No space left" in failed["error"] and failed["file_size"] > 0
    assert control(url, "STOP").status_code == 404


@pytest.mark.rtsp
def test_recording_ends_after_the_interruption_window_and_stays_ended(tmp_path, rtsp_camera_small):
    settings = make_settings(tmp_path, huawei_interrupt_s=2)
    station = build_station(settings)
    start_station(station)
    server = ApiServer(station, "127.0.0.1", 0).start()
    url = server.url.rstrip("/")
    try:
        group = station.groups.create(GroupIn(name="live"))
        source = station.sources.create(SourceIn(name="cam", uri_rtsp=rtsp_camera_small.url))
        station.groups.add_source(group.id, source.id)
        wait_until(lambda: station.sources.get(source.id).status.value == "online", 20)
        # an open station (loopback, no token, no AK/SK): unsigned requests pass
        resp = requests.post(f"{url}/v1/any-project/record/control?action=START", timeout=10,
                             json={"publish_domain": "any.domain", "app": "live", "stream": "cam"})
        assert resp.status_code == 200, resp.text
        time.sleep(2.0)
        rtsp_camera_small.stop()
        record = wait_until(lambda: next((r for r in station.recordings.list("live")
                                          if r.status.value != "recording"), None), 30,
                            message="the recording ended by the interruption window")
        assert record.status.value == "finished"
        assert decode_video(record.location)["frames"] >= 25  # what was recorded is kept
        rtsp_camera_small.start()
        wait_until(lambda: station.sources.get(source.id).status.value == "online", 30)
        time.sleep(1.0)
        assert not station.recordings.is_running("live")  # no restart by itself
    finally:
        server.stop()
        stop_station(station)
