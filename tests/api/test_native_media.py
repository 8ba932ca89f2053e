"""The native dialect's media endpoints on the real app and recorder: ranged downloads of
finished and still-growing files, the guarded file delete, and the MJPEG fan-out."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from api.app import create_app
from api.native.sources import MJPEG_STREAMS
from app.models import Record
from recorder.frames import Demand
from tests.conftest import TESTSRC
from tests.support.api_client import wait_online

SLOW_PATTERN = "testsrc://testsrc2?size=320x240&rate=5&gop=1"


@pytest.fixture
async def client(aiohttp_client, station):
    return await aiohttp_client(create_app(station))


async def _source_in_group(client, name: str, group: str, uri: str = TESTSRC) -> int:
    src = await (await client.post("/api/v1/source", json={"name": name, "uri_rtsp": uri})).json()
    created = await client.post("/api/v1/group", json={"name": group})
    gid = ((await created.json())[0]["id"] if created.status == 200 else
           [g for g in await (await client.get("/api/v1/group")).json() if g["name"] == group][0]["id"])
    await client.post(f"/api/v1/group/{gid}/source/{src['id']}")
    await wait_online(client, src["id"], timeout=15)
    return src["id"]


async def _record(client, tag: str, group: str, seconds: float) -> dict:
    started = await (await client.post("/api/v1/record", json={"tag_name": tag, "group_name": group})).json()
    await asyncio.sleep(seconds)
    stopped = await (await client.put("/api/v1/record", json={"tag_name": tag})).json()
    assert stopped[0]["id"] == started[0]["id"] and stopped[0]["status"] == "finished"
    return stopped[0]


async def test_ranges_etag_and_if_range_on_a_finished_file(client):
    await _source_in_group(client, "cam", "g")
    record = await _record(client, "t", "g", 1.2)
    url = f"/api/v1/record/{record['id']}/video/"
    full = await client.get(url)
    body = await full.read()
    size = len(body)
    assert full.status == 200 and full.content_type == "video/mp4" and size > 1000
    assert full.headers["Accept-Ranges"] == "bytes" and int(full.headers["Content-Length"]) == size
    assert hashlib.md5(body).hexdigest() == record["hash_md5"]
    etag = full.headers["ETag"]
    assert etag and full.headers["X-Request-Id"]

    for header, start, end in (("bytes=10-99", 10, 99), ("bytes=-100", size - 100, size - 1),
                               (f"bytes={size - 7}-", size - 7, size - 1), ("bytes=0-0", 0, 0),
                               (f"bytes=5-{size + 1000}", 5, size - 1)):
        resp = await client.get(url, headers={"Range": header})
        assert resp.status == 206, header
        assert resp.headers["Content-Range"] == f"bytes {start}-{end}/{size}", header
        assert resp.content_type == "video/mp4" and resp.headers["X-Request-Id"]
        assert await resp.read() == body[start:end + 1], header

    for header in (f"bytes={size}-", f"bytes={size + 5}-{size + 10}"):
        resp = await client.get(url, headers={"Range": header})
        assert resp.status == 416, header
        assert resp.headers["Content-Range"] == f"bytes */{size}" and resp.headers["X-Request-Id"]
    for header in ("bytes=abc", "bytes=9-3", "items=0-5"):  # malformed: never a 500
        resp = await client.get(url, headers={"Range": header})
        assert resp.status in (200, 416), header
        if resp.status == 200:
            assert await resp.read() == body

    resp = await client.get(url, headers={"Range": "bytes=0-99", "If-Range": etag})
    assert resp.status == 206 and await resp.read() == body[:100]
    resp = await client.get(url, headers={"Range": "bytes=0-99", "If-Range": '"0123-stale"'})
    assert resp.status == 200 and await resp.read() == body
    resp = await client.get(url, headers={"Range": "bytes=0-99", "If-Range": full.headers["Last-Modified"]})
    assert resp.status == 206
    resp = await client.get(url, headers={"If-None-Match": etag})
    assert resp.status == 304


async def test_the_seeds_bare_range_is_served_as_bytes(client):
    """The seed writes `Range` as `Number-Number` (no `bytes=`): a client built from it
    gets the same 206 a `bytes=` range gets, not a 416."""
    await _source_in_group(client, "cam", "g")
    record = await _record(client, "t", "g", 1.2)
    url = f"/api/v1/record/{record['id']}/video"
    full = await client.get(url)
    body, etag = await full.read(), full.headers["ETag"]
    size = len(body)
    assert size > 2048
    for header, start, end in (("0-1023", 0, 1023), ("100-199", 100, 199),
                               (f"{size - 10}-", size - 10, size - 1),
                               ("-500", size - 500, size - 1)):
        resp = await client.get(url, headers={"Range": header})
        assert resp.status == 206, header
        assert resp.headers["Content-Range"] == f"bytes {start}-{end}/{size}", header
        assert await resp.read() == body[start:end + 1], header
        same = await client.get(url, headers={"Range": f"bytes={header}"})
        assert same.status == 206 and await same.read() == body[start:end + 1], header
    # Bare or not, a range outside the file is unsatisfiable ...
    resp = await client.get(url, headers={"Range": f"{size + 5}-{size + 10}"})
    assert resp.status == 416 and resp.headers["Content-Range"] == f"bytes */{size}"
    # ... and If-Range still decides whether the bare range applies.
    resp = await client.get(url, headers={"Range": "0-99", "If-Range": etag})
    assert resp.status == 206 and await resp.read() == body[:100]
    resp = await client.get(url, headers={"Range": "0-99", "If-Range": '"0123-stale"'})
    assert resp.status == 200 and await resp.read() == body


async def test_a_file_still_recording_is_served_up_to_its_current_size(client, station):
    await _source_in_group(client, "cam", "g")
    started = (await (await client.post("/api/v1/record", json={"tag_name": "live", "group_name": "g"})).json())[0]
    path = Path(started["location"])
    for _ in range(200):
        if path.is_file() and path.stat().st_size > 20_000:
            break
        await asyncio.sleep(0.05)
    url = f"/api/v1/record/{started['id']}/video"
    before = path.stat().st_size
    resp = await client.get(url)
    first = await resp.read()
    after = path.stat().st_size
    assert resp.status == 200 and resp.content_type == "video/mp4"
    assert int(resp.headers["Content-Length"]) == len(first) and before <= len(first) <= after
    assert path.read_bytes()[: len(first)] == first  # a prefix of the growing file
    etag = resp.headers["ETag"]

    for _ in range(200):
        if path.stat().st_size > len(first):
            break
        await asyncio.sleep(0.05)
    resp = await client.get(url, headers={"Range": "bytes=0-99", "If-Range": etag})
    grown = await resp.read()
    assert resp.status == 200 and len(grown) > len(first)  # the file changed: all of it
    resp = await client.get(url, headers={"Range": f"bytes={len(first)}-"})
    assert resp.status == 206 and resp.headers["Content-Range"].startswith(f"bytes {len(first)}-")
    stopped = await (await client.put("/api/v1/record", json={"tag_name": "live"})).json()
    assert stopped[0]["status"] == "finished"
    final = await (await client.get(url)).read()
    assert hashlib.md5(final).hexdigest() == stopped[0]["hash_md5"]


def _tamper(station, record_id: str, location: str) -> None:
    with station.catalog.session() as s:
        row = s.get(Record, record_id)
        row.location = location
        s.add(row)


async def test_delete_file_refuses_running_records_and_anything_outside_storage(
        client, station, tmp_path, monkeypatch):
    await _source_in_group(client, "cam", "g")
    done = await _record(client, "t", "g", 1.0)
    running = (await (await client.post("/api/v1/record", json={"tag_name": "busy", "group_name": "g"})).json())[0]
    own = Path(done["location"])
    for _ in range(200):
        if Path(running["location"]).is_file():
            break
        await asyncio.sleep(0.05)
    storage = station.recordings.storage_dir.resolve()
    assert own.is_file() and own.resolve().is_relative_to(storage)

    resp = await client.delete(f"/api/v1/record/{running['id']}/file", json={"location": running["location"]})
    assert resp.status == 422 and (await resp.json())["detail"][0]["loc"] == ["path", "record_id"]
    assert Path(running["location"]).is_file()
    resp = await client.delete(f"/api/v1/record/{done['id']}/file", json={"location": str(own) + "x"})
    assert resp.status == 422 and (await resp.json())["detail"][0]["loc"] == ["body", "location"]

    outside_dir = tmp_path / "outside"
    outside_dir.mkdir()
    victim = outside_dir / "victim.mp4"
    victim.write_bytes(b"precious")
    monkeypatch.chdir(outside_dir)
    (storage / "t" / "link.mp4").symlink_to(victim)
    (storage / "linkdir").symlink_to(outside_dir, target_is_directory=True)
    tampered = [
        "victim.mp4",                                            # relative (to the cwd)
        str(storage / ".." / ".." / "outside" / "victim.mp4"),   # climbs out with ..
        str(storage / "t" / "link.mp4"),                         # a symlink out of storage
        str(storage / "linkdir" / "victim.mp4"),                 # through a symlinked folder
        str(storage / "t" / ".." / "t" / own.name),              # .. even when it lands inside
        str(victim),                                             # plainly outside
    ]
    for location in tampered:
        _tamper(station, done["id"], location)
        resp = await client.delete(f"/api/v1/record/{done['id']}/file", json={"location": location})
        assert resp.status == 422, (location, await resp.text())
        assert (await resp.json())["detail"][0]["loc"] == ["body", "location"], location
        assert victim.read_bytes() == b"precious" and own.is_file(), location
        assert (storage / "t" / "link.mp4").is_symlink(), location
        assert (await (await client.get(f"/api/v1/record/{done['id']}")).json())["status"] == "finished"

    _tamper(station, done["id"], str(own))
    resp = await client.delete(f"/api/v1/record/{done['id']}/file/", params={"location": str(own)})
    assert resp.status == 200 and (await resp.json())["status"] == "deleted"
    assert not own.exists() and victim.exists()
    assert (await client.delete(f"/api/v1/record/{done['id']}/file", json={"location": str(own)})).status == 422
    assert (await client.get(f"/api/v1/record/{done['id']}/video")).status == 404
    await client.put("/api/v1/record", json={"tag_name": "busy"})


async def _read_parts(resp, count: int) -> list[bytes]:
    """The first `count` JPEG parts of an MJPEG response."""
    buffer, parts = b"", []
    while len(parts) < count:
        chunk = await asyncio.wait_for(resp.content.read(65536), 10)
        assert chunk, "the stream ended"
        buffer += chunk
        while True:
            head = buffer.find(b"\r\n\r\n")
            if not buffer.startswith(b"--frame\r\n") or head < 0:
                break
            headers = buffer[:head].decode()
            length = int(headers.split("Content-Length: ")[1].split("\r\n")[0])
            if len(buffer) < head + 4 + length + 2:
                break
            jpeg = buffer[head + 4: head + 4 + length]
            assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
            parts.append(jpeg)
            buffer = buffer[head + 4 + length + 2:]
    return parts[:count]  # one read may bring more parts than asked (a slow reader, a busy machine)


async def test_twenty_mjpeg_viewers_cost_one_jpeg_encode_per_frame(client, station):
    sid = await _source_in_group(client, "slow", "g", SLOW_PATTERN)
    slot = station.recorder.frames(sid)
    viewers = [await client.get(f"/api/v1/source/{sid}/video?delay=0.1") for _ in range(20)]
    assert all(v.status == 200 and v.headers["X-Request-Id"] for v in viewers)
    assert len(client.server.app[MJPEG_STREAMS]) == 20 and slot.demand is Demand.ALL
    await asyncio.gather(*[_read_parts(v, 1) for v in viewers])  # all watching
    encodes0, seq0 = slot.encodes, slot.latest().seq
    parts = await asyncio.gather(*[_read_parts(v, 6) for v in viewers])
    encodes, frames = slot.encodes - encodes0, slot.latest().seq - seq0
    total = sum(len(p) for p in parts)
    # every part a viewer got is a frame some encode produced once; no frame encoded twice
    assert 1 <= encodes <= frames + 1, (encodes, frames)
    assert total >= 120 and total >= 10 * encodes, (total, encodes)
    for v in viewers:
        v.close()


async def test_viewers_that_leave_leave_nothing_running(client, station):
    live = await _source_in_group(client, "cam", "g")
    dark = (await (await client.post("/api/v1/source", json={"name": "dark", "uri_rtsp": "rtsp://127.0.0.1:9/none"})).json())["id"]
    streams = client.server.app[MJPEG_STREAMS]
    await asyncio.sleep(0.2)
    tasks_before = len(asyncio.all_tasks())
    slot = station.recorder.frames(live)
    for _ in range(3):
        viewers = [await client.get(f"/api/v1/source/{live}/video?delay=0") for _ in range(5)]
        viewers += [await client.get(f"/api/v1/source/{dark}/video?delay=0.05") for _ in range(3)]
        for v in viewers[:5]:
            assert len(await _read_parts(v, 1)) == 1
        assert len(streams) == 8
        for v in viewers:
            v.close()
        for _ in range(100):
            if not streams:
                break
            await asyncio.sleep(0.05)
        assert not streams, f"{len(streams)} stream handlers still running after their clients left"
    assert slot.demand is Demand.NONE  # nobody watches: the decoder stops decoding
    await asyncio.sleep(0.2)
    assert len(asyncio.all_tasks()) <= tasks_before
