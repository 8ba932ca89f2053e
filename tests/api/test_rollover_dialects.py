"""File rotation as each dialect sees it, on a real station rolling over every second
(`segment_s=1`) with test-pattern sources: Huawei Live reports RECORD_FILE_COMPLETE and
RECORD_NEW_FILE_START for each file, a SparkRTC job follows its recording to each new record,
Device Connect's `stop` answers with the last file and lists them all. Every file is a
finished record with its own MD5, under the same tag and source."""

from __future__ import annotations

import asyncio
import time

import pytest

from api.app import create_app
from app.dialects.huawei.rtc_jobs import RtcJobSpec
from app.schemas import GroupIn, SourceIn
from app.station import build_station, start_station, stop_station
from tests.support.accounts import dc_as_operator
from tests.api.dc_client import SdkClient
from tests.conftest import TESTSRC, decode_video, make_settings, md5_of, wait_until
from tests.support.huawei import AK, PROJECT, SK, CallbackReceiver

DOMAIN = "publish.example.com"


@pytest.fixture
def receiver():
    server = CallbackReceiver()
    yield server
    server.stop()


@pytest.fixture
def rolling(tmp_path, receiver):
    """Group `live` with test-pattern source `cam`, files rolled over every second."""
    station = build_station(make_settings(
        tmp_path, segment_s=1, huawei_ak=AK, huawei_sk=SK, huawei_project_id=PROJECT,
        huawei_callback_url=receiver.url, huawei_interrupt_s=5, dc_auto_approve=True))
    station.live.replace(station.settings.model_copy(update=dc_as_operator(station)))
    start_station(station)
    group = station.groups.create(GroupIn(name="live"))
    source = station.sources.create(SourceIn(name="cam", uri_rtsp=TESTSRC))
    station.groups.add_source(group.id, source.id)
    wait_until(lambda: station.sources.get(source.id).status.value == "online", 15,
               message="cam online")
    time.sleep(1.0)  # pre-roll
    yield station, source.id
    stop_station(station)


def _files_are_whole(records) -> None:
    assert records and {r.status.value for r in records} == {"finished"}, records
    assert len({r.location for r in records}) == len(records)
    for record in records:
        assert record.hash_md5 == md5_of(open(record.location, "rb").read())
        assert decode_video(record.location)["frames"] >= 1
    for before, after in zip(records, records[1:]):  # one file ends where the next begins
        assert before.end_utc <= after.begin_utc


def test_huawei_live_reports_each_file(rolling, receiver):
    station, _source_id = rolling
    first = station.live_records.start(PROJECT, DOMAIN, "live", "cam", base_url="http://st")
    wait_until(lambda: len(station.recordings.list("live")) >= 3, 20, message="two rollovers")
    last = station.live_records.stop(PROJECT, DOMAIN, "live", "cam")
    records = station.recordings.list("live")
    assert records[0].id == first.id and records[-1].id == last.id
    _files_are_whole(records)

    expected = 2 * len(records) + 2  # START, then per file NEW_FILE_START + FILE_COMPLETE, OVER
    wait_until(lambda: len(receiver.received) >= expected, 20, message="every callback")
    assert receiver.events(first.id) == ["RECORD_START", "RECORD_NEW_FILE_START",
                                         "RECORD_FILE_COMPLETE"]
    for middle in records[1:-1]:
        assert receiver.events(middle.id) == ["RECORD_NEW_FILE_START", "RECORD_FILE_COMPLETE"]
    assert receiver.events(last.id) == ["RECORD_NEW_FILE_START", "RECORD_FILE_COMPLETE",
                                        "RECORD_OVER"]
    complete = [c for c in receiver.received if c["event_type"] == "RECORD_FILE_COMPLETE"]
    assert [c["asset_id"] for c in complete] == [r.id for r in records]
    assert [c["file_size"] for c in complete] == [r.size_bytes for r in records]


def test_a_sparkrtc_job_follows_its_recording_to_each_file(rolling):
    station, _source_id = rolling
    job = station.rtc_jobs.create("app-1", RtcJobSpec(room_id="live", user_id="cam",
                                                      record_param={"record_rule_id": "r"}))
    first = job.record_id
    wait_until(lambda: len(station.recordings.list("live")) >= 3, 20, message="two rollovers")
    running = station.recordings.list("live", status="recording")
    assert len(running) == 1 and running[0].id != first
    # the job runs on, and the catalog names the file it writes now
    wait_until(lambda: station.rtc_jobs.get("app-1", job.job_id).record_id
               == station.recordings.list("live", status="recording")[0].id, 5,
               message="the job to follow the rollover")
    assert station.rtc_jobs.get("app-1", job.job_id).state == "RUNNING"

    stopped = station.rtc_jobs.stop("app-1", job.job_id)
    assert stopped.state == "STOPPED" and stopped.stop_reason == "TENANT_STOP"
    assert station.recordings.list("live", status="recording") == []
    records = station.recordings.list("live")
    assert records[0].id == first and stopped.record_id == records[-1].id
    assert records[0].location.endswith(f"s_{job.job_id}_live_cam.mp4")
    assert all(r.location.startswith(records[0].location[:-4] + "_") for r in records[1:])
    _files_are_whole(records)


@pytest.fixture
async def http(aiohttp_client, rolling):
    station, _source_id = rolling
    return await aiohttp_client(create_app(station))


async def test_device_connect_stop_answers_with_the_last_file_and_lists_them_all(http, rolling):
    station, source_id = rolling
    sdk = SdkClient(http)
    await sdk.authorize()
    await sdk.discover()
    started = await sdk.msr("POST", "record", target=str(source_id))
    assert started["result"] == 0, started
    for _ in range(200):
        if len(await asyncio.to_thread(station.recordings.list, started["tag"])) >= 3:
            break
        await asyncio.sleep(0.1)
    info = await sdk.msr("GET", "mediarecorder")
    assert next(r for r in info["recorders"] if r["id"] == str(source_id))["state"] == "recording"
    stopped = await sdk.msr("PUT", "stop", target=str(source_id))
    assert stopped["result"] == 0, stopped
    records = await asyncio.to_thread(station.recordings.list, started["tag"])
    assert len(records) >= 3 and records[0].id == started["recordId"]
    assert stopped["recordId"] == records[-1].id
    assert [r["recordId"] for r in stopped["records"]] == [r.id for r in records]
    await asyncio.to_thread(_files_are_whole, records)
