"""`GET /api/v1/source/{id}/timeline`: the spans of a source across several records, the
outages inside them and its bookmarks, with "now" and a running record; the range checked.
Real recordings of a test pattern through the real recorder and catalog."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from api.app import create_app
from app.models import Record
from app.schemas import SourceIn, iso_utc
from tests.conftest import TESTSRC, wait_until


@pytest.fixture
async def client(aiohttp_client, station):
    return await aiohttp_client(create_app(station))


def record_twice(station) -> tuple[int, list]:
    """One source recorded under tag `a`, then under `b` a second later: two records with a
    hole between them; an outage written into the first as the recorder writes one."""
    src = station.sources.create(SourceIn(name="cam", uri_rtsp=TESTSRC)).id
    wait_until(lambda: station.sources.get(src).status.value == "online", 10, message="online")
    time.sleep(1.0)
    records = []
    for tag in ("a", "b"):
        if records:
            time.sleep(2.5)  # the hole: more than the pre-roll the next start takes from the buffer
        station.recordings.start_sources(tag, [src], origin="test")
        time.sleep(1.0)
        records += station.recordings.stop(tag)
    with station.catalog.session() as s:
        row = s.exec(select(Record).where(Record.id == records[0].id)).one()
        row.gaps = [gap_in(records[0])]
        s.add(row)
    return src, [station.recordings.get(r.id) for r in records]


def gap_in(record) -> dict[str, str]:
    """An outage from 0.2 s to 0.5 s into the record."""
    begin = datetime.fromisoformat(record.begin_utc.replace("Z", "+00:00"))
    return {"begin_utc": iso_utc(begin + timedelta(seconds=0.2)),
            "end_utc": iso_utc(begin + timedelta(seconds=0.5))}


def shifted(moment: str, seconds: float) -> str:
    return iso_utc(datetime.fromisoformat(moment.replace("Z", "+00:00")) + timedelta(seconds=seconds))


async def test_spans_across_records_gaps_and_bookmarks(client, station):
    src, (a, b) = await asyncio.to_thread(record_twice, station)
    assert a.end_utc < b.begin_utc  # the hole between the two
    mark = await (await client.post("/api/v1/bookmark", json={
        "source_id": src, "time_utc": gap_in(b)["end_utc"], "title": "second"})).json()
    await client.post("/api/v1/bookmark", json={  # outside the range asked: not listed
        "source_id": src, "time_utc": "2020-01-01T00:00:00Z", "title": "old"})

    begin, end = a.begin_utc, b.end_utc
    resp = await client.get(f"/api/v1/source/{src}/timeline?begin={begin}&end={end}")
    assert resp.status == 200, await resp.text()
    spans = await resp.json()
    assert spans["source_id"] == src and spans["source_name"] == "cam"
    assert (spans["begin_utc"], spans["end_utc"]) == (begin, end)
    assert spans["now_utc"] >= b.end_utc and spans["truncated"] is False
    assert [(r["id"], r["tag_name"], r["status"], r["begin_utc"], r["end_utc"])
            for r in spans["records"]] == [(a.id, "a", "finished", a.begin_utc, a.end_utc),
                                           (b.id, "b", "finished", b.begin_utc, b.end_utc)]
    assert spans["records"][0]["location"] == a.location
    assert [r["protected"] for r in spans["records"]] == [False, True]  # the bookmark's record
    assert spans["gaps"] == [{"record_id": a.id, **gap_in(a)}]
    assert [m["id"] for m in spans["bookmarks"]] == [mark["id"]]

    # a range inside the hole holds nothing; one from inside `b` holds `b` only
    hole = await (await client.get(
        f"/api/v1/source/{src}/timeline?begin={shifted(a.end_utc, 0.5)}"
        f"&end={shifted(b.begin_utc, -0.5)}")).json()
    assert hole["records"] == [] and hole["gaps"] == [] and hole["bookmarks"] == []
    later = await (await client.get(
        f"/api/v1/source/{src}/timeline?begin={b.begin_utc}&end={b.end_utc}")).json()
    assert [r["id"] for r in later["records"]] == [b.id]

    # a record running now ends "now"
    await asyncio.to_thread(station.recordings.start_sources, "c", [src], origin="test")
    await asyncio.sleep(0.5)
    soon = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    spans = await (await client.get(
        f"/api/v1/source/{src}/timeline?begin={b.end_utc}&end={soon}")).json()
    running = [r for r in spans["records"] if r["tag_name"] == "c"]
    assert len(running) == 1 and running[0]["status"] == "recording"
    assert running[0]["end_utc"] == spans["now_utc"]
    await asyncio.to_thread(station.recordings.stop, "c")


async def test_timeline_range_checked(client, station):
    src = station.sources.create(SourceIn(name="cam", uri_rtsp=TESTSRC, enabled=False)).id
    url = f"/api/v1/source/{src}/timeline"
    for query, field in (("end=2026-11-26T10:00:00Z", "begin"),
                         ("begin=2026-11-26T10:00:00Z", "end"),
                         ("begin=noon&end=2026-11-26T10:00:00Z", "begin"),
                         ("begin=2026-11-26T10:00:00Z&end=2026-11-26T10:00:00Z", "end"),
                         ("begin=2026-11-26T10:00:00Z&end=2026-11-26T09:00:00Z", "end"),
                         ("begin=2026-09-01T00:00:00Z&end=2026-11-26T00:00:00Z", "end")):
        resp = await client.get(f"{url}?{query}")
        assert resp.status == 422, query
        assert (await resp.json())["detail"][0]["loc"] == ["query", field], query
    ok = await client.get(f"{url}?begin=2026-10-26T00:00:00Z&end=2026-11-26T00:00:00Z")
    assert ok.status == 200 and (await ok.json())["records"] == []
    missing = await client.get("/api/v1/source/999/timeline?begin=2026-11-26T00:00:00Z"
                               "&end=2026-11-26T01:00:00Z")
    assert missing.status == 404


async def test_has_footage_is_the_services_word_for_records_and_spans(client, station):
    """An `interrupted` record (a crash left it open; closed with its file) has footage, as
    the README says, in the record, the timeline span and the download alike; a deleted one
    has none."""
    src, (a, b) = await asyncio.to_thread(record_twice, station)
    with station.catalog.session() as s:
        for record_id, status in ((a.id, "interrupted"), (b.id, "deleted")):
            row = s.exec(select(Record).where(Record.id == record_id)).one()
            row.status = status
            s.add(row)
    record = await (await client.get(f"/api/v1/record/{a.id}")).json()
    assert (record["status"], record["has_footage"]) == ("interrupted", True)
    gone = await (await client.get(f"/api/v1/record/{b.id}")).json()
    assert (gone["status"], gone["has_footage"]) == ("deleted", False)
    spans = await (await client.get(
        f"/api/v1/source/{src}/timeline?begin={a.begin_utc}&end={b.end_utc}")).json()
    assert [(r["id"], r["has_footage"]) for r in spans["records"]] == [(a.id, True), (b.id, False)]
    assert (await client.get(f"/api/v1/record/{a.id}/video")).status == 200
    assert (await client.get(f"/api/v1/record/{b.id}/video")).status == 404
