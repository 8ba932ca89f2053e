"""End to end: the real `recording-station --headless` process, a real RTSP camera, a
test-pattern source, recordings made and downloaded through the API and decoded back."""

from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest import TESTSRC, decode_video


class Station:
    def __init__(self, data_dir: Path):
        env = dict(os.environ, RS_CONFIG_FILE=str(data_dir.parent / "config.toml"),
                   PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "--headless", "--port", "0", "--data-dir", str(data_dir),
             "--no-demo"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        assert ready, "the station printed nothing within 30 s"
        first = self.proc.stdout.readline().strip()
        assert first.startswith("API: http://127.0.0.1:"), first
        self.url = first.removeprefix("API: ").rstrip("/")

    def call(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=15) as resp:
                raw = resp.read()
                ctype = resp.headers.get("Content-Type", "")
                return resp.status, (json.loads(raw) if "json" in ctype else raw), resp.headers
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null"), exc.headers

    def wait_online(self, source_id: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.call("GET", f"/api/v1/source/{source_id}")[1]["status"] == "online":
                return
            time.sleep(0.2)
        raise AssertionError(f"source {source_id} never came online")


def _utc(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


@pytest.mark.rtsp
@pytest.mark.timeout(180)
def test_record_rtsp_and_test_pattern_end_to_end(tmp_path: Path, rtsp_camera_1080p):
    station = Station(tmp_path / "station")
    try:
        status, cam, _ = station.call("POST", "/api/v1/source", {"name": "door", "uri_rtsp": rtsp_camera_1080p.url})
        assert status == 200, cam
        status, pattern, _ = station.call("POST", "/api/v1/source", {"name": "pattern", "uri_rtsp": TESTSRC})
        assert status == 200, pattern
        status, groups, _ = station.call("POST", "/api/v1/group", {"name": "entrance"})
        gid = groups[0]["id"]
        for sid in (cam["id"], pattern["id"]):
            assert station.call("POST", f"/api/v1/group/{gid}/source/{sid}/")[1] is True
            station.wait_online(sid)
        time.sleep(2.5)  # let each source buffer a whole GOP of pre-roll

        requested = time.time()
        status, started, _ = station.call("POST", "/api/v1/record",
                                          {"tag_name": "visit", "group_name": "entrance"})
        assert status == 200 and len(started) == 2, started
        time.sleep(4)
        status, stopped, _ = station.call("PUT", "/api/v1/record", {"tag_name": "visit"})
        assert status == 200 and {r["status"] for r in stopped} == {"finished"}, stopped

        for record in stopped:
            begin, end = _utc(record["begin_utc"]), _utc(record["end_utc"])
            # pre-roll: the file starts at the keyframe before the request, at most a GOP early
            assert requested - 2.2 <= begin <= requested + 0.2
            status, body, headers = station.call("GET", f"/api/v1/record/{record['id']}/video/")
            assert status == 200 and headers["Content-Type"] == "video/mp4"
            assert hashlib.md5(body).hexdigest() == record["hash_md5"]
            status, part, headers = station.call("GET", f"/api/v1/record/{record['id']}/video/",
                                                 headers={"Range": "bytes=1000-4999"})
            assert status == 206 and part == body[1000:5000]
            assert headers["Content-Range"] == f"bytes 1000-4999/{len(body)}"
            downloaded = tmp_path / f"{record['id']}.mp4"
            downloaded.write_bytes(body)
            info = decode_video(downloaded)
            assert info["codec"] == "h264" and info["monotonic"] and info["first_pts"] == 0
            assert abs(info["duration"] - (end - begin)) < 1.0, (info, end - begin)
            assert info["duration"] >= 3.5
            if record["source"]["id"] == cam["id"]:
                assert (info["width"], info["height"]) == (1920, 1080)
                assert info["frames"] >= 25 * 3.5

        # A recording running when SIGTERM arrives is finalized before the process exits.
        station.call("POST", "/api/v1/record", {"tag_name": "late", "group_name": "entrance"})
        time.sleep(1.5)
        t0 = time.monotonic()
        station.proc.send_signal(signal.SIGTERM)
        assert station.proc.wait(timeout=5) == 0
        assert time.monotonic() - t0 < 5
    finally:
        if station.proc.poll() is None:
            station.proc.kill()
    db = sqlite3.connect(tmp_path / "station" / "catalog.sqlite3")
    rows = db.execute("SELECT r.status, r.location, r.hash_md5 FROM record r JOIN tag t ON t.id = r.tag_id "
                      "WHERE t.name = 'late'").fetchall()
    assert len(rows) == 2
    for status, location, md5 in rows:
        assert status == "finished"
        assert hashlib.md5(Path(location).read_bytes()).hexdigest() == md5
        assert decode_video(location)["frames"] > 10


def test_version_and_bad_settings(tmp_path: Path):
    out = subprocess.run([sys.executable, "-m", "app", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("recording-station ")
    out = subprocess.run([sys.executable, "-m", "app", "--headless", "--host", "0.0.0.0",
                          "--data-dir", str(tmp_path)], capture_output=True, text=True,
                         env=dict(os.environ, RS_CONFIG_FILE="/nonexistent.toml"), timeout=30)
    assert out.returncode == 2 and "token" in out.stderr
