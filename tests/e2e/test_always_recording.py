"""Recording by itself, always (#23 items 1 and 2), on real station processes and the real
RTSP test camera: a `continuous` source records after start with nobody asking; after a
SIGKILL the interrupted record is `interrupted` with its MD5 and a new one records within
5 s of the restarted station's camera being online; a tag a client starts and stops on a
continuously recorded source is its own file while the continuous file goes on without a
gap; a schedule whose slot begins a few seconds from now starts recording at the boundary."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from app.record_modes import DAYS, local_zone
from tests.conftest import _camera, wait_until
from tests.support.double_recording import assert_exact_stretch
from tests.support.station_process import StationProcess

pytestmark = [pytest.mark.rtsp, pytest.mark.system]
ENV = {"RS_DISK_FLOOR_MB": "0", "RS_FSYNC_S": "1"}


def _running(station: StationProcess, tag: str) -> list[dict]:
    status, records, _ = station.call("GET", f"/api/v1/record?tag_name={tag}")
    assert status == 200, records
    return [r for r in records if r["status"] == "recording"]


def _online(station: StationProcess, source_id: int) -> bool:
    return station.call("GET", f"/api/v1/source/{source_id}")[1]["status"] == "online"


@pytest.fixture
def camera():
    cam = _camera(paths=["/cam"]).start()
    yield cam
    cam.stop()


@pytest.mark.timeout(180)
def test_continuous_records_by_itself_and_again_within_5s_after_sigkill(tmp_path: Path, camera):
    station = StationProcess(tmp_path, env=ENV)
    try:
        status, source, _ = station.call("POST", "/api/v1/source", {
            "name": "door", "uri_rtsp": camera.urls[0], "record_mode": "continuous"})
        assert status == 200 and source["record_mode"] == "continuous", source
        (first,) = wait_until(lambda: _running(station, "continuous"), 20,
                              message="continuous recording")
        assert first["source"][0]["id"] == source["id"]
        time.sleep(2)
        os.kill(station.proc.pid, signal.SIGKILL)
        station.proc.wait()
    finally:
        station.stop()

    station = StationProcess(tmp_path, env=ENV)  # the same data folder, nobody asks
    try:
        online_at = wait_until(lambda: _online(station, source["id"]) and time.monotonic(), 30,
                               message="the camera online")
        (again,) = wait_until(lambda: _running(station, "continuous"), 10,
                              message="recording again")
        assert time.monotonic() - online_at <= 5.0
        assert again["id"] != first["id"]
        status, killed, _ = station.call("GET", f"/api/v1/record/{first['id']}")
        assert killed["status"] == "interrupted", killed
        assert killed["hash_md5"] == hashlib.md5(Path(killed["location"]).read_bytes()).hexdigest()
    finally:
        station.stop()


@pytest.mark.timeout(180)
def test_a_tag_on_a_continuous_source_is_its_own_file_and_the_continuous_one_has_no_gap(
        tmp_path: Path, camera):
    station = StationProcess(tmp_path, env=ENV)
    try:
        status, source, _ = station.call("POST", "/api/v1/source", {
            "name": "hall", "uri_rtsp": camera.urls[0], "record_mode": "continuous",
            "record_tag": "always"})
        assert status == 200, source
        wait_until(lambda: _running(station, "always"), 20, message="the continuous recording")
        status, group, _ = station.call("POST", "/api/v1/group", {"name": "hall"})
        station.call("POST", f"/api/v1/group/{group[0]['id']}/source/{source['id']}/")
        time.sleep(2)
        status, started, _ = station.call("POST", "/api/v1/record",
                                          {"tag_name": "visit", "group_name": "hall"})
        assert status == 200, started
        time.sleep(3)
        status, stopped, _ = station.call("PUT", "/api/v1/record", {"tag_name": "visit"})
        assert status == 200 and stopped[0]["status"] == "finished", stopped
        time.sleep(2)
        (continuous,) = _running(station, "always")  # never cut by the tag's stop
    finally:
        station.stop()
    assert_exact_stretch(stopped[0]["location"], continuous["location"])


@pytest.mark.timeout(120)
def test_a_schedule_slot_starts_recording_at_its_boundary_in_real_time(tmp_path: Path, camera):
    zone = local_zone()
    station = StationProcess(tmp_path, env=ENV)
    try:
        status, source, _ = station.call("POST", "/api/v1/source", {
            "name": "gate", "uri_rtsp": camera.urls[0]})
        assert status == 200, source
        wait_until(lambda: _online(station, source["id"]), 20, message="the camera online")
        # the slot is set once the camera is online, so it can begin 4 s from now (set at
        # the source's creation, it had to leave room for the station's start)
        begin = datetime.now(zone).replace(microsecond=0) + timedelta(seconds=4)
        end = begin + timedelta(seconds=4)
        slot = {"days": [DAYS[begin.weekday()]], "from": begin.strftime("%H:%M:%S"),
                "to": end.strftime("%H:%M:%S"), "mode": "continuous"}
        if end.date() != begin.date():
            pytest.skip("the slot would cross midnight")
        status, changed, _ = station.call("PUT", f"/api/v1/source/{source['id']}", {
            "record_mode": "schedule", "record_schedule": [slot]})
        assert status == 200, changed
        assert not _running(station, "continuous")  # before its slot
        (record,) = wait_until(lambda: _running(station, "continuous"), 25,
                               message="the slot's recording")
        started = datetime.now(zone)
        assert begin - timedelta(seconds=1) <= started <= begin + timedelta(seconds=3)
        wait_until(lambda: not _running(station, "continuous"), 20, message="the slot's end")
        assert datetime.now(zone) >= end - timedelta(seconds=1)
        status, done, _ = station.call("GET", f"/api/v1/record/{record['id']}")
        assert done["status"] == "finished"
    finally:
        station.stop()
