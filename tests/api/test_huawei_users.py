"""Huawei AK/SK pairs of user accounts (#26) against a real station on a real socket: pairs
made over the native API by their users, then used by the official Huawei SDKs (Live's
record control, SparkRTC's stream jobs). A viewer's pair may read but not control (403 in
Huawei's shape), an operator's records, a revoked pair or a disabled user's is a 401; the
secret key is answered once and is nowhere else in clear (lists, logs, the catalog file);
the settings' pair is filed under `admin` on start and keeps working, audited as admin; a
scoped user's pair finds no group outside its scope."""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

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
from huaweicloudsdklive.v1 import RecordControlInfo, RunRecordRequest

from api.server import ApiServer
from app.accounts.aksk import AK_LENGTH, CONFIGURED_NAME
from app.schemas import GroupIn, SourceIn
from app.station import build_station, start_station, stop_station
from tests.conftest import TESTSRC, make_settings, wait_until
from tests.support.huawei import AK, APP_ID, PROJECT, SK, live_client, rtc_client
from tests.support.station_process import StationProcess

TOKEN = "station-token"
PASSWORD = "correct horse battery"
DOMAIN = "publish.example.com"


@pytest.fixture
def site(tmp_path):
    """A station with the configured pair, a token, Live's project and RTC's app; group
    `live` holds test-pattern source `cam` (Live app/stream and RTC room/user alike)."""
    settings = make_settings(tmp_path, huawei_ak=AK, huawei_sk=SK, huawei_project_id=PROJECT,
                             huawei_app_id=APP_ID, token=TOKEN)
    station = build_station(settings)
    start_station(station)
    station.accounts.ensure_first_admin()
    server = ApiServer(station, "127.0.0.1", 0).start()
    group = station.groups.create(GroupIn(name="live"))
    source = station.sources.create(SourceIn(name="cam", uri_rtsp=TESTSRC))
    station.groups.add_source(group.id, source.id)
    wait_until(lambda: station.sources.get(source.id).status.value == "online", 15,
               message="cam online")
    yield station, server.url.rstrip("/")
    server.stop()
    stop_station(station)


def native(url: str, method: str, path: str, token: str = TOKEN, **kwargs) -> requests.Response:
    return requests.request(method, url + path, headers={"Authorization": f"Bearer {token}"},
                            timeout=30, **kwargs)


def user_with_pair(station, url: str, name: str, role: str) -> tuple[int, str, str, str]:
    """A user of `role` who signs in and makes their own pair: (id, session, AK, SK)."""
    user = station.accounts.create(name, PASSWORD, role=role, who=None)
    signed_in = requests.post(url + "/api/v1/session", json={"name": name, "password": PASSWORD},
                              timeout=30)
    assert signed_in.status_code == 201, signed_in.text
    session = signed_in.json()["token"]
    made = native(url, "POST", f"/api/v1/user/{user.id}/aksk", session, json={"name": "sdk"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert re.fullmatch(f"[A-Z0-9]{{{AK_LENGTH}}}", body["access_key"])  # like Huawei's
    assert len(body["secret_key"]) == 40 and body["secret_key"].isalnum()
    return user.id, session, body["access_key"], body["secret_key"]


def run_record(client, action: str):
    return client.run_record(RunRecordRequest(
        action=action, body=RecordControlInfo(publish_domain=DOMAIN, app="live", stream="cam")))


def create_job(client):
    return client.create_individual_stream_job(CreateIndividualStreamJobRequest(
        app_id=APP_ID, body=IndividualStreamJobReq(room_id="live", user_id="cam",
                                                   record_param=RecordParam())))


def refused(call) -> ClientRequestException:
    with pytest.raises(ClientRequestException) as exc:
        call()
    return exc.value


def test_a_viewers_pair_reads_but_may_not_control_an_operators_records(site):
    station, url = site
    _, _, viewer_ak, viewer_sk = user_with_pair(station, url, "vera", "viewer")
    _, _, op_ak, op_sk = user_with_pair(station, url, "otto", "operator")

    exc = refused(lambda: run_record(live_client(url, viewer_ak, viewer_sk), "START"))
    assert (exc.status_code, exc.error_code) == (403, "APIG.0302"), exc
    assert "viewer" in exc.error_msg and exc.request_id
    exc = refused(lambda: create_job(rtc_client(url, viewer_ak, viewer_sk)))
    assert (exc.status_code, exc.error_code) == (403, "APIG.0302"), exc
    assert station.recordings.list() == []  # refused before the handler ran

    run_record(live_client(url, op_ak, op_sk), "START")
    (record,) = station.recordings.list()
    assert record.status.value == "recording"
    run_record(live_client(url, op_ak, op_sk), "STOP")
    job = create_job(rtc_client(url, op_ak, op_sk))
    assert job.state == "RUNNING"
    # a job's state is a read: the viewer's pair may see it, not stop it
    shown = rtc_client(url, viewer_ak, viewer_sk).show_individual_stream_job(
        ShowIndividualStreamJobRequest(app_id=APP_ID, job_id=job.job_id))
    assert shown.state == "RUNNING"
    stop = StopIndividualStreamJobRequest(app_id=APP_ID, job_id=job.job_id)
    exc = refused(lambda: rtc_client(url, viewer_ak, viewer_sk).stop_individual_stream_job(stop))
    assert exc.status_code == 403
    rtc_client(url, op_ak, op_sk).stop_individual_stream_job(stop)

    # the trail names the user and the pair, for the refusals too
    entries = station.audit.list(page_size=20, action="start recording").items
    who = {(e.who, e.result) for e in entries}
    assert {(f"vera (ak {viewer_ak})", "403"), (f"otto (ak {op_ak})", "200"),
            (f"otto (ak {op_ak})", "201")} <= who, who
    pairs = station.aksk.list(station.tokens.user_id("otto"))
    assert pairs[0].last_used_utc is not None


def test_a_revoked_pair_or_a_disabled_user_is_refused(site):
    station, url = site
    vera_id, vera_session, ak, sk = user_with_pair(station, url, "vera", "operator")
    _, _, ak2, sk2 = user_with_pair(station, url, "walt", "operator")
    run_record(live_client(url, ak, sk), "START")
    run_record(live_client(url, ak, sk), "STOP")

    # another user's pairs do not exist for a non-admin; the owner revokes their own
    assert native(url, "DELETE", f"/api/v1/user/{vera_id + 1}/aksk/{ak2}",
                  vera_session).status_code == 404
    assert native(url, "GET", f"/api/v1/user/{vera_id + 1}/aksk", vera_session).status_code == 404
    gone = native(url, "DELETE", f"/api/v1/user/{vera_id}/aksk/{ak}", vera_session)
    assert gone.status_code == 200 and gone.json()["access_key"] == ak
    assert native(url, "GET", f"/api/v1/user/{vera_id}/aksk", vera_session).json() == []
    assert native(url, "DELETE", f"/api/v1/user/{vera_id}/aksk/{ak}",
                  vera_session).status_code == 404

    exc = refused(lambda: run_record(live_client(url, ak, sk), "START"))
    assert (exc.status_code, exc.error_code) == (401, "APIG.0301"), exc
    unknown = refused(lambda: run_record(live_client(url, "NOSUCHAK000000000000", sk), "START"))
    assert unknown.error_msg == exc.error_msg
    exc = refused(lambda: create_job(rtc_client(url, ak, sk)))
    assert (exc.status_code, exc.error_code) == (401, "RTC.00001001"), exc

    station.accounts.disable("walt", who=None)  # a disabled user's pairs stop at once
    exc = refused(lambda: run_record(live_client(url, ak2, sk2), "START"))
    assert exc.status_code == 401
    station.accounts.enable("walt", who=None)
    wrong = refused(lambda: run_record(live_client(url, ak2, "a-wrong-secret-key"), "START"))
    assert wrong.status_code == 401
    assert wrong.error_msg == unknown.error_msg  # which part was wrong is not told
    run_record(live_client(url, ak2, sk2), "START")


def test_the_secret_key_is_shown_once_and_stored_encrypted(site, caplog):
    caplog.set_level(logging.DEBUG)
    station, url = site
    user_id, session, ak, sk = user_with_pair(station, url, "vera", "viewer")
    exc = refused(lambda: run_record(live_client(url, ak, sk), "START"))
    assert exc.status_code == 403
    listed = native(url, "GET", f"/api/v1/user/{user_id}/aksk", session)
    assert listed.status_code == 200
    assert [p["access_key"] for p in listed.json()] == [ak] and sk not in listed.text
    assert "secret_key" not in listed.json()[0]
    by_admin = native(url, "GET", f"/api/v1/user/{user_id}/aksk")  # the station token
    assert by_admin.status_code == 200 and sk not in by_admin.text
    audit = native(url, "GET", "/api/v1/audit?page_size=100")
    assert ak in audit.text and sk not in audit.text

    assert sk not in caplog.text
    catalog = Path(station.settings.data_dir) / "catalog.sqlite3"
    stored = b"".join(p.read_bytes() for p in catalog.parent.glob("catalog.sqlite3*"))
    assert ak.encode() in stored and sk.encode() not in stored
    with sqlite3.connect(catalog) as db:
        (value,) = db.execute("SELECT secret_key FROM user_aksk WHERE access_key = ?",
                              (ak,)).fetchone()
    assert value.startswith("enc:v1:")


def test_the_configured_pair_is_filed_under_admin_and_keeps_working(tmp_path):
    """A real `recording-station` process started with the settings' pair: on start it is
    `admin`'s pair `configured pair`; the SDK signing with it still controls recording (the
    site's service credential), audited as admin; the SK is in no log line."""
    env = {"RS_TOKEN": TOKEN, "RS_HUAWEI_AK": AK, "RS_HUAWEI_SK": SK,
           "RS_HUAWEI_PROJECT_ID": PROJECT}
    with StationProcess(tmp_path, env=env) as st:
        users = st.expect("GET", "/api/v1/user", token=TOKEN)
        (admin,) = [u for u in users if u["name"] == "admin"]
        pairs = st.expect("GET", f"/api/v1/user/{admin['id']}/aksk", token=TOKEN)
        assert [(p["access_key"], p["name"]) for p in pairs] == [(AK, CONFIGURED_NAME)]
        # no such stream on this station: the 404 comes from the handler, past the role check
        exc = refused(lambda: run_record(live_client(st.url, AK, SK), "STOP"))
        assert (exc.status_code, exc.error_code) == (404, "LIVE.100011001"), exc
        entries = st.expect("GET", "/api/v1/audit?dialect=huawei-live", token=TOKEN)["items"]
        assert [e["who"] for e in entries] == [f"admin (ak {AK})"]
        catalog = st.data_dir / "catalog.sqlite3"
        stored = b"".join(p.read_bytes() for p in catalog.parent.glob("catalog.sqlite3*"))
        assert AK.encode() in stored and SK.encode() not in stored
    assert SK not in st.log_text()


def test_a_scoped_users_pair_finds_no_group_outside_its_scope(site):
    """A source outside a user's scope does not exist for that user: Live's app, RTC's room
    and a job in that room answer exactly what an unknown one does."""
    station, url = site
    other = station.groups.create(GroupIn(name="yard"))
    _, _, op_ak, op_sk = user_with_pair(station, url, "otto", "operator")
    user = station.accounts.create("sam", PASSWORD, role="operator", scope=[other.id], who=None)
    pair = station.aksk.create(user.id, "sdk")
    live, rtc = live_client(url, pair.access_key, pair.secret_key), \
        rtc_client(url, pair.access_key, pair.secret_key)

    out_of_scope = refused(lambda: run_record(live, "START"))
    unknown = refused(lambda: live.run_record(RunRecordRequest(
        action="START", body=RecordControlInfo(publish_domain=DOMAIN, app="nope", stream="cam"))))
    assert (out_of_scope.status_code, out_of_scope.error_code) == (404, "LIVE.100011001")
    assert out_of_scope.error_msg == unknown.error_msg
    assert station.recordings.list() == []
    exc = refused(lambda: create_job(rtc))
    assert (exc.status_code, exc.error_code) == (400, "RTC.00001003"), exc

    job = create_job(rtc_client(url, op_ak, op_sk))  # otto sees every group
    show = ShowIndividualStreamJobRequest(app_id=APP_ID, job_id=job.job_id)
    stop = StopIndividualStreamJobRequest(app_id=APP_ID, job_id=job.job_id)
    for call in (lambda: rtc.show_individual_stream_job(show),
                 lambda: rtc.stop_individual_stream_job(stop)):
        exc = refused(call)
        assert (exc.status_code, exc.error_code) == (404, "RTC.00001003"), exc
    assert rtc_client(url, op_ak, op_sk).show_individual_stream_job(show).state == "RUNNING"
