"""Every dialect's start and stop for a tag works as before while a source records by
itself (#23 item 1): on a source in `continuous` mode, read from the real RTSP test camera, a
Huawei Live START/STOP (signed as the SDK signs) and a Device Connect record/stop (as the
JavaScript SDK sends them) each give their own file, the very packets of a stretch of the
continuous file, byte for byte, while the continuous record goes on, without a gap."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from api.server import ApiServer
from app.schemas import GroupIn, SourceIn
from app.station import build_station, start_station, stop_station
from tests.support.accounts import dc_as_operator
from tests.api.dc_client import SdkClient
from tests.conftest import _camera, make_settings, wait_until
from tests.support.double_recording import assert_exact_stretch
from tests.support.huawei import AK, PROJECT, SK, signed

pytestmark = [pytest.mark.rtsp, pytest.mark.system]
DOMAIN = "publish.example.com"


@pytest.fixture(scope="module")
def camera():
    cam = _camera(paths=["/cam"]).start()
    yield cam
    cam.stop()


@pytest.fixture
def continuous(tmp_path, camera):
    """A station whose source `cam` (group `live`) records continuously under `always`; the
    API on a loopback socket, Huawei Live and Device Connect (auto-approved) configured."""
    station = build_station(make_settings(
        tmp_path, huawei_ak=AK, huawei_sk=SK, huawei_project_id=PROJECT,
        dc_auto_approve=True, fsync_s=1))
    station.live.replace(station.settings.model_copy(update=dc_as_operator(station)))
    start_station(station)
    server = ApiServer(station, "127.0.0.1", 0).start()
    group = station.groups.create(GroupIn(name="live"))
    source = station.sources.create(SourceIn(name="cam", uri_rtsp=camera.urls[0],
                                             record_mode="continuous", record_tag="always"))
    station.groups.add_source(group.id, source.id)
    record = wait_until(lambda: station.recordings.running_record("always", source.id), 20,
                        message="the continuous recording")
    time.sleep(1.5)  # a stretch of continuous file before the tag
    wait_until(lambda: station.sources.get(source.id).status == "online", 20,
               message="the camera online (a dialect's start needs it)")
    try:
        yield station, server.url.rstrip("/"), source.id, record.id
    finally:
        server.stop()
        stop_station(station)


def _continuous_went_on(station, source_id: int, record_id: str) -> str:
    """The continuous record is the same one, still recording; finalized at the station's
    stop (the caller's), its file is the one to compare."""
    running = station.recordings.running_record("always", source_id)
    assert running is not None and running.id == record_id, running
    return running.location


def test_huawei_live_start_stop_beside_a_continuous_recording(continuous):
    station, url, source_id, record_id = continuous
    body = {"publish_domain": DOMAIN, "app": "live", "stream": "cam"}
    control = f"{url}/v1/{PROJECT}/record/control?action="
    started = signed("POST", control + "START", body)
    assert started.status_code == 200, started.text
    (record,) = station.recordings.client_running(source_id)
    assert record.tag_name == "live"
    time.sleep(2.5)
    stopped = signed("POST", control + "STOP", body)
    assert stopped.status_code == 200, stopped.text
    assert station.recordings.get(record.id).status == "finished"
    continuous_file = _continuous_went_on(station, source_id, record_id)
    stop_station_now(station)
    assert_exact_stretch(station.recordings.get(record.id).location, continuous_file)


def test_device_connect_record_stop_beside_a_continuous_recording(continuous):
    station, url, source_id, record_id = continuous

    async def record_and_stop() -> tuple[dict, dict]:
        async with aiohttp.ClientSession(base_url=url) as http:
            sdk = SdkClient(http)
            await sdk.authorize()
            await sdk.discover()
            info = await sdk.msr("GET", "mediarecorder")
            # the mode's recording is not the recorder's: it is inactive, as before
            assert next(r for r in info["recorders"]
                        if r["id"] == str(source_id))["state"] == "inactive", info
            started = await sdk.msr("POST", "record", target=str(source_id))
            assert started["result"] == 0, started
            await asyncio.sleep(2.5)
            stopped = await sdk.msr("PUT", "stop", target=str(source_id))
            assert stopped["result"] == 0, stopped
            return started, stopped

    started, stopped = asyncio.run(record_and_stop())
    assert stopped["recordId"] == started["recordId"]
    assert station.recordings.get(started["recordId"]).status == "finished"
    continuous_file = _continuous_went_on(station, source_id, record_id)
    stop_station_now(station)
    assert_exact_stretch(station.recordings.get(started["recordId"]).location, continuous_file)


def stop_station_now(station) -> None:
    """Finalize the continuous file (the fixture's own stop then finds nothing to do)."""
    station.modes.stop()
    station.recordings.stop_all()
