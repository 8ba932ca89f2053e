"""The station on a PostgreSQL catalog, end to end, as an operator points it at a server
(`RS_DATABASE_URL=postgresql+psycopg://…`): it records, serves the file with the MD5 it
stored, and after being killed mid-recording it recovers its records from the server."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

import psycopg

from tests.conftest import TESTSRC, decode_video
from tests.support.station_process import StationProcess


def _online(station: StationProcess, source_id: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if station.call("GET", f"/api/v1/source/{source_id}/")[1]["status"] == "online":
            return
        time.sleep(0.1)
    raise AssertionError("the source never came online")


def test_records_and_recovers_on_a_postgresql_catalog(tmp_path: Path, postgres_server):
    url = postgres_server.new_database()
    env = {"RS_DATABASE_URL": url}
    with StationProcess(tmp_path, env=env) as station:
        source = station.call("POST", "/api/v1/source", {"name": "pattern", "uri_rtsp": TESTSRC})[1]
        group = station.call("POST", "/api/v1/group", {"name": "lobby"})[1][0]
        assert station.call("POST", f"/api/v1/group/{group['id']}/source/{source['id']}/")[1] is True
        _online(station, source["id"])
        time.sleep(1.2)
        status, started, _ = station.call("POST", "/api/v1/record",
                                          {"model": "Source", "tag_name": "day", "group_name": "lobby"})
        assert status == 200 and started[0]["status"] == "recording", started
        time.sleep(2)
        stopped = station.call("PUT", "/api/v1/record", {"model": "Source", "tag_name": "day"})[1]
        record = stopped[0]
        assert record["status"] == "finished"
        status, data, _ = station.request("GET", f"/api/v1/record/{record['id']}/video/")
        assert status == 200 and hashlib.md5(data).hexdigest() == record["hash_md5"]
        assert decode_video(record["location"])["frames"] >= 40

        # a second recording, and the station killed in the middle of it
        night = station.call("POST", "/api/v1/record",
                             {"model": "Source", "tag_name": "night", "group_name": "lobby"})[1][0]
        time.sleep(2)
        os.kill(station.proc.pid, signal.SIGKILL)
        station.proc.wait(10)

    # the row lives in PostgreSQL, not in a file of the data folder
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        assert conn.execute("SELECT status FROM record WHERE id = %s", (night["id"],)).fetchone() \
            == ("recording",)
    assert not list((tmp_path / "station").glob("*.sqlite3"))

    with StationProcess(tmp_path, env=env) as station:
        recovered = station.call("GET", f"/api/v1/record/{night['id']}/")[1]
        assert recovered["status"] == "interrupted" and recovered["hash_md5"]
        assert recovered["end_utc"] is not None
        status, data, _ = station.request("GET", f"/api/v1/record/{night['id']}/video/")
        assert hashlib.md5(data).hexdigest() == recovered["hash_md5"]
        finished = station.call("GET", f"/api/v1/record/{record['id']}/")[1]
        assert finished["status"] == "finished" and finished["hash_md5"] == record["hash_md5"]
