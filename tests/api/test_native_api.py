"""The native /api/v1 dialect through aiohttp's test client on the real app and services."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from api.app import create_app
from tests.app.commit_hook import CommitHook
from tests.conftest import TESTSRC
from tests.support.api_client import wait_online


@pytest.fixture
async def client(aiohttp_client, station):
    return await aiohttp_client(create_app(station))


async def test_source_crud_shapes_and_trailing_slash(client):
    resp = await client.post("/api/v1/source", json={"name": "cam", "uri_rtsp": TESTSRC, "description": "d"})
    assert resp.status == 200, await resp.text()
    assert resp.headers["X-Request-Id"]
    src = await resp.json()
    assert set(src) >= {"id", "created_utc", "status", "uri_rtsp", "uri_http_picture",
                        "description", "ffmpeg_cmd", "model", "name"}
    assert src["created_utc"].endswith("Z") and len(src["created_utc"]) == 24
    for path in (f"/api/v1/source/{src['id']}", f"/api/v1/source/{src['id']}/"):
        assert (await (await client.get(path)).json())["name"] == "cam"
    listed = await (await client.get("/api/v1/source/")).json()
    assert [s["id"] for s in listed] == [src["id"]]

    # query parameters work as well as a JSON body
    resp = await client.put(f"/api/v1/source/{src['id']}/?description=hall")
    assert (await resp.json())["description"] == "hall"

    resp = await client.post("/api/v1/source", json={"name": "cam", "uri_rtsp": TESTSRC})
    assert resp.status == 422
    detail = (await resp.json())["detail"]
    assert detail[0]["loc"] == ["body", "name"]

    resp = await client.post("/api/v1/source", json={"model": "Camera", "uri_rtsp": TESTSRC})
    assert resp.status == 422
    assert (await resp.json())["detail"][0]["type"] == "enum"

    resp = await client.post("/api/v1/source", data=b"{not json", headers={"Content-Type": "application/json"})
    assert resp.status == 422

    assert (await client.get("/api/v1/source/999")).status == 404
    resp = await client.get("/api/v1/source/abc")
    assert resp.status == 422
    assert (await resp.json())["detail"][0]["loc"] == ["path", "source_id"]
    assert len(await (await client.get("/api/v1/source")).json()) == 1  # nothing stored

    resp = await client.delete(f"/api/v1/source/{src['id']}")
    assert (await resp.json())["id"] == src["id"]
    assert (await client.get(f"/api/v1/source/{src['id']}")).status == 404


async def test_groups_membership_and_seed_shapes(client):
    src = await (await client.post("/api/v1/source", json={"name": "c1", "uri_rtsp": TESTSRC})).json()
    created = await (await client.post("/api/v1/group", json={"model": "Source", "name": "lobby"})).json()
    assert isinstance(created, list) and created[0]["name"] == "lobby"
    gid = created[0]["id"]
    assert (await client.post("/api/v1/group", json={"name": "lobby"})).status == 422
    assert await (await client.post(f"/api/v1/group/{gid}/source/{src['id']}/")).json() is True
    assert await (await client.post(f"/api/v1/group/{gid}/source/{src['id']}")).json() is False
    detail = await (await client.get(f"/api/v1/group/{gid}/")).json()
    assert [s["id"] for s in detail["sources"]] == [src["id"]]
    assert await (await client.delete(f"/api/v1/group/{gid}/source/{src['id']}/")).json() is True
    assert await (await client.delete(f"/api/v1/group/{gid}/source/{src['id']}/")).json() is False
    assert (await (await client.delete(f"/api/v1/group/{gid}")).json())["name"] == "lobby"
    assert await (await client.get("/api/v1/group")).json() == []


async def test_record_lifecycle_download_with_range_and_picture(client, station):
    src = await (await client.post("/api/v1/source", json={"name": "c1", "uri_rtsp": TESTSRC})).json()
    gid = (await (await client.post("/api/v1/group", json={"name": "g"})).json())[0]["id"]
    await client.post(f"/api/v1/group/{gid}/source/{src['id']}")
    await wait_online(client, src["id"])

    resp = await client.get(f"/api/v1/source/{src['id']}/picture")
    assert resp.status == 200 and resp.content_type == "image/jpeg"
    assert (await resp.read())[:2] == b"\xff\xd8"

    assert (await client.post("/api/v1/record", json={"tag_name": "t"})).status == 422
    started = await (await client.post("/api/v1/record", json={"tag_name": "t", "group_name": "g"})).json()
    assert len(started) == 1 and started[0]["status"] == "recording"
    assert await (await client.get("/api/v1/record/runing?tag_name=t")).json() is True
    assert await (await client.get("/api/v1/tag/begin")).json() == ["t"]
    await asyncio.sleep(1.5)
    stopped = await (await client.put("/api/v1/record", json={"tag_name": "t"})).json()
    assert stopped[0]["status"] == "finished" and stopped[0]["hash_md5"]
    assert await (await client.get("/api/v1/record/running?tag_name=t")).json() is False

    listed = await (await client.get("/api/v1/record?tag_name=t")).json()
    assert isinstance(listed[0]["source"], list) and listed[0]["source"][0]["id"] == src["id"]
    one = await (await client.get(f"/api/v1/record/{started[0]['id']}/")).json()
    assert one["source"]["id"] == src["id"]
    tag = await (await client.get("/api/v1/tag?name=t")).json()
    assert tag["records"][0]["id"] == started[0]["id"]

    resp = await client.get(f"/api/v1/record/{one['id']}/video/")
    body = await resp.read()
    assert resp.status == 200 and resp.content_type == "video/mp4"
    assert hashlib.md5(body).hexdigest() == one["hash_md5"]
    resp = await client.get(f"/api/v1/record/{one['id']}/video", headers={"Range": "bytes=10-99"})
    assert resp.status == 206
    assert resp.headers["Content-Range"] == f"bytes 10-99/{len(body)}"
    assert await resp.read() == body[10:100]
    resp = await client.get(f"/api/v1/record/{one['id']}/video", headers={"Range": f"bytes={len(body) + 5}-"})
    assert resp.status == 416

    resp = await client.delete(f"/api/v1/record/{one['id']}/file/", json={"location": "/etc/passwd"})
    assert resp.status == 422
    resp = await client.delete(f"/api/v1/record/{one['id']}/file/", json={"location": one["location"]})
    assert (await resp.json())["status"] == "deleted"
    assert (await client.get("/api/v1/record/nope/")).status == 404


async def test_mjpeg_stream_and_self_tests(client):
    src = await (await client.post("/api/v1/source", json={"name": "c1", "uri_rtsp": TESTSRC})).json()
    await wait_online(client, src["id"])
    resp = await client.get(f"/api/v1/source/{src['id']}/video?delay=0.1")
    assert resp.status == 200
    assert resp.content_type == "multipart/x-mixed-replace"
    data = b""
    while data.count(b"\xff\xd9") < 2:
        data += await resp.content.read(65536)
    assert data.startswith(b"--frame\r\nContent-Type: image/jpeg")
    resp.close()
    assert (await client.get(f"/api/v1/source/{src['id']}/video?delay=abc")).status == 422

    img = await client.get("/test/img")
    assert img.content_type == "image/jpeg" and (await img.read())[:2] == b"\xff\xd8"
    video = await client.get("/test/video")
    assert video.content_type == "video/mp4" and b"ftyp" in (await video.read())[:16]


async def test_token_is_required_when_configured(aiohttp_client, tmp_path):
    from app.station import build_station, start_station, stop_station
    from tests.conftest import make_settings

    st = build_station(make_settings(tmp_path, token="s3cret"))
    start_station(st)
    try:
        client = await aiohttp_client(create_app(st))
        resp = await client.get("/api/v1/source")
        assert resp.status == 401 and "detail" in await resp.json()
        assert (await client.get("/api/v1/source", headers={"Authorization": "Bearer nope"})).status == 401
        assert (await client.get("/api/v1/source", headers={"Authorization": "Bearer s3cret"})).status == 200
        assert (await client.get("/api/v1/source", headers={"X-Auth-Token": "s3cret"})).status == 200
        assert (await client.get("/api/v1/source?accessToken=s3cret")).status == 200
    finally:
        stop_station(st)




async def test_fifty_concurrent_starts_make_one_record_per_source(client, station):
    gid = (await (await client.post("/api/v1/group", json={"name": "g"})).json())[0]["id"]
    ids = []
    for name in ("a", "b"):
        src = await (await client.post("/api/v1/source", json={"name": name, "uri_rtsp": TESTSRC})).json()
        await client.post(f"/api/v1/group/{gid}/source/{src['id']}")
        ids.append(src["id"])
    for sid in ids:
        await wait_online(client, sid)
    responses = await asyncio.gather(*[
        client.post("/api/v1/record", json={"tag_name": "rush", "group_name": "g"}) for _ in range(50)])
    assert {r.status for r in responses} == {200}
    record_ids = {rec["id"] for r in responses for rec in await r.json()}
    assert len(record_ids) == 2
    running = station.recordings.list("rush", status="recording")
    assert sorted(r.source.id for r in running) == sorted(ids)
    stopped = await (await client.put("/api/v1/record", json={"tag_name": "rush"})).json()
    assert len(stopped) == 2 and {r["status"] for r in stopped} == {"finished"}


async def test_a_start_whose_commit_fails_answers_507_and_records_nothing(client, station):
    """The catalog's COMMIT of the new records fails: the answer is 507 with the reason, and
    the recorder never started (no file, no record), because it starts only after it."""
    gid = (await (await client.post("/api/v1/group", json={"name": "g"})).json())[0]["id"]
    src = await (await client.post("/api/v1/source", json={"name": "c1", "uri_rtsp": TESTSRC})).json()
    await client.post(f"/api/v1/group/{gid}/source/{src['id']}")
    await wait_online(client, src["id"])
    at_commit = []

    def fail(records):
        at_commit.extend(station.recorder.stop_recording(sid, rid) for sid, rid in records)
        raise OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O error"))

    with CommitHook(at_commit=fail):
        resp = await client.post("/api/v1/record", json={"tag_name": "t", "group_name": "g"})
    assert resp.status == 507 and "disk I/O error" in await resp.text()
    assert at_commit == [None]  # nothing recorded while the catalog committed
    await asyncio.sleep(0.3)
    assert not list(station.settings.recordings_dir.rglob("*.mp4"))
    assert await (await client.get("/api/v1/record?tag_name=t")).json() == []
    assert await (await client.get("/api/v1/record/running?tag_name=t")).json() is False
    resp = await client.post("/api/v1/record", json={"tag_name": "t", "group_name": "g"})
    assert resp.status == 200 and (await resp.json())[0]["status"] == "recording"
    await client.put("/api/v1/record", json={"tag_name": "t"})
