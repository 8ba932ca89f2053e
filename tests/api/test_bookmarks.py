"""Bookmarks through the native API (`/api/v1/bookmark`): create, read, search, change,
delete, what is refused; and retention leaving the file of a record a bookmark falls in, on
the real app, catalog and recorder (test-pattern recordings)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from api.app import create_app
from app.events import CatalogChanged
from app.schemas import SourceIn
from tests.conftest import TESTSRC
from tests.support.recordings import record_tag


@pytest.fixture
async def client(aiohttp_client, station):
    return await aiohttp_client(create_app(station))


def source(station, name: str) -> int:
    return station.sources.create(SourceIn(name=name, uri_rtsp=TESTSRC, enabled=False)).id


async def test_bookmarks_crud_and_search(client, station):
    gate, yard = source(station, "gate"), source(station, "yard")
    events = []
    station.bus.subscribe(events.append)
    made = []
    for source_id, when, title, note in (
            (gate, "2026-11-26T10:15:04.075Z", "van at the gate", "white, no plates"),
            (gate, "2026-11-26T11:00:00Z", "Delivery", None),
            (yard, "2026-11-26T10:30:00+01:00", "fox", "near the VAN shed")):
        resp = await client.post("/api/v1/bookmark", json={
            "source_id": source_id, "time_utc": when, "title": title, "note": note})
        assert resp.status == 200, await resp.text()
        made.append(await resp.json())
    first = made[0]
    assert first["source_name"] == "gate" and first["time_utc"] == "2026-11-26T10:15:04.075Z"
    assert first["note"] == "white, no plates" and first["created_utc"].endswith("Z")
    assert made[2]["time_utc"] == "2026-11-26T09:30:00.000Z"  # kept in UTC
    assert CatalogChanged("bookmark", first["id"], "created") in events

    got = await (await client.get(f"/api/v1/bookmark/{first['id']}")).json()
    assert got == first
    everything = await (await client.get("/api/v1/bookmark")).json()
    assert [b["title"] for b in everything] == ["fox", "van at the gate", "Delivery"]  # time order

    async def titles(query: str) -> list[str]:
        resp = await client.get(f"/api/v1/bookmark?{query}")
        assert resp.status == 200, await resp.text()
        return [b["title"] for b in await resp.json()]

    assert await titles(f"source_id={gate}") == ["van at the gate", "Delivery"]
    assert await titles("q=van") == ["fox", "van at the gate"]  # title or note, any case
    assert await titles(f"q=VAN&source_id={yard}") == ["fox"]
    assert await titles("begin=2026-11-26T10:00:00Z&end=2026-11-26T11:00:00Z") == ["van at the gate"]
    assert await titles("q=100%25") == []  # % is a character, not a wildcard
    assert await titles(f"source_id={gate}&q=nothing") == []

    # only the fields sent change
    resp = await client.put(f"/api/v1/bookmark/{first['id']}", json={"note": "grey, in fact"})
    assert resp.status == 200, await resp.text()
    changed = await resp.json()
    assert changed["note"] == "grey, in fact" and changed["title"] == "van at the gate"
    resp = await client.put(f"/api/v1/bookmark/{first['id']}/", json={
        "source_id": yard, "time_utc": "2026-11-26T12:00:00Z", "title": "moved"})
    changed = await resp.json()
    assert (changed["source_name"], changed["time_utc"], changed["title"]) == (
        "yard", "2026-11-26T12:00:00.000Z", "moved")
    assert await titles(f"source_id={yard}") == ["fox", "moved"]

    resp = await client.delete(f"/api/v1/bookmark/{first['id']}")
    assert resp.status == 200 and (await resp.json())["title"] == "moved"
    assert CatalogChanged("bookmark", first["id"], "deleted") in events
    assert (await client.get(f"/api/v1/bookmark/{first['id']}")).status == 404
    assert (await client.delete(f"/api/v1/bookmark/{first['id']}")).status == 404
    assert await titles("") == ["fox", "Delivery"]


async def test_bookmarks_refused(client, station):
    gate = source(station, "gate")
    good = {"source_id": gate, "time_utc": "2026-11-26T10:00:00Z", "title": "x"}
    for missing in ("source_id", "time_utc", "title"):
        body = {k: v for k, v in good.items() if k != missing}
        resp = await client.post("/api/v1/bookmark", json=body)
        assert resp.status == 422, missing
        assert (await resp.json())["detail"][0]["loc"] == ["body", missing]
    for field, bad in (("title", ""), ("title", "   "), ("time_utc", "yesterday"),
                       ("source_id", "one"), ("note", "n" * 5000), ("title", "t" * 300)):
        resp = await client.post("/api/v1/bookmark", json={**good, field: bad})
        assert resp.status == 422, (field, bad)
        assert (await resp.json())["detail"][0]["loc"] == ["body", field]
    assert (await client.post("/api/v1/bookmark", json={**good, "source_id": 999})).status == 404
    made = await (await client.post("/api/v1/bookmark", json=good)).json()
    resp = await client.put(f"/api/v1/bookmark/{made['id']}", json={"title": None})
    assert resp.status == 422 and (await resp.json())["detail"][0]["loc"] == ["body", "title"]
    resp = await client.put(f"/api/v1/bookmark/{made['id']}", json={"source_id": 999})
    assert resp.status == 404
    assert (await (await client.get(f"/api/v1/bookmark/{made['id']}")).json()) == made
    for query in ("begin=soon", "source_id=x", "q="):
        resp = await client.get(f"/api/v1/bookmark?{query}")
        assert resp.status == 422, query
        assert (await resp.json())["detail"][0]["loc"][0] == "query"
    assert (await client.get("/api/v1/bookmark/abc")).status == 422
    assert (await client.put("/api/v1/bookmark/12345", json={"title": "y"})).status == 404


async def test_a_bookmark_keeps_retention_off_its_record(client, station):
    records = await asyncio.to_thread(record_tag, station, "old", sources=2)
    kept, other = records
    begin = datetime.fromisoformat(kept.begin_utc.replace("Z", "+00:00"))
    resp = await client.post("/api/v1/bookmark", json={
        "source_id": kept.source.id, "time_utc": (begin + timedelta(milliseconds=300)).isoformat(),
        "title": "keep this"})
    assert resp.status == 200, await resp.text()
    mark = await resp.json()
    # a bookmark on the other source, outside its record: protects nothing
    await client.post("/api/v1/bookmark", json={
        "source_id": other.source.id, "time_utc": "2020-01-01T00:00:00Z", "title": "long ago"})
    storage = station.storage
    storage.now = lambda: datetime.now().astimezone() + timedelta(days=3)  # both are old now
    storage.configure(floor_bytes=0, retention_days=1, retention_max_gb=0)  # may start a pass
    timeline = await (await client.get(
        f"/api/v1/source/{kept.source.id}/timeline?begin={kept.begin_utc}&end={kept.end_utc}")).json()
    assert [r["protected"] for r in timeline["records"]] == [True]
    await asyncio.to_thread(storage.retention_pass)  # (the storage thread's own may come first)
    assert Path(kept.location).is_file() and not Path(other.location).exists()
    assert await asyncio.to_thread(storage.retention_pass) == []  # nothing more may go
    # once the bookmark is gone, so is the protection
    assert (await client.delete(f"/api/v1/bookmark/{mark['id']}")).status == 200
    assert await asyncio.to_thread(storage.retention_pass) == [kept.id]
    assert not Path(kept.location).exists()
