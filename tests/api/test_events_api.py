"""Events through the native API (`/api/v1/event`): the list with its filters and cursor,
acknowledging one and all (audited), the 422s, the live SSE stream (an event opened through
the service arrives; a reconnect with Last-Event-ID replays what came after it), and
`/metrics`' events by kind and open alarms; on the real app, catalog and services."""

from __future__ import annotations

import asyncio
import json

import pytest

from api.app import create_app
from api.native.events import HEARTBEAT, AckAllOut
from app.schemas import SourceIn
from tests.conftest import TESTSRC, wait_until


@pytest.fixture
async def client(aiohttp_client, station):
    app = create_app(station)
    app[HEARTBEAT] = 0.2
    return await aiohttp_client(app)


def source(station, name: str) -> int:
    return station.sources.create(SourceIn(name=name, uri_rtsp=TESTSRC, enabled=False)).id


async def test_list_and_acknowledge(client, station):
    gate = source(station, "gate")
    made = [station.events.instant("bookmark", source_id=gate, text=f"gate: mark {i}")
            for i in range(3)]
    lost = station.events.open("camera_lost", source_id=gate, text="gate: camera lost")
    resp = await client.get("/api/v1/event")
    assert resp.status == 200, await resp.text()
    assert [e["id"] for e in await resp.json()] == [lost.id] + [e.id for e in made[::-1]]
    got = await (await client.get(f"/api/v1/event?open=true&source_id={gate}")).json()
    assert [(e["kind"], e["end"]) for e in got] == [("camera_lost", None)]
    got = await (await client.get(f"/api/v1/event?after_id={made[0].id}&limit=1")).json()
    assert [e["id"] for e in got] == [made[1].id]  # the one right after the cursor
    resp = await client.put(f"/api/v1/event/{lost.id}/ack")
    assert resp.status == 200, await resp.text()
    acked = await resp.json()
    assert acked["acknowledged_by"] in ("open", "station-token") and acked["acknowledged_at"]
    left = await (await client.get("/api/v1/event?unacknowledged=true")).json()
    assert len(left) == 3
    resp = await client.put(f"/api/v1/event/ack?source_id={gate}&kind=bookmark")
    assert AckAllOut.model_validate(await resp.json()).acknowledged == 3
    assert await (await client.get("/api/v1/event?unacknowledged=true")).json() == []
    assert (await client.put("/api/v1/event/999999/ack")).status == 404
    audited = await asyncio.to_thread(wait_until, lambda: station.audit.list(
        action="acknowledge event").total >= 3, message="the acknowledgements audited")
    assert audited


async def test_the_severity_filter(client, station):
    """`severity`: the list, acknowledge all and the count of the status bar select by it."""
    gate = source(station, "gate")
    lost = station.events.open("camera_lost", source_id=gate, text="gate: camera lost")
    motion = station.events.instant("constant_motion", source_id=gate, text="gate: motion")
    info = station.events.instant("bookmark", source_id=gate, text="gate: a mark")
    for level, ids in (("alarm", [lost.id]), ("warning", [motion.id]), ("info", [info.id])):
        got = await (await client.get(f"/api/v1/event?severity={level}")).json()
        assert [e["id"] for e in got] == ids, level
    assert station.events.count(severity="alarm", unacknowledged=True) == 1
    resp = await client.put("/api/v1/event/ack?severity=alarm")
    assert AckAllOut.model_validate(await resp.json()).acknowledged == 1
    assert station.events.count(severity="alarm", unacknowledged=True) == 0
    got = await (await client.get("/api/v1/event?unacknowledged=true")).json()
    assert [e["id"] for e in got] == [info.id, motion.id]


@pytest.mark.parametrize("query, field, streamed", [
    ("kind=nope", "kind", True), ("kind=DROP%20TABLE", "kind", True), ("limit=0", "limit", False),
    ("limit=5000", "limit", False), ("after_id=-1", "after_id", True),
    ("source_id=abc", "source_id", True), ("open=maybe", "open", True), ("begin=12", "begin", True),
    ("begin=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z", "end", True),
    ("severity=critical", "severity", True),
])
async def test_bad_filters_are_422(client, query, field, streamed):
    """The list and (for the filters it takes) the stream refuse it, naming the field."""
    for path in ("/api/v1/event", "/api/v1/event/stream")[:2 if streamed else 1]:
        resp = await client.get(f"{path}?{query}")
        assert resp.status == 422, (path, query, await resp.text())
        detail = (await resp.json())["detail"]
        assert any(field in d["loc"] for d in detail), detail
    assert (await client.put("/api/v1/event/abc/ack")).status == 422


async def read_messages(resp, count: int, timeout: float = 10.0) -> tuple[list[dict], int]:
    """The next `count` SSE messages (their id and data) and the heartbeats seen meanwhile
    (the stream's heartbeat is 0.2 s here)."""
    messages, beats, block = [], 0, []
    async with asyncio.timeout(timeout):
        while len(messages) < count:
            line = (await resp.content.readline()).decode().rstrip("\n")
            if line.startswith(":"):
                beats += line == ": keep-alive"
            elif line:
                block.append(line)
            elif block:
                fields = dict(part.split(": ", 1) for part in block)
                messages.append({"id": int(fields["id"]), **json.loads(fields["data"])})
                block = []
    return messages, beats


async def test_stream_live_and_resume(client, station):
    gate, yard = source(station, "gate"), source(station, "yard")
    resp = await client.get(f"/api/v1/event/stream?source_id={gate}")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
    station.events.instant("bookmark", source_id=yard, text="yard: not this source")
    lost = await asyncio.to_thread(station.events.open, "camera_lost", source_id=gate,
                                   text="gate: camera lost")
    await asyncio.to_thread(station.events.close, lost.id)
    messages, _ = await read_messages(resp, 2)
    assert [(m["id"], m["change"]) for m in messages] == [(lost.id, "opened"), (lost.id, "closed")]
    assert messages[0]["event"]["end"] is None and messages[1]["event"]["end"]
    resp.close()

    # events while the client is away come first when it reconnects with Last-Event-ID
    missed = [await asyncio.to_thread(station.events.instant, "bookmark", source_id=gate,
                                      text=f"gate: mark {i}") for i in range(3)]
    resp = await client.get(f"/api/v1/event/stream?source_id={gate}",
                            headers={"Last-Event-ID": str(lost.id)})
    assert resp.status == 200
    replayed, _ = await read_messages(resp, 3)
    assert [m["id"] for m in replayed] == [e.id for e in missed]  # oldest first
    live = await asyncio.to_thread(station.events.open, "motion", source_id=gate,
                                   text="gate: motion")
    (message,), _ = await read_messages(resp, 1)
    assert message["id"] == live.id and message["change"] == "opened"
    resp.close()


async def test_stream_heartbeat_and_bad_last_event_id(client):
    resp = await client.get("/api/v1/event/stream")
    async with asyncio.timeout(5):
        while (await resp.content.readline()).decode().strip() != ": keep-alive":
            pass
    resp.close()
    resp = await client.get("/api/v1/event/stream", headers={"Last-Event-ID": "x"})
    assert resp.status == 422
    assert (await resp.json())["detail"][0]["loc"] == ["header", "Last-Event-ID"]


async def test_metrics_count_events(client, station):
    gate = source(station, "gate")
    station.events.open("camera_lost", source_id=gate, text="gate: camera lost")
    station.events.instant("bookmark", source_id=gate, text="gate: mark")
    text = await (await client.get("/metrics")).text()
    assert 'recording_station_events_total{kind="camera_lost"} 1.0' in text
    assert 'recording_station_events_total{kind="bookmark"} 1.0' in text
    assert "recording_station_open_alarms 1.0" in text
