"""Item 6 of issue #11, attacked on real station processes: sync and upload never lose or
overwrite data, and never read back what an arbitrary HTTP service answers.

- two uploads finishing at once under one file name keep both copies, each with its MD5;
  a completed copy is never replaced (not by the same id, not by ids alike, not by a sync);
- declared upload sizes are reserved: more than the disk holds above its floor is a 507
  (on a 20 MiB tmpfs mounted by the test);
- an upload abandoned for 24 h is gone after a restart;
- a directory sync writes only under `sync_dirs`;
- a sync pointed at some HTTP service reports the status code, never the service's body.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import socketserver
import stat
import threading
import time
from pathlib import Path

import pytest

from tests.support.small_disk import small_tmpfs
from tests.support.station_process import StationProcess

TOKEN = "far-token-0123456789"
MARKER = "MARKER-7f3e-secret-of-the-internal-service"
TESTSRC = "testsrc://testsrc2?size=320x240&rate=25&gop=1"
MiB = 1 << 20
WRITERS = 8  # uploads finishing at once under one file name


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def md5_file(path: Path) -> str:
    return md5(Path(path).read_bytes())


def put(st: StationProcess, upload_id: str, data: bytes, start: int, total: int,
        token: str | None = TOKEN):
    headers = {"Content-Type": "application/octet-stream",
               "Content-Range": f"bytes {start}-{start + len(data) - 1}/{total}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    status, raw, _ = st.request("PUT", f"/api/v1/upload/{upload_id}", body=data, headers=headers,
                                timeout=60)
    return status, json.loads(raw or b"null")


def finish(st: StationProcess, upload_id: str, digest: str, file_name: str, *,
           station: str = "S", tag: str = "t"):
    return st.call("POST", f"/api/v1/upload/{upload_id}/finish",
                   {"md5": digest, "station": station, "tag_name": tag, "file_name": file_name},
                   token=TOKEN, timeout=60)[:2]


def upload(st: StationProcess, upload_id: str, data: bytes, file_name: str, **kw) -> dict:
    status, body = put(st, upload_id, data, 0, len(data))
    assert status == 200 and body["received"] == len(data), body
    status, body = finish(st, upload_id, md5(data), file_name, **kw)
    assert status == 200 and body["complete"], body
    return body


def upload_status(st: StationProcess, upload_id: str):
    return st.call("GET", f"/api/v1/upload/{upload_id}", token=TOKEN)[:2]


def record_tag(st: StationProcess, tag: str, token: str | None = None) -> list[dict]:
    """One test-pattern source recorded about a second under `tag`; the finished records."""
    status, source, _ = st.call("POST", "/api/v1/source", {"name": "cam", "uri_rtsp": TESTSRC},
                                token=token)
    assert status == 200, source
    status, groups, _ = st.call("POST", "/api/v1/group", {"name": "g"}, token=token)
    assert status == 200, groups
    st.call("POST", f"/api/v1/group/{groups[0]['id']}/source/{source['id']}/", token=token)
    deadline = time.monotonic() + 20
    while st.call("GET", f"/api/v1/source/{source['id']}/", token=token)[1]["status"] != "online":
        assert time.monotonic() < deadline, "the test pattern never came online"
        time.sleep(0.1)
    time.sleep(1.0)  # pre-roll: a recording starts on a buffered key frame
    started = st.call("POST", "/api/v1/record", {"tag_name": tag, "group_name": "g"}, token=token)
    assert started[0] == 200, started[1]
    time.sleep(1.0)
    status, records, _ = st.call("PUT", "/api/v1/record", {"tag_name": tag}, token=token)
    assert status == 200 and records and all(r["status"] == "finished" for r in records), records
    return records


def sync(st: StationProcess, tag: str, location: str, timeout: float = 30.0):
    """(status, job when it ended or the refusal)."""
    status, job_id, _ = st.call("POST", "/api/v1/sync", {"tag_name": tag, "location": location})
    if status != 200:
        return status, job_id
    deadline = time.monotonic() + timeout
    while True:
        job = st.call("GET", f"/api/v1/sync/{job_id}")[1]
        if job["status"] in ("done", "failed"):
            return status, job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def write_protected(path: Path) -> bool:
    return stat.S_IMODE(os.stat(path).st_mode) & 0o222 == 0


@pytest.fixture
def far(tmp_path):
    with StationProcess(tmp_path, name="far", env={"RS_TOKEN": TOKEN}) as station:
        yield station


# --- no upload ever replaces a file -----------------------------------------------------------
def test_concurrent_finishes_of_one_file_name_keep_both_copies(far):
    for round_ in range(4):
        # Ids alike in their first 8 characters: every writer wants the same names in turn.
        contents = {f"round-{round_}-writer-{i}": os.urandom(200_000) for i in range(WRITERS)}
        for upload_id, data in contents.items():
            assert put(far, upload_id, data, 0, len(data))[0] == 200
        barrier, answers = threading.Barrier(WRITERS), {}

        def finish_at_once(upload_id: str, data: bytes) -> None:
            barrier.wait()
            answers[upload_id] = finish(far, upload_id, md5(data), "clip.mp4", tag=f"t{round_}")

        threads = [threading.Thread(target=finish_at_once, args=item) for item in contents.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        locations = set()
        for upload_id, data in contents.items():
            status, body = answers[upload_id]
            assert status == 200 and body["complete"] and body["md5"] == md5(data), body
            assert md5_file(body["location"]) == md5(data)  # the file at location is this upload's
            assert upload_status(far, upload_id)[1]["md5"] == md5_file(body["location"])
            assert write_protected(Path(body["location"]))
            locations.add(body["location"])
        assert len(locations) == WRITERS


def test_a_completed_upload_is_never_replaced(far):
    first, second, third = b"first copy" * 5000, b"second copy" * 5000, b"third copy" * 5000
    done = upload(far, "first", first, "clip.mp4")
    location = Path(done["location"])
    # The same id again: refused, whether bytes or another MD5.
    status, body = put(far, "first", second, 0, len(second))
    assert status == 422 and "complete" in json.dumps(body)
    assert finish(far, "first", md5(second), "clip.mp4")[0] == 422
    # Ids alike in their first 8 characters under the same name (the old code filed both
    # under `clip-aaaaaaaa.mp4`, the second replacing the first).
    b = upload(far, "aaaaaaaa-x", second, "clip.mp4")
    c = upload(far, "aaaaaaaa-y", third, "clip.mp4")
    assert len({str(location), b["location"], c["location"]}) == 3
    for upload_id, data in (("first", first), ("aaaaaaaa-x", second), ("aaaaaaaa-y", third)):
        status, state = upload_status(far, upload_id)
        assert status == 200 and state["complete"] and state["md5"] == md5(data)
        assert md5_file(state["location"]) == md5(data)
        assert write_protected(Path(state["location"]))
    # A copy replaced behind the station's back (root ignores the write protection) is no
    # longer reported complete with the old MD5: the sender would send it again.
    replacement = location.with_name("replacement")
    replacement.write_bytes(b"something else")
    os.replace(replacement, location)
    assert upload_status(far, "first")[0] == 404


def test_a_sync_into_another_station_keeps_the_file_already_there(tmp_path, far):
    with StationProcess(tmp_path, name="sender") as sender:
        record = record_tag(sender, "t")[0]
        name = Path(record["location"]).name
        planted = upload(far, "planted", b"not the recording" * 1000, name,
                         station="Recording Station", tag="t")
        status, job = sync(sender, "t", f"http://:{TOKEN}@127.0.0.1:{far.port}/")
        assert status == 200 and job["status"] == "done", job
        status, copy = upload_status(far, record["id"])
        assert status == 200 and copy["complete"] and copy["location"] != planted["location"]
        assert Path(copy["location"]).parent == Path(planted["location"]).parent
        assert md5_file(copy["location"]) == record["hash_md5"] == copy["md5"]
        assert md5_file(planted["location"]) == planted["md5"] == md5(b"not the recording" * 1000)


# --- disk space -------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 20 MiB tmpfs, mounted for this test only."""
    with small_tmpfs(tmp_path / "disk", "20m") as disk:
        yield disk


def test_declared_sizes_are_reserved_against_the_disk_floor(tmp_path, small_disk):
    env = {"RS_TOKEN": TOKEN, "RS_STORAGE_DIR": str(small_disk / "storage"), "RS_DISK_FLOOR_MB": "1"}
    with StationProcess(tmp_path, name="far", env=env) as far:
        total = 12 * MiB
        first = os.urandom(total)
        assert put(far, "big-a", first[:MiB], 0, total)[0] == 200
        # 19 MiB free, but 11 MiB of them are promised to big-a: 12 more would cross the floor.
        status, body = put(far, "big-b", os.urandom(MiB), 0, total)
        assert status == 507, body
        assert upload_status(far, "big-b")[0] == 404  # nothing kept of the refused upload
        assert put(far, "big-a", first[MiB:], MiB, total)[0] == 200  # its room was held
        # big-a discarded (wrong MD5): its reservation ends, big-b fits now.
        assert finish(far, "big-a", md5(b"wrong"), "a.mp4")[0] == 422
        assert put(far, "big-b", os.urandom(MiB), 0, total)[0] == 200
        # A small upload fits beside big-b's reservation, which still keeps a third big one out.
        small = os.urandom(2 * MiB)
        upload(far, "small", small, "s.mp4")
        assert put(far, "big-c", os.urandom(MiB), 0, total)[0] == 507


# --- abandoned uploads ------------------------------------------------------------------------
def test_an_upload_abandoned_for_a_day_is_removed_at_start(tmp_path):
    env = {"RS_TOKEN": TOKEN}
    with StationProcess(tmp_path, name="far", env=env) as far:
        assert put(far, "stale", b"x" * 1000, 0, 5000)[0] == 200
        assert put(far, "recent", b"y" * 1000, 0, 5000)[0] == 200
        upload(far, "complete", b"z" * 1000, "z.mp4")
    incoming = far.data_dir / "recordings" / ".uploads"
    day_ago = time.time() - 25 * 3600
    for path in (incoming / "stale.part", incoming / "stale.json", incoming / "complete.json"):
        os.utime(path, (day_ago, day_ago))

    with StationProcess(tmp_path, name="far", env=env) as far:
        assert not (incoming / "stale.part").exists() and not (incoming / "stale.json").exists()
        assert upload_status(far, "stale")[0] == 404
        status, recent = upload_status(far, "recent")
        assert status == 200 and recent["received"] == 1000
        status, complete = upload_status(far, "complete")
        assert status == 200 and complete["complete"]  # a finished upload is not abandoned


# --- directory sync ---------------------------------------------------------------------------
def test_a_directory_sync_writes_only_under_sync_dirs(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with StationProcess(tmp_path, name="sender") as st:
        record = record_tag(st, "t")[0]
        exports = st.data_dir / "exports"
        exports.mkdir(exist_ok=True)
        (exports / "link").symlink_to(elsewhere)
        for outside in ("/tmp/elsewhere", str(elsewhere), str(exports / ".." / "elsewhere"),
                        str(exports / "link"), str(exports / "link" / "deeper"), "/etc", "/"):
            status, body = sync(st, "t", outside)
            assert status == 422 and body["detail"][0]["loc"] == ["body", "location"], (outside, body)
        assert not list(elsewhere.iterdir())
        assert st.call("GET", "/api/v1/sync")[1] == []

        status, job = sync(st, "t", str(exports / "backup"))
        assert status == 200 and job["status"] == "done", job
        copy = exports / "backup" / "t" / Path(record["location"]).name
        assert job["files"][0]["sync_location"] == str(copy)
        assert md5_file(copy) == record["hash_md5"] and write_protected(copy)


# --- a sync never reads back another service ---------------------------------------------------
class Answering(http.server.BaseHTTPRequestHandler):
    """Any HTTP service: answers every request with its status and a body holding MARKER."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"detail": MARKER, "received": MARKER, "note": MARKER}).encode()
        self.send_response(self.server.status, MARKER)  # the reason phrase too
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Marker", MARKER)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


class Banner(socketserver.BaseRequestHandler):
    """Not HTTP at all (an SSH or Redis port): a banner with MARKER."""

    def handle(self) -> None:
        self.request.recv(65536)
        self.request.sendall(f"SSH-2.0-{MARKER}\r\n".encode())


def serve(server) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def test_a_failed_sync_reports_the_status_never_the_far_body(tmp_path):
    with StationProcess(tmp_path, name="sender") as st:
        record_tag(st, "t")
        for code, expected in ((500, "500"), (401, "401"), (404, "404"), (200, "200"),
                               (None, "not HTTP")):
            if code is None:
                server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Banner)
            else:
                server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answering)
                server.status = code
            serve(server)
            try:
                status, job = sync(st, "t", f"http://127.0.0.1:{server.server_address[1]}/")
            finally:
                server.shutdown()
                server.server_close()
            assert status == 200 and job["status"] == "failed", job
            assert expected in job["error"], (code, job)
            assert MARKER not in json.dumps(job), (code, job)
            assert job["files"][0]["sync_location"] is None
        status, records, _ = st.call("GET", "/api/v1/record?tag_name=t")
        assert all(r["sync_location"] is None for r in records)
        time.sleep(0.3)
        assert MARKER not in st.log_text()
