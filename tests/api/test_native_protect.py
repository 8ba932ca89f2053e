"""Protecting records from retention through the native API (`PUT /api/v1/record/{id}/`,
`PUT /api/v1/tag/protect`), and what retention's delete (`RecordingService.expire`) then does
and refuses, on the real app, services and recorder (test-pattern recordings)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from api.app import create_app
from app.events import RecordChanged
from tests.support.recordings import record_tag


@pytest.fixture
async def client(aiohttp_client, station):
    return await aiohttp_client(create_app(station))


async def test_protect_a_record_and_a_tag(client, station):
    records = await asyncio.to_thread(record_tag, station, "t", sources=2)
    events = []
    station.bus.subscribe(events.append)
    one, other = records
    shown = await (await client.get(f"/api/v1/record/{one.id}")).json()
    assert shown["protected"] is False and shown["gaps"] == []
    assert shown["deleted_utc"] is None and shown["deleted_reason"] is None

    for path in (f"/api/v1/record/{one.id}/", f"/api/v1/record/{one.id}"):
        resp = await client.put(path, json={"protected": True})
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["protected"] is True
    assert (await (await client.get(f"/api/v1/record/{one.id}")).json())["protected"] is True
    assert not (await (await client.get(f"/api/v1/record/{other.id}")).json())["protected"]
    assert RecordChanged(one.id, "protected") in events
    # retention's delete spares it, deletes the other
    assert not await asyncio.to_thread(station.recordings.expire, one.id, "retention: test")
    assert Path(one.location).is_file()

    for body in ({"protected": "yes"}, {"protected": 1}, {}, {"protected": None}):
        resp = await client.put(f"/api/v1/record/{one.id}/", json=body)
        assert resp.status == 422, body
        assert (await resp.json())["detail"][0]["loc"] == ["body", "protected"]
    assert (await client.put("/api/v1/record/nope/", json={"protected": True})).status == 404
    assert (await (await client.get(f"/api/v1/record/{one.id}")).json())["protected"] is True

    # a whole tag, both ways
    resp = await client.put("/api/v1/tag/protect", json={"name": "t", "protected": True})
    assert resp.status == 200, await resp.text()
    assert {r["id"]: r["protected"] for r in await resp.json()} == {one.id: True, other.id: True}
    resp = await client.put("/api/v1/tag/protect/", json={"name": "t", "protected": False})
    assert [r["protected"] for r in await resp.json()] == [False, False]
    listed = await (await client.get("/api/v1/record?tag_name=t")).json()
    assert [r["protected"] for r in listed] == [False, False]
    resp = await client.put("/api/v1/tag/protect", json={"name": "nope", "protected": True})
    assert resp.status == 404
    resp = await client.put("/api/v1/tag/protect", json={"name": "t"})
    assert resp.status == 422


async def test_expire_deletes_the_file_and_keeps_the_record(client, station, caplog):
    records = await asyncio.to_thread(record_tag, station, "old", sources=2)
    gone, kept = records
    events = []
    station.bus.subscribe(events.append)
    caplog.set_level("INFO")
    assert await asyncio.to_thread(station.recordings.expire, gone.id, "retention: older than 7 day(s)")
    assert not Path(gone.location).exists() and Path(kept.location).is_file()
    shown = await (await client.get(f"/api/v1/record/{gone.id}")).json()
    assert shown["status"] == "deleted" and shown["hash_md5"] == gone.hash_md5
    assert shown["deleted_reason"] == "retention: older than 7 day(s)"
    assert shown["deleted_utc"] >= gone.end_utc
    assert RecordChanged(gone.id, "deleted") in events
    assert f"record {gone.id} deleted (retention: older than 7 day(s))" in caplog.text
    assert (await client.get(f"/api/v1/record/{gone.id}/video")).status == 404
    # already deleted, unknown, busy being synced: refused, nothing touched
    assert not await asyncio.to_thread(station.recordings.expire, gone.id, "again")
    assert not await asyncio.to_thread(station.recordings.expire, "nope", "x")
    station.recordings.busy = lambda: {kept.id}
    assert not await asyncio.to_thread(station.recordings.expire, kept.id, "x")
    assert Path(kept.location).is_file()
    # the operator's delete says so too
    station.recordings.busy = set
    resp = await client.delete(f"/api/v1/record/{kept.id}/file", json={"location": kept.location})
    body = await resp.json()
    assert body["status"] == "deleted" and body["deleted_reason"] == "deleted on request"


async def test_a_running_record_is_never_expired(client, station):
    await asyncio.to_thread(record_tag, station, "warmup", sources=1)
    (running,) = await asyncio.to_thread(station.recordings.start, "live", "g")
    try:
        for _ in range(100):  # the reader thread opens the file with its first packet
            if Path(running.location).exists():
                break
            await asyncio.sleep(0.05)
        assert not await asyncio.to_thread(station.recordings.expire, running.id, "x")
        assert Path(running.location).exists()
        assert station.recordings.get(running.id).status.value == "recording"
    finally:
        await asyncio.to_thread(station.recordings.stop, "live")
