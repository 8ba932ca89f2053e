"""The database going away never stops recording (docs/scale-out.md): PostgreSQL stopped for
12 s while four sources record, their 3 s files rolling over meanwhile (three times each),
the operator stopping them before it is back. No packet is lost, a new start is refused with a 503 that says why, and
within seconds of the server's return the database itself holds every file the recorder
wrote, with its true state."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from tests.conftest import TESTSRC
from tests.support.media import packet_times
from tests.support.postgres import PostgresServer
from tests.support.station_process import StationProcess

SOURCES = 4
FPS = 25  # TESTSRC's rate
OUTAGE_S = 12  # four 3 s files a source: three rollovers while the server is away


@pytest.fixture
def own_postgres():
    server = PostgresServer().start()  # this test stops it: not the run's shared server
    yield server
    server.stop()


def _call(station, method, path, body=None, expect=200):
    status, data, headers = station.call(method, path, body, timeout=30)
    assert status == expect, (method, path, status, data)
    return data


def test_recording_goes_on_while_postgresql_is_away(tmp_path: Path, own_postgres):
    url = own_postgres.new_database()
    env = {"RS_DATABASE_URL": url, "RS_SEGMENT_S": "3"}
    with StationProcess(tmp_path, env=env) as station:
        group = _call(station, "POST", "/api/v1/group", {"name": "wall"})[0]
        for i in range(SOURCES):
            source = _call(station, "POST", "/api/v1/source", {"name": f"cam-{i}", "uri_rtsp": TESTSRC})
            _call(station, "POST", f"/api/v1/group/{group['id']}/source/{source['id']}/")
        deadline = time.monotonic() + 30
        while any(s["status"] != "online" for s in _call(station, "GET", "/api/v1/source")):
            assert time.monotonic() < deadline, "sources never came online"
            time.sleep(0.2)
        started = _call(station, "POST", "/api/v1/record", {"tag_name": "outage", "group_name": "wall"})
        assert len(started) == SOURCES
        began = time.monotonic()
        time.sleep(2)

        own_postgres.halt()
        halted = time.monotonic()
        time.sleep(1)
        status, refused, headers = station.call("POST", "/api/v1/record",
                                                {"tag_name": "during", "group_name": "wall"})
        assert status == 503 and headers.get("Retry-After"), refused
        assert "catalog" in refused["detail"]
        time.sleep(OUTAGE_S - 2 - (time.monotonic() - halted))
        # the operator stops while the server is still away: the station knows what it records
        stopped = _call(station, "PUT", "/api/v1/record", {"tag_name": "outage"})
        ended = time.monotonic()
        assert len(stopped) == SOURCES and {r["status"] for r in stopped} == {"finished"}
        time.sleep(OUTAGE_S - (time.monotonic() - halted))
        own_postgres.resume()
        back = time.monotonic()

        # every file rolled over and every end kept during the outage reaches the database
        while True:
            with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
                rows = conn.execute("SELECT status, running_key FROM record").fetchall()
            if len(rows) >= SOURCES * 3 and set(rows) == {("finished", None)}:
                break
            assert time.monotonic() - back < 15, rows
            time.sleep(0.25)
        print(f"catalog right {time.monotonic() - back:.1f} s after the server's return")
        assert not _call(station, "GET", "/api/v1/tag/begin")
        records = _call(station, "GET", "/api/v1/tag?name=outage")["records"]
        by_source: dict[int, list[dict]] = {}
        for record in records:
            by_source.setdefault(record["source"]["id"], []).append(record)
        assert len(by_source) == SOURCES
        for files in by_source.values():
            assert len(files) >= 4  # 3 s files over 12 s: rolled over while the server was away
            frames = 0
            for record in files:
                times = packet_times(record["location"], "video")
                assert times and record["hash_md5"]
                steps = [b - a for a, b in zip(times, times[1:])]
                assert max(steps) < 3 / FPS, f"{record['location']}: a gap of {max(steps):.2f} s"
                frames += len(times)
            # every frame of the whole recording is in one of the files
            assert frames >= (ended - began - 1.5) * FPS, (frames, ended - began)
