"""The storage guard on a real station whose data folder (catalog and recordings together, a
new user's default) is a small tmpfs: two sources record until the disk crosses
`disk_floor_mb`; within 2 s both records are `failed` with "disk full", their files decode,
the catalog is intact and committed it all, starting is refused while the disk stays under
the floor, and recording works again once space is freed."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import decode_video
from tests.support.small_disk import small_tmpfs
from tests.support.station_process import StationProcess

SIZE_MB, FLOOR_MB = 13, 10
# 640x360 with a keyframe a second: about 235 KB/s each, two fill the 3 MB above the floor
# (less the catalog) in about 6 s: over 50 frames each, as checked below.
PATTERN = "testsrc://testsrc2?size=640x360&rate=25&gop=1"


@pytest.fixture
def small_disk(tmp_path: Path):
    with small_tmpfs(tmp_path / "disk", f"{SIZE_MB}m") as mount:
        yield mount


def _ok(answer):
    status, body, _headers = answer
    assert status == 200, (status, body)
    return body


def test_two_recordings_stop_cleanly_at_the_floor(tmp_path: Path, small_disk: Path):
    data = small_disk / "station"
    st = StationProcess(tmp_path, env={"RS_DISK_FLOOR_MB": str(FLOOR_MB)},
                        args=["--data-dir", str(data)])
    try:
        _ok(st.call("POST", "/api/v1/group", {"name": "g"}))
        (group,) = _ok(st.call("GET", "/api/v1/group"))
        for name in ("left", "right"):
            source = _ok(st.call("POST", "/api/v1/source", {"name": name, "uri_rtsp": PATTERN}))
            _ok(st.call("POST", f"/api/v1/group/{group['id']}/source/{source['id']}"))
        deadline = time.monotonic() + 20
        while not all(s["status"] == "online" for s in _ok(st.call("GET", "/api/v1/source"))):
            assert time.monotonic() < deadline, "sources never came online"
            time.sleep(0.2)
        storage = _ok(st.call("GET", "/api/v1/storage"))
        assert storage["floor_mb"] == FLOOR_MB and storage["same_filesystem"]
        assert storage["storage"]["free_bytes"] > FLOOR_MB << 20  # room to start
        records = _ok(st.call("POST", "/api/v1/record", {"tag_name": "fill", "group_name": "g"}))
        assert len(records) == 2

        # Watch the disk through the API until it crosses the floor, then the records.
        crossed = None
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, "the records never failed"
            now = time.monotonic()
            free = _ok(st.call("GET", "/api/v1/storage"))["storage"]["free_bytes"]
            if crossed is None and free < FLOOR_MB << 20:
                crossed = now
            shown = [_ok(st.call("GET", f"/api/v1/record/{r['id']}")) for r in records]
            if all(r["status"] != "recording" for r in shown):
                stopped = time.monotonic()
                break
            assert crossed is None or now - crossed < 5, f"still recording: {shown}"
            time.sleep(0.1)
        assert crossed is not None, "stopped before the floor was crossed"
        assert stopped - crossed <= 2.0, f"stopped {stopped - crossed:.1f} s after the crossing"
        for record in shown:
            assert record["status"] == "failed", record
            assert record["error"].startswith("disk full: "), record["error"]
            assert record["end_utc"] and record["hash_md5"] and record["size_bytes"] > 100_000
            decoded = decode_video(record["location"])  # the whole file, not cut off
            assert decoded["frames"] > 50 and decoded["monotonic"], decoded
            assert Path(record["location"]).stat().st_size == record["size_bytes"]
        assert not _ok(st.call("GET", "/api/v1/tag/begin"))  # nothing reports recording
        after = _ok(st.call("GET", "/api/v1/storage"))
        assert after["stopped_reason"] and "Stopped 2 recording(s)" in after["stopped_reason"]
        assert after["storage"]["free_bytes"] > 2 << 20  # stopped well before the disk filled
        assert "database or disk is full" not in st.log_text()

        # the catalog committed everything and is intact
        with sqlite3.connect(f"file:{data / 'catalog.sqlite3'}?mode=ro", uri=True) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            stored = dict(db.execute("SELECT id, status FROM record").fetchall())
        assert stored == {r["id"]: "failed" for r in records}

        # under the floor a new recording is refused ...
        status, body, _ = st.call("POST", "/api/v1/record", {"tag_name": "more", "group_name": "g"})
        assert status == 507, (status, body)
        # ... and once space is freed it works again
        for record in shown:
            _ok(st.call("DELETE", f"/api/v1/record/{record['id']}/file",
                        {"location": record["location"]}))
        assert not _ok(st.call("GET", "/api/v1/storage"))["storage"]["below_floor"]
        again = _ok(st.call("POST", "/api/v1/record", {"tag_name": "again", "group_name": "g"}))
        time.sleep(1.5)
        finished = _ok(st.call("PUT", "/api/v1/record", {"tag_name": "again"}))
        assert [r["status"] for r in finished] == ["finished", "finished"], finished
        for record in again:
            assert decode_video(record["location"])["frames"] >= 20
    finally:
        st.stop()
