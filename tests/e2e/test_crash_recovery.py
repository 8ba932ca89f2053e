"""SIGKILL of a real station recording 8 sources: every file decodes to within 1 s of the
kill (fragments reach the OS every half second, not only at keyframes: the cameras here have
a 2 s GOP), and after a restart on the same data folder every record is `interrupted` with
its real end time and the MD5 of its file, and the catalog passes `PRAGMA integrity_check`."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

import av
import pytest

from tests.conftest import TESTSRC, _camera
from tests.support.clip import cached_clip
from tests.support.station_process import StationProcess

pytestmark = pytest.mark.rtsp
CAMERAS, PATTERNS = 6, 2


def _utc(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


def _last_frame_s(path: str) -> float:
    with av.open(path) as container:
        stream = container.streams.video[0]
        return max(float(f.pts * stream.time_base) for f in container.decode(stream))


@pytest.mark.timeout(240)
def test_sigkill_with_8_recordings_loses_under_a_second_and_recovers(tmp_path: Path):
    clip = cached_clip(60, width=640, height=360, fps=25, gop_seconds=2, bitrate_kbps=1000)
    camera = _camera(clip=clip, paths=[f"/cam{i}" for i in range(CAMERAS)]).start()
    env = {"RS_DISK_FLOOR_MB": "0", "RS_FSYNC_S": "2"}
    station = StationProcess(tmp_path, env=env)
    try:
        uris = camera.urls + [TESTSRC] * PATTERNS
        status, group, _ = station.call("POST", "/api/v1/group", {"name": "all"})
        assert status == 200, group
        ids = []
        for i, uri in enumerate(uris):
            status, source, _ = station.call("POST", "/api/v1/source",
                                             {"name": f"s{i}", "uri_rtsp": uri})
            assert status == 200, source
            ids.append(source["id"])
            status, added, _ = station.call("POST", f"/api/v1/group/{group[0]['id']}/source/"
                                                    f"{source['id']}/")
            assert added is True
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(
                station.call("GET", f"/api/v1/source/{i}")[1]["status"] != "online" for i in ids):
            time.sleep(0.2)
        time.sleep(2.5)
        status, records, _ = station.call("POST", "/api/v1/record",
                                          {"tag_name": "crash", "group_name": "all"})
        assert status == 200 and len(records) == len(uris), records
        time.sleep(5)
        killed_at = time.time()
        os.kill(station.proc.pid, signal.SIGKILL)
        station.proc.wait()
    finally:
        station.stop()
        camera.stop()

    # what the killed process left: decodable up to the last 1 s
    lost = [killed_at - _utc(r["begin_utc"]) - _last_frame_s(r["location"]) for r in records]
    print("seconds lost at the end of each file:", [round(x, 2) for x in lost])
    assert max(lost) <= 1.0, lost

    station = StationProcess(tmp_path, env=env)  # the same data folder
    try:
        status, after, _ = station.call("GET", "/api/v1/record?tag_name=crash")
        assert status == 200 and len(after) == len(records), after
    finally:
        station.stop()
    for record in after:
        assert record["status"] == "interrupted", record
        data = Path(record["location"]).read_bytes()
        assert record["hash_md5"] == hashlib.md5(data).hexdigest()
        assert killed_at - 1.0 <= _utc(record["end_utc"]) <= killed_at + 0.5, record
    db = sqlite3.connect(station.data_dir / "catalog.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()
