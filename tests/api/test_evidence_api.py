"""The evidence package through the native API (#25 item 5), on the real aiohttp app and a
real station core with records placed in the catalog: POST /api/v1/export starts a job, its
state runs to `done` with progress and the files' hashes, the downloaded zip verifies (the
station's verify and an examiner's hashlib+cryptography check), the download is audited and
handed out once; the station's public key is at GET /api/v1/station; a bad request is 422,
an unknown job 404, and the old GET /api/v1/export still answers its zip."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from api.app import create_app
from app.evidence.verify import verify_package
from app.schemas import SourceIn
from app.station import apply_settings, build_station, start_station, stop_station
from tests.conftest import make_settings
from tests.support.placed_records import place_record

BEGIN = datetime(2026, 3, 1, 10, 0, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def placed(tmp_path_factory):
    root = tmp_path_factory.mktemp("evidence-api")
    station = build_station(make_settings(root))
    start_station(station)  # registered in the catalog: listed at GET /api/v1/station
    ids = []
    for name in ("Gate", "Dock"):
        ids.append(station.sources.create(SourceIn(
            name=name, uri_rtsp="rtsp://op:pw@127.0.0.1:9/x", enabled=False)).id)
        place_record(station, root, ids[-1], "t", BEGIN)
    yield station, ids
    stop_station(station)


@pytest.fixture
async def client(aiohttp_client, placed):
    return await aiohttp_client(create_app(placed[0]))


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


async def _until_finished(client, job_id: str) -> dict:
    """Poll the job (what a client does) until it is no longer running."""
    for _ in range(400):
        answer = await client.get(f"/api/v1/export/{job_id}")
        assert answer.status == 200
        job = await answer.json()
        if job["state"] != "running":
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job still running: {job}")


async def test_job_runs_to_done_and_its_zip_verifies(client, placed, tmp_path):
    station, ids = placed
    body = {"source_ids": ids, "begin": _iso(BEGIN), "end": _iso(BEGIN + timedelta(seconds=1)),
            "case_note": "Case 12: forklift", "package": "zip", "burn_in": False}
    answer = await client.post("/api/v1/export", json=body)
    assert answer.status == 202, await answer.text()
    job = await answer.json()
    assert len(job["id"]) >= 24 and answer.headers["Location"] == f"/api/v1/export/{job['id']}"
    job = await _until_finished(client, job["id"])
    assert job["state"] == "done" and job["progress"] == 1.0 and job["error"] is None
    assert {f["kind"] for f in job["files"]} == {"footage", "manifest page"}
    assert job["download"] == f"/api/v1/export/{job['id']}/download"

    answer = await client.get(job["download"])
    assert answer.status == 200 and answer.headers["Content-Type"] == "application/zip"
    data = await answer.read()
    path = tmp_path / "package.zip"
    path.write_bytes(data)
    keys = [s["evidence_public_key"] for s in await (await client.get("/api/v1/station")).json()
            if s["this"]]
    assert keys == [station.evidence.public_key]
    assert verify_package(path, keys[0]).ok

    # An examiner's check: the zip read with zipfile, hashlib and cryptography only.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        (manifest_name,) = [n for n in archive.namelist() if n.endswith("/manifest.json")]
        folder = manifest_name.rsplit("/", 1)[0]
        manifest = archive.read(manifest_name)
        signature = base64.b64decode(archive.read(f"{folder}/manifest.json.sig"))
        Ed25519PublicKey.from_public_bytes(base64.b64decode(keys[0])).verify(signature, manifest)
        listed = json.loads(manifest)["files"]
        for entry in listed:
            assert hashlib.sha256(archive.read(f"{folder}/{entry['name']}")).hexdigest() \
                == entry["sha256"]
    assert {f["sha256"] for f in listed} == {f["sha256"] for f in job["files"]}
    parsed = json.loads(manifest)
    assert parsed["exported"]["case_note"] == "Case 12: forklift"
    assert parsed["exported"]["via"] == "api" and "pw" not in manifest.decode()

    again = await client.get(job["download"])  # handed out once
    assert again.status == 409
    assert (await (await client.get(f"/api/v1/export/{job['id']}")).json())["state"] \
        == "downloaded"
    assert not list(station.exports.work_dir.glob("*"))  # nothing of it left on the station
    actions = [e.action for e in station.audit.list(page_size=20).items]
    assert "export footage" in actions and "download footage" in actions


async def test_refusals_and_the_old_zip_route(client, placed):
    station, ids = placed
    answer = await client.post("/api/v1/export", json={"source_ids": [], "begin": _iso(BEGIN),
                                                        "end": _iso(BEGIN)})
    assert answer.status == 422
    answer = await client.post("/api/v1/export", json={
        "source_ids": ids, "begin": _iso(BEGIN), "end": _iso(BEGIN + timedelta(seconds=1)),
        "package": "../../etc"})
    assert answer.status == 422
    answer = await client.post("/api/v1/export", json={
        "source_ids": ids, "begin": _iso(BEGIN - timedelta(hours=2)),
        "end": _iso(BEGIN - timedelta(hours=1))})
    assert answer.status == 404  # nothing recorded then: refused at once, no job
    assert (await client.get("/api/v1/export/" + "A" * 24)).status == 404
    assert (await client.get("/api/v1/export/" + "A" * 24 + "/download")).status == 404
    answer = await client.get("/api/v1/export", params={
        "source_ids": ",".join(map(str, ids)), "begin": _iso(BEGIN),
        "end": _iso(BEGIN + timedelta(seconds=1))})
    assert answer.status == 200 and answer.headers["Content-Type"] == "application/zip"
    await answer.read()


async def test_the_export_caps_answer_the_post(client, placed):
    """A client with its share of exports held is refused at once (429), not given a job."""
    station, ids = placed
    before = station.settings
    apply_settings(station, before.model_copy(update={"export_max_files_per_client": 1}))
    held = station.exports.export(ids[:1], BEGIN, BEGIN + timedelta(seconds=1),
                                  client="loopback")
    try:
        answer = await client.post("/api/v1/export", json={
            "source_ids": ids, "begin": _iso(BEGIN), "end": _iso(BEGIN + timedelta(seconds=1))})
        assert answer.status == 429 and answer.headers["Retry-After"]
    finally:
        station.exports.discard(held)
        apply_settings(station, before)


async def test_a_folder_package_is_fetched_file_by_file(client, placed, tmp_path):
    station, ids = placed
    answer = await client.post("/api/v1/export", json={
        "source_ids": ids[:1], "begin": _iso(BEGIN), "end": _iso(BEGIN + timedelta(seconds=1)),
        "package": "folder", "burn_in": True})
    assert answer.status == 202
    job = await _until_finished(client, (await answer.json())["id"])
    assert job["state"] == "done" and job["package"] == "folder" and job["download"] is None
    folder = tmp_path / "package"
    folder.mkdir()
    for entry in job["files"]:
        answer = await client.get(entry["download"])
        assert answer.status == 200, entry["name"]
        (folder / entry["name"]).write_bytes(await answer.read())
    names = {p.name for p in folder.iterdir()}
    assert {"manifest.json", "manifest.json.sig", "manifest.html",
            "Gate_20260301T100000Z.mp4", "Gate_20260301T100000Z-burned-in.mp4"} == names
    assert verify_package(folder, station.evidence.public_key).ok
    base = f"/api/v1/export/{job['id']}"
    assert (await client.get(f"{base}/file/..%2Fcatalog.sqlite3")).status == 404
    assert (await client.get(f"{base}/file/nothing.mp4")).status == 404
    assert (await client.get(f"{base}/download")).status == 409
