"""A disk filled by another program past the floor: a real station whose data folder
(catalog and recordings together, a new user's default) is a 12 MB tmpfs records one test
pattern; then another program (this test) takes every free byte at once, so the catalog can
no longer commit either. The record must leave `recording` within a few seconds and never
show `recording` while its file no longer grows; once the space is freed the catalog catches
up (the API and a direct read of the SQLite file agree), is intact, and a new recording
starts."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import decode_video
from tests.support.small_disk import decodable_frames, fill_up, small_tmpfs
from tests.support.station_process import StationProcess

PATTERN = "testsrc://testsrc2?size=320x240&rate=25&gop=1"


@pytest.fixture
def small_disk(tmp_path: Path):
    with small_tmpfs(tmp_path / "disk", "12m") as mount:
        yield mount


def _ok(answer):
    status, body, _headers = answer
    assert status == 200, (status, body)
    return body



def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return -1



def _stored(db: Path, record_id: str) -> tuple:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT status, hash_md5, size_bytes, running_key FROM record "
                            "WHERE id = ?", (record_id,)).fetchone()


def test_no_stale_recording_when_another_program_fills_the_disk(tmp_path: Path, small_disk: Path):
    data = small_disk / "station"
    st = StationProcess(tmp_path, env={"RS_DISK_FLOOR_MB": "1"}, args=["--data-dir", str(data)])
    try:
        _ok(st.call("POST", "/api/v1/group", {"name": "g"}))
        (group,) = _ok(st.call("GET", "/api/v1/group"))
        source = _ok(st.call("POST", "/api/v1/source", {"name": "cam", "uri_rtsp": PATTERN}))
        _ok(st.call("POST", f"/api/v1/group/{group['id']}/source/{source['id']}"))
        deadline = time.monotonic() + 20
        while _ok(st.call("GET", f"/api/v1/source/{source['id']}"))["status"] != "online":
            assert time.monotonic() < deadline, "the source never came online"
            time.sleep(0.2)
        (record,) = _ok(st.call("POST", "/api/v1/record", {"tag_name": "t", "group_name": "g"}))
        time.sleep(2.0)
        assert _size(record["location"]) > 0

        filler = fill_up(small_disk)
        filled_at = time.monotonic()
        # Watch the API and the file side by side: `recording` only while the file grows.
        last_size, last_growth, left_recording = _size(record["location"]), filled_at, None
        while time.monotonic() - filled_at < 8:
            now = _ok(st.call("GET", f"/api/v1/record/{record['id']}"))
            size = _size(record["location"])
            if size != last_size:
                last_size, last_growth = size, time.monotonic()
            if now["status"] == "recording":
                assert left_recording is None, "the record went back to recording"
                assert time.monotonic() - last_growth < 3.0, \
                    "the API says recording but the file has not grown for 3 s"
            elif left_recording is None:
                left_recording = time.monotonic() - filled_at
                final = now
            time.sleep(0.2)
        assert left_recording is not None and left_recording < 5.0, left_recording
        assert final["status"] == "failed", final
        assert final["end_utc"] and final["error"], final
        assert _ok(st.call("GET", "/api/v1/record/running?tag_name=t")) is False
        assert "database or disk is full" in st.log_text()  # the catalog really refused

        # Space again: the catalog catches up with what the API has shown all along.
        filler.unlink()
        db = data / "catalog.sqlite3"
        deadline = time.monotonic() + 10
        while _stored(db, record["id"])[0] != "failed":
            assert time.monotonic() < deadline, f"the catalog never caught up: {_stored(db, record['id'])}"
            time.sleep(0.2)
        shown = _ok(st.call("GET", f"/api/v1/record/{record['id']}"))
        assert _stored(db, record["id"]) == (shown["status"], shown["hash_md5"],
                                             shown["size_bytes"], None)
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert decodable_frames(record["location"]) >= 25

        (again,) = _ok(st.call("POST", "/api/v1/record", {"tag_name": "after", "group_name": "g"}))
        time.sleep(1.5)
        (done,) = _ok(st.call("PUT", "/api/v1/record", {"tag_name": "after"}))
        assert done["status"] == "finished", done
        assert decode_video(done["location"])["frames"] >= 10
        assert _stored(db, again["id"])[0] == "finished"
    finally:
        st.stop()
