"""Issue #21 item 3, attacked on real station processes: exports nobody reads.

The review's attack: clients ask for exports and never read the answer. Each left a work file
that counted against nothing; on a small disk, retention then deleted the very footage being
exported, and the storage guard stopped the running recording. What must hold now:
- exports being cut or sent are capped per client (429; all of loopback is one client),
  whatever route asks (a source's range, a bookmark's, a zip), until their file has been sent
  (the cap in all, 503, and the byte caps: tests/security/test_export_limits.py);
- a reader that takes nothing, or too little, for `export_stall_s` is cut off and its work
  file removed; so is the file of a reader that leaves half-way, and the files a station had
  when it stopped (or crashed: removed at start);
- an export's work file is reserved against the disk floor (507 when it does not fit), and
  below the floor the storage guard removes copies of footage, never footage, nor does it stop
  the recording.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.conftest import decode_video, wait_until
from tests.support.small_disk import small_tmpfs
from tests.support.station_process import StationProcess

# 1280x720, every frame a keyframe: about 1 MB/s, so a few seconds make an export larger than
# what loopback's socket buffers take from a reader that never reads (about 3 MB).
BIG = "testsrc://testsrc2?size=1280x720&rate=25&gop=0.2"
SMALL = "testsrc://testsrc2?size=320x240&rate=10&gop=1"
FOOTAGE_BYTES = 5 << 20
MB = 1 << 20


def _ok(answer):
    status, body, _headers = answer
    assert status in (200, 201), (status, body)
    return body


def _source(st: StationProcess, name: str, uri: str) -> int:
    source = _ok(st.call("POST", "/api/v1/source", {"name": name, "uri_rtsp": uri}))
    wait_until(lambda: _ok(st.call("GET", f"/api/v1/source/{source['id']}"))["status"] == "online",
               30, 0.2, f"{name} online")
    return source["id"]


def _record(st: StationProcess, tag: str, source_id: int) -> dict:
    (record,) = _ok(st.call("POST", "/api/v1/record/sources",
                            {"tag_name": tag, "source_ids": [source_id]}))
    return record


def _footage(st: StationProcess, source_id: int) -> dict:
    """A finished record of `source_id` of at least FOOTAGE_BYTES."""
    record = _record(st, "footage", source_id)
    wait_until(lambda: os.path.exists(record["location"])
               and os.path.getsize(record["location"]) >= FOOTAGE_BYTES, 30, 0.1,
               "the footage recorded")
    (record,) = _ok(st.call("PUT", "/api/v1/record", {"tag_name": "footage"}))
    assert record["status"] == "finished"
    return record


def _range_of(record: dict) -> str:
    return urlencode({"begin": record["begin_utc"], "end": record["end_utc"]})


class Reader:
    """A client that asks for an export and reads only the answer's head (a few KB of body at
    most): its receive buffer is small, so the station's writes soon block."""

    def __init__(self, st: StationProcess, path: str, *, source: str = "127.0.0.1"):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.bind((source, 0))
        self.sock.settimeout(60)
        self.sock.connect((st.host, st.port))
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {st.host}:{st.port}\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(1024)
            assert chunk, f"closed before the head: {data!r}"
            data += chunk
        head, self.body = data.split(b"\r\n\r\n", 1)
        self.received = len(self.body)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        if self.status != 200:  # a refusal is small: read it whole
            while len(self.body) < int(self.headers.get("content-length", 0)):
                self.body += self.sock.recv(65536)
            self.sock.close()

    @property
    def length(self) -> int:
        return int(self.headers["content-length"])

    def detail(self) -> str:
        return json.loads(self.body)["detail"]

    def read(self, size: int) -> int:
        """Read `size` bytes more (or up to the end, or a reset); how many came."""
        got = 0
        while got < size:
            try:
                chunk = self.sock.recv(min(65536, size - got))
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += len(chunk)
        self.received += got
        return got

    def read_to_the_end(self) -> int:
        """Bytes of body received in all, once the station has closed the connection."""
        self.read(self.length)
        self.sock.close()
        return self.received


def _work_files(st: StationProcess) -> list[Path]:
    folder = st.data_dir / "recordings" / ".exports"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _record_statuses(st: StationProcess) -> dict[str, str]:
    with sqlite3.connect(f"file:{st.data_dir / 'catalog.sqlite3'}?mode=ro", uri=True) as db:
        return dict(db.execute("SELECT id, status FROM record").fetchall())


# --- caps, stalled and slow readers ---------------------------------------------------------
STALL_S = 3


def test_exports_nobody_reads_are_capped_then_cut_off_and_removed(tmp_path: Path):
    # A crash left a work file behind: the next start removes it.
    stale = tmp_path / "station" / "recordings" / ".exports" / "left-by-a-crash.mp4"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"\0" * 1000)
    st = StationProcess(tmp_path, env={
        "RS_EXPORT_STALL_S": str(STALL_S), "RS_EXPORT_MAX_FILES_PER_CLIENT": "2",
        "RS_DISK_FLOOR_MB": "16"})
    try:
        assert not stale.exists()
        source_id = _source(st, "big", BIG)
        record = _footage(st, source_id)
        path = f"/api/v1/source/{source_id}/export?{_range_of(record)}"
        moment = datetime.fromisoformat(record["begin_utc"].replace("Z", "+00:00")) \
            + timedelta(seconds=2)
        bookmark = _ok(st.call("POST", "/api/v1/bookmark", {
            "source_id": source_id, "time_utc": moment.isoformat(), "title": "mark"}))

        # One client asks twice: once it never reads, once it reads slowly (a few KB/s, far
        # less than the station writes per stall period), from another loopback address.
        stalled = Reader(st, path)
        slow = Reader(st, path, source="127.0.0.2")
        assert [stalled.status, slow.status] == [200, 200]
        assert stalled.length > 4 * MB, stalled.length
        # Its third ask is 429, whatever the route, and from whatever loopback address: any
        # local program may bind any of them, so all of loopback is one client.
        around = f"/api/v1/bookmark/{bookmark['id']}/export?before_s=1&after_s=1"
        for refused in (Reader(st, path, source="127.0.0.3"), Reader(st, around),
                        Reader(st, f"/api/v1/export?source_ids={source_id}&{_range_of(record)}")):
            assert refused.status == 429, (refused.status, refused.body)
            assert "read or close one first" in refused.detail()
            assert int(refused.headers["retry-after"]) >= 1
        assert len(_work_files(st)) == 2

        # Nobody takes a byte in STALL_S seconds: each is cut off, its work file removed.
        def trickle() -> bool:
            slow.read(2048)
            return not _work_files(st)
        wait_until(trickle, STALL_S + 10, 0.5, "the stalled exports removed")
        for reader in (stalled, slow):
            assert reader.read_to_the_end() < reader.length  # cut off, not sent
        log = st.log_text()
        assert log.count(f"its reader took no byte for {STALL_S} s") == 2, log[-3000:]
        assert "Traceback" not in log

        # The shares are free again: a client that reads gets the whole export, once sent its
        # work file is gone.
        status, body, headers = st.request("GET", path, timeout=60)
        assert status == 200 and len(body) == int(headers["Content-Length"])
        (tmp_path / "whole.mp4").write_bytes(body)
        assert decode_video(tmp_path / "whole.mp4")["frames"] >= 100
        wait_until(lambda: not _work_files(st), 5, message="the sent export's work file removed")

        # A reader that leaves half-way: its file goes with it, without waiting for the stall.
        leaving = Reader(st, path)
        assert leaving.status == 200 and leaving.read(1 * MB) == 1 * MB
        leaving.sock.close()
        wait_until(lambda: not _work_files(st), STALL_S, message="a left export's file removed")
        assert st.log_text().count("took no byte") == 2  # not timed out: gone with its reader

        # The station stops with an export outstanding: no work file survives it.
        held = Reader(st, path)
        assert held.status == 200 and _work_files(st)
    finally:
        st.stop()
    assert not _work_files(st)
    assert set(_record_statuses(st).values()) == {"finished"}


# --- the disk floor: copies of footage give way, never footage ------------------------------
SIZE_MB, FLOOR_MB = 64, 16


@pytest.fixture
def small_disk(tmp_path: Path):
    with small_tmpfs(tmp_path / "disk", f"{SIZE_MB}m") as mount:
        yield mount


def _fill_to(folder: Path, free_bytes: int) -> Path:
    """Another program takes the disk's space down to `free_bytes` free."""
    filler = folder / "another-program.bin"
    st = os.statvfs(folder)
    with open(filler, "wb") as fh:
        fh.truncate(0)
        take = st.f_bavail * st.f_frsize - free_bytes
        while take > 0:
            fh.write(b"\xa5" * min(take, MB))
            take -= MB
    return filler


def test_an_export_the_disk_has_no_room_for_is_refused_and_copies_go_before_footage(
        tmp_path: Path, small_disk: Path):
    data = small_disk / "station"
    st = StationProcess(tmp_path, env={"RS_DISK_FLOOR_MB": str(FLOOR_MB),
                                       "RS_EXPORT_STALL_S": "120"},
                        args=["--data-dir", str(data)])
    st.data_dir = data
    try:
        big = _source(st, "big", BIG)
        footage = _footage(st, big)
        path = f"/api/v1/source/{big}/export?{_range_of(footage)}"
        # The running recording: about 1 MB/s more on this small disk.
        running = _record(st, "running", big)
        storage = _ok(st.call("GET", "/api/v1/storage"))
        assert storage["floor_mb"] == FLOOR_MB and storage["same_filesystem"]
        _fill_to(small_disk, (FLOOR_MB << 20) + 10 * MB)

        # One export fits above the floor; it is never read.
        held = Reader(st, path)
        assert held.status == 200, (held.status, held.body)
        # A second one would not, once the first is written: 507 (the client's share has room
        # for it); and an upload that needs that room is refused as well (one ledger for both).
        refused = Reader(st, path)
        assert refused.status == 507, (refused.status, refused.body)
        assert "disk floor" in refused.detail()
        status, raw, _ = st.request("PUT", "/api/v1/upload/u1", body=b"x" * 1000, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"bytes 0-999/{10 * MB}"})
        assert status == 507, (status, raw)

        # The recording eats the margin. Under the floor, the guard takes the copy's room back
        # (the export is cut off, its file removed) before it would delete any footage.
        wait_until(lambda: not _work_files(st), 60, 0.1, "the export's room taken back")
        assert held.read_to_the_end() < held.length
        assert _record_statuses(st) == {footage["id"]: "finished", running["id"]: "recording"}
        after = _ok(st.call("GET", "/api/v1/storage"))
        assert not after["storage"]["below_floor"], after["storage"]
        assert after["retention"]["deleted_since_start"] == 0 and after["stopped_utc"] is None
        assert "the disk needed the room" in st.log_text()
        assert _ok(st.call("GET", f"/api/v1/record/{running['id']}"))["status"] == "recording"
        _ok(st.call("PUT", "/api/v1/record", {"tag_name": "running"}))
    finally:
        st.stop()
