"""`/api/v1/sync` between two real stations on real sockets: the sender records test
patterns, the receiver (with a token) takes them through `/api/v1/upload`, verifying MD5.
The network in between is cut by a proxy to show that a broken or stopped sync resumes from
the receiver's offset and never sends a finished file again."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from api.server import ApiServer
from app.station import build_station, start_station, stop_station
from tests.conftest import make_settings, md5_of, wait_until
from tests.support.cutting_proxy import CuttingProxy
from tests.support.recordings import record_tag

TOKEN = "far-station-s3cret"


def http(method: str, url: str, body=None, *, token: str | None = None, headers=None):
    """(status, parsed JSON) of one request."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if isinstance(body, dict):
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def receiver(tmp_path: Path):
    """A second station, with a token, on its own data folder and port."""
    st = build_station(make_settings(tmp_path / "receiver", token=TOKEN, station_name="far"))
    start_station(st)
    server = ApiServer(st, "127.0.0.1", 0).start()
    yield st, server
    server.stop()
    stop_station(st)


def _wait_job(base: str, job_id: str, timeout: float = 20.0) -> dict:
    def ended():
        status, job = http("GET", f"{base}api/v1/sync/{job_id}")
        assert status == 200, job
        return job if job["status"] in ("done", "failed") else None
    return wait_until(ended, timeout, 0.1, message=f"sync job {job_id}")


def test_sync_to_another_station_is_verified_at_the_far_end(station, api_server, receiver, caplog):
    far, far_api = receiver
    records = record_tag(station, "t")
    base = api_server.url
    location = f"http://127.0.0.1:{far_api.port}/?accessToken={TOKEN}"
    caplog.set_level(logging.DEBUG)

    station.sync.bytes_per_second = 200_000  # slow enough to watch it run
    status, job_id = http("POST", f"{base}api/v1/sync/", {"tag_name": "t", "location": location})
    assert status == 200 and isinstance(job_id, str), job_id

    def midway():  # records first: one showing a sync_location must be verified by then
        listed = http("GET", f"{base}api/v1/record?tag_name=t")[1]
        job = http("GET", f"{base}api/v1/sync/{job_id}")[1]
        return (listed, job) if job["current_file"] and job["bytes_done"] > 0 else None
    listed, running = wait_until(midway, 10, 0.02, message="the job running")
    assert running["status"] == "running"
    assert running["current_file"] in [Path(r.location).name for r in records]
    assert running["bytes_done"] < running["bytes_total"] and running["files_done"] < 2
    verified = {f["record_id"] for f in running["files"] if f["status"] == "verified"}
    assert {r["id"] for r in listed if r["sync_location"]} <= verified
    job = _wait_job(base, job_id)
    assert job["status"] == "done", job
    assert job["location"] == f"http://127.0.0.1:{far_api.port}/?accessToken=******"
    assert (job["files_total"], job["files_done"]) == (2, 2)
    assert job["bytes_done"] == job["bytes_total"] == sum(r.size_bytes for r in records)

    for record in records:
        upload_url = f"http://127.0.0.1:{far_api.port}/api/v1/upload/{record.id}"
        status, mine = http("GET", f"{base}api/v1/record/{record.id}")
        assert mine["sync_location"] == upload_url
        status, upload = http("GET", upload_url, token=TOKEN)
        assert status == 200 and upload["complete"] and upload["md5"] == record.hash_md5
        copy = Path(upload["location"])
        assert copy == far.settings.recordings_dir / "synced" / "Recording_Station" / "t" / Path(
            record.location).name
        assert md5_of(copy) == record.hash_md5
    assert http("GET", f"{base}api/v1/sync")[1][0]["id"] == job_id
    assert TOKEN not in json.dumps(job) and TOKEN not in caplog.text
    # Neither the catalog (nor its WAL) holds the token; its own file forgets it at the end.
    for stored in station.settings.data_dir.glob("catalog.sqlite3*"):
        assert TOKEN.encode() not in stored.read_bytes(), stored
    assert TOKEN not in (station.settings.data_dir / "sync-tokens.json").read_text()


def test_sync_errors_in_the_native_shapes(station, api_server, receiver, tmp_path: Path):
    far, far_api = receiver
    base, far_base = api_server.url, far_api.url
    exports = str(station.settings.sync_dirs[0])
    status, body = http("POST", f"{base}api/v1/sync", {"tag_name": "nope", "location": exports})
    assert status == 404 and "nope" in body["detail"]
    record_tag(station, "t", sources=1, seconds=0.5)
    status, body = http("POST", f"{base}api/v1/sync", {"tag_name": "t"})
    assert status == 422 and body["detail"][0]["loc"] == ["body", "location"]
    assert body["detail"][0]["type"] == "missing"
    status, body = http("POST", f"{base}api/v1/sync", {"tag_name": "t", "location": "gopher://x/"})
    assert status == 422 and body["detail"][0]["loc"] == ["body", "location"]
    assert http("GET", f"{base}api/v1/sync")[1] == []  # nothing stored
    assert http("GET", f"{base}api/v1/sync/{'0' * 32}")[0] == 404

    # A wrong token: the far end answers 401, which becomes the job's error.
    wrong = f"http://:wrong@127.0.0.1:{far_api.port}/"
    status, job_id = http("POST", f"{base}api/v1/sync", {"tag_name": "t", "location": wrong})
    job = _wait_job(base, job_id)
    assert job["status"] == "failed" and "401" in job["error"] and "wrong" not in json.dumps(job)
    assert job["location"] == f"http://:******@127.0.0.1:{far_api.port}/"
    assert http("GET", f"{base}api/v1/record?tag_name=t")[1][0]["sync_location"] is None
    assert not (far.settings.recordings_dir / "synced").exists()

    # The upload endpoint itself: token required, ranges checked, a wrong MD5 discards.
    chunk = b"0123456789"
    put = {"Content-Range": "bytes 0-9/20", "Content-Type": "application/octet-stream"}
    assert http("PUT", f"{far_base}api/v1/upload/u1", chunk, headers=put)[0] == 401
    status, body = http("PUT", f"{far_base}api/v1/upload/u1", chunk, token=TOKEN,
                        headers={"Content-Type": "application/octet-stream"})
    assert status == 422 and body["detail"][0]["loc"] == ["header", "Content-Range"]
    status, body = http("PUT", f"{far_base}api/v1/upload/u1", chunk, token=TOKEN,
                        headers={**put, "Content-Range": "bytes 10-19/20"})
    assert status == 422 and "continue from byte 0" in body["detail"][0]["msg"]
    status, body = http("PUT", f"{far_base}api/v1/upload/u1", chunk, token=TOKEN, headers=put)
    assert status == 200 and (body["received"], body["total"], body["complete"]) == (10, 20, False)
    status, body = http("PUT", f"{far_base}api/v1/upload/u1", chunk, token=TOKEN,
                        headers={**put, "Content-Range": "bytes 10-19/20"})
    assert status == 200 and body["received"] == 20
    finish = {"md5": md5_of(b"wrong"), "station": "s", "tag_name": "t", "file_name": "f.mp4"}
    status, body = http("POST", f"{far_base}api/v1/upload/u1/finish", finish, token=TOKEN)
    assert status == 422 and body["detail"][0]["loc"] == ["body", "md5"]
    assert http("GET", f"{far_base}api/v1/upload/u1", token=TOKEN)[0] == 404  # discarded
    assert http("GET", f"{far_base}api/v1/upload/..%2Fx", token=TOKEN)[0] == 422


def test_a_broken_and_then_stopped_sync_resumes_from_the_receivers_offset(tmp_path: Path, receiver):
    far, far_api = receiver
    proxy = CuttingProxy(far_api.port).start()
    settings = make_settings(tmp_path / "sender")
    sender = build_station(settings)
    start_station(sender)
    try:
        first, second = record_tag(sender, "t")
        # The first file's connection drops after 50 kB: the job retries at once from there.
        drop = proxy.arm(first.id, 50_000, "drop")
        # The second file's connection breaks after 40 kB and the sender waits in vain ...
        hold = proxy.arm(second.id, 40_000, "hold")
        job_id = sender.sync.create("t", f"http://:{TOKEN}@127.0.0.1:{proxy.port}/")
        assert drop.done.wait(10) and hold.done.wait(10)
        assert sender.sync.get(job_id).files[0].status.value == "verified"
        stop_station(sender)  # ... until its station stops
        status, held = http("GET", f"{far_api.url}api/v1/upload/{second.id}", token=TOKEN)
        assert status == 200 and 0 < held["received"] <= 40_000 and not held["complete"]

        sender = build_station(settings)
        assert sender.sync.get(job_id).status.value == "running"
        assert sender.recordings.get(second.id).sync_location is None
        restart = len(proxy.requests)
        start_station(sender)
        job = wait_until(lambda: (j := sender.sync.get(job_id)).status.value in ("done", "failed")
                         and j, 20)
        assert job.status.value == "done", job
    finally:
        stop_station(sender)
        proxy.stop()

    puts = [(path, rng) for method, path, rng in proxy.requests if method == "PUT"]
    first_puts = [rng for path, rng in puts if first.id in path]
    assert first_puts[0] == f"bytes 0-{first.size_bytes - 1}/{first.size_bytes}"
    assert len(first_puts) == 2 and int(first_puts[1].split()[1].split("-")[0]) > 0
    after = [(path, rng) for method, path, rng in proxy.requests[restart:] if method == "PUT"]
    assert after == [(f"/api/v1/upload/{second.id}",
                      f"bytes {held['received']}-{second.size_bytes - 1}/{second.size_bytes}")]
    for record in (first, second):
        status, upload = http("GET", f"{far_api.url}api/v1/upload/{record.id}", token=TOKEN)
        assert upload["complete"] and md5_of(Path(upload["location"])) == record.hash_md5
    assert job.files[0].bytes_sent < 2 * first.size_bytes
