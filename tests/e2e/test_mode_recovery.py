"""A mode-driven source records again by itself once what stopped it is over (#23 item 2), on
real station processes: the storage guard stopped it below the disk floor (the source says
it waits, and why) and it records again within 5 s of space being back; the catalog's
server went away (its record stopped meanwhile) and it records again within 5 s of the
server's return. Each waits on the station's API, never a fixed time."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import TESTSRC, wait_until
from tests.support.postgres import PostgresServer
from tests.support.small_disk import small_tmpfs
from tests.support.station_process import StationProcess

pytestmark = [pytest.mark.system]
SIZE_MB, FLOOR_MB = 24, 10


def _ok(answer):
    status, body, _headers = answer
    assert status == 200, (status, body)
    return body


def _recording(station: StationProcess, tag: str = "continuous") -> list[dict]:
    status, records, _ = station.call("GET", f"/api/v1/record?tag_name={tag}", timeout=10)
    return [r for r in records if r["status"] == "recording"] if status == 200 else []


def _continuous_source(station: StationProcess) -> dict:
    source = _ok(station.call("POST", "/api/v1/source", {
        "name": "door", "uri_rtsp": TESTSRC, "record_mode": "continuous"}))
    wait_until(lambda: _recording(station), 20, message="the continuous recording")
    return source


def test_records_again_once_the_disk_is_back_above_the_floor(tmp_path: Path):
    with small_tmpfs(tmp_path / "disk", f"{SIZE_MB}m") as disk:
        station = StationProcess(tmp_path, env={"RS_DISK_FLOOR_MB": str(FLOOR_MB)},
                                 args=["--data-dir", str(disk / "station")])
        try:
            source = _continuous_source(station)
            (first,) = _recording(station)
            # another program takes the space down to 1 MB under the floor
            free = shutil.disk_usage(disk).free
            filler = disk / "another-program.bin"
            with open(filler, "wb") as fh:
                fh.truncate(0)
                fh.write(os.urandom(free - ((FLOOR_MB - 1) << 20)))
            stopped = wait_until(lambda: (r := _ok(station.call("GET", f"/api/v1/record/{first['id']}")))
                                 ["status"] != "recording" and r, 10,
                                 message="the storage guard's stop")
            assert stopped["status"] == "failed", stopped
            wait_until(lambda: _ok(station.call("GET", f"/api/v1/source/{source['id']}"))
                       ["mode_state"] == "waiting: disk below the floor", 5,
                       message="the source to say why it waits")
            assert not _recording(station)

            filler.unlink()  # space is back above the floor
            freed = time.monotonic()
            (again,) = wait_until(lambda: _recording(station), 5, message="recording again")
            assert time.monotonic() - freed <= 5.0 and again["id"] != first["id"]
            # the record is listed as soon as it is stored, a moment before the keeper's start
            # returns and it forgets why the source waited
            wait_until(lambda: _ok(station.call("GET", f"/api/v1/source/{source['id']}"))
                       ["mode_state"] == "recording", 5, message="the source to say it records")
            assert "records again by its mode" in station.log_text()
        finally:
            station.stop()


@pytest.fixture
def own_postgres():
    server = PostgresServer().start()  # this test stops it: not the run's shared server
    yield server
    server.stop()


def test_records_again_once_the_catalog_is_back(tmp_path: Path, own_postgres):
    url = own_postgres.new_database()
    with StationProcess(tmp_path, env={"RS_DATABASE_URL": url, "RS_DISK_FLOOR_MB": "0"}) \
            as station:
        source = _continuous_source(station)
        (first,) = _recording(station)
        own_postgres.halt()
        # the operator stops the mode's tag by name while the server is away: it stops (the
        # station knows what it records), and nothing can start again without the catalog
        stopped = _ok(station.call("PUT", "/api/v1/record", {"tag_name": "continuous"},
                                   timeout=30))
        assert [r["id"] for r in stopped] == [first["id"]]
        assert stopped[0]["status"] == "finished"
        status, refused, _ = station.call("POST", "/api/v1/record/sources", {
            "tag_name": "probe", "source_ids": [source["id"]]}, timeout=30)
        assert status == 503, (status, refused)
        # the keeper's starts meet the same refusal, and it says so once
        wait_until(lambda: "recording waits: the catalog is away" in station.log_text(), 10,
                   message="the keeper's refused start")
        own_postgres.resume()
        back = time.monotonic()
        again = wait_until(lambda: [r for r in _recording(station) if r["id"] != first["id"]], 10,
                           message="recording again")
        assert time.monotonic() - back <= 5.0, time.monotonic() - back
        # one record, still the one (its begin moves to its first keyframe once the file has it)
        assert len(again) == 1 and [r["id"] for r in _recording(station)] == [again[0]["id"]]
        wait_until(lambda: "records again by its mode" in station.log_text(), 5,
                   message="the log to say so")
