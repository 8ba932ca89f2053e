"""`GET /metrics` on a real station with real test-pattern and file sources, read back with
prometheus_client's own parser: what the readers wrote against the file they wrote, the
recording state, the API's requests by dialect, the disk against `StorageService.status`,
retention, the token, and the cost of a scrape in catalog queries."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event

from api.app import create_app
from api.mqtt.bridge import MqttBridge
from api.native.metrics import REGISTRY
from app.schemas import SourceIn
from app.station import build_station, start_station, stop_station
from tests.conftest import make_settings
from tests.support.media import packet_times
from tests.support.mosquitto import MosquittoBroker

TESTSRC = "testsrc://testsrc2?size=320x240&rate=25&gop=2"
TOKEN = "metrics-test-token-3f1c"
P = "recording_station_"


@pytest.fixture
async def client(aiohttp_client, station):
    return await aiohttp_client(create_app(station))


@pytest.fixture
def guarded_station(tmp_path):
    """A second station in the same process, with a token."""
    station = build_station(make_settings(tmp_path / "guarded", token=TOKEN))
    start_station(station)
    yield station
    stop_station(station)


class Scrape:
    """One answer of /metrics, parsed: sample values by name and labels."""

    def __init__(self, text: str):
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.values = {(s.name, frozenset(s.labels.items())): s.value
                       for f in self.families.values() for s in f.samples}

    def get(self, metric: str, default: float | None = None, /, **labels) -> float | None:
        return self.values.get((P + metric, frozenset(labels.items())), default)

    def source(self, name: str, source_id: int) -> float:
        matches = [v for (n, labels), v in self.values.items()
                   if n == P + name and ("source_id", str(source_id)) in labels]
        assert len(matches) == 1, (name, source_id, matches)
        return matches[0]


async def scrape(client, **headers) -> Scrape:
    resp = await client.get("/metrics", headers=headers)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain")
    return Scrape(await resp.text())


async def scrape_until(client, predicate, timeout: float = 15.0) -> Scrape:
    deadline = time.monotonic() + timeout
    while True:
        answer = await scrape(client)
        if predicate(answer):
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"/metrics never showed it; last:\n{answer.values}")
        await asyncio.sleep(0.1)


async def add_source(client, name: str, uri: str) -> int:
    resp = await client.post("/api/v1/source", json={"name": name, "uri_rtsp": uri})
    assert resp.status == 200, await resp.text()
    return (await resp.json())["id"]


async def test_written_packets_and_bytes_follow_the_recording_and_match_its_file(client, station):
    sid = await add_source(client, "cam 1", TESTSRC)
    gid = (await (await client.post("/api/v1/group", json={"name": "hall"})).json())[0]["id"]
    assert (await client.post(f"/api/v1/group/{gid}/source/{sid}")).status == 200

    live = await scrape_until(client, lambda m: m.source("source_fps", sid) > 0)
    assert live.source("source_online", sid) == 1
    assert 15 <= live.source("source_fps", sid) <= 35  # a 25 fps pattern
    assert live.source("source_bitrate_bits_per_second", sid) > 0
    assert live.source("source_read_bytes_total", sid) > 0
    assert live.source("source_recording", sid) == 0
    assert live.source("source_written_packets_total", sid) == 0
    assert ("source", "cam 1") in dict.fromkeys(
        k for (n, labels) in live.values for k in labels if n == P + "source_fps")

    resp = await client.post("/api/v1/record", json={"tag_name": "t1", "group_name": "hall"})
    assert resp.status == 200, await resp.text()
    (record,) = await resp.json()
    first = await scrape_until(client, lambda m: m.source("source_written_packets_total", sid) > 0)
    assert first.source("source_recording", sid) == 1
    assert first.source("source_recording_paused", sid) == 0
    grown = await scrape_until(client, lambda m: m.source("source_written_packets_total", sid)
                               >= first.source("source_written_packets_total", sid) + 25)
    assert grown.source("source_written_bytes_total", sid) \
        > first.source("source_written_bytes_total", sid)

    # paused: the reader goes on reading, nothing more is written
    await asyncio.to_thread(station.recordings.pause, record["id"])
    paused = await scrape(client)
    assert paused.source("source_recording_paused", sid) == 1
    assert paused.source("source_recording", sid) == 1
    later = await scrape_until(client, lambda m: m.source("source_read_bytes_total", sid)
                               > paused.source("source_read_bytes_total", sid) + 20_000)
    assert later.source("source_written_packets_total", sid) \
        == paused.source("source_written_packets_total", sid)
    await asyncio.to_thread(station.recordings.resume, record["id"])
    await scrape_until(client, lambda m: m.source("source_written_packets_total", sid)
                       > paused.source("source_written_packets_total", sid))

    resp = await client.put("/api/v1/record", json={"tag_name": "t1"})
    (done,) = await resp.json()
    stopped = await scrape(client)
    assert stopped.source("source_recording", sid) == 0
    assert stopped.source("source_recording_paused", sid) == 0
    # every packet counted is in the file (no audio in the pattern: video packets only) ...
    assert stopped.source("source_written_packets_total", sid) \
        == len(packet_times(done["location"], "video"))
    # ... and the bytes are the file's less its MP4 structure (moov, a moof per fragment)
    written = stopped.source("source_written_bytes_total", sid)
    assert 0.9 * done["size_bytes"] <= written <= done["size_bytes"]

    # retention deletes the file (over a tiny size cap): counted under its reason
    station.storage.configure(floor_bytes=0, retention_days=0, retention_max_gb=1e-9)
    gone = await scrape_until(client, lambda m: m.get("retention_deletions_total",
                                                      reason="size") == 1)
    assert gone.get("retention_deletions_total", reason="age") == 0
    assert gone.get("retention_deletions_total", reason="floor") == 0


async def test_a_camera_that_reboots_counts_a_reconnect(client, rtsp_camera_small):
    sid = await add_source(client, "ipcam", rtsp_camera_small.url)
    await scrape_until(client, lambda m: m.source("source_online", sid) == 1)
    assert (await scrape(client)).source("source_reconnects_total", sid) == 0
    await asyncio.to_thread(rtsp_camera_small.restart)  # same port: the camera "reboots"
    answer = await scrape_until(client, lambda m: m.source("source_reconnects_total", sid) == 1
                                and m.source("source_online", sid) == 1, timeout=40)
    assert answer.families[P + "source_reconnects"].type == "counter"


async def test_each_dialect_counts_its_requests_and_their_latency(client):
    before = await scrape(client)
    sent = {  # dialect: (method, path, body)
        "native": ("GET", "/api/v1/source", None),
        "device_connect": ("GET", "/gotapi/availability", None),
        "huawei_live": ("POST", "/v1/p1/record/control", {}),
        "huawei_rtc": ("GET", "/v2/apps/a1/individual-stream-jobs/nojob", None),
        "other": ("GET", "/", None),
    }
    seen = {}
    for dialect, (method, path, body) in sent.items():
        resp = await client.request(method, path, json=body)
        seen[dialect] = (method, f"{resp.status // 100}xx")
    after = await scrape(client)
    for dialect, (method, status) in seen.items():
        # `/` and the first scrape (counted once answered) are both "other", GET, 2xx
        extra = 1 if dialect == "other" else 0
        labels = dict(dialect=dialect, method=method, status=status)
        assert after.get("api_requests_total", **labels) \
            == before.get("api_requests_total", 0, **labels) + 1 + extra
        count = "api_request_duration_seconds_count"
        assert after.get(count, dialect=dialect) == before.get(count, 0, dialect=dialect) + 1 + extra
        assert after.get("api_request_duration_seconds_bucket", dialect=dialect, le="+Inf") \
            == after.get(count, dialect=dialect)
    # the path is never a label: ids in paths cannot grow the series
    assert not any("path" in dict(labels) for name, labels in after.values
                   if name.startswith(P + "api_"))


async def test_disk_figures_are_the_storage_status(client, station):
    answer = await scrape(client)
    status = await asyncio.to_thread(station.storage.status)
    for name, fs in (("recordings", status.storage), ("catalog", status.catalog)):
        labels = dict(filesystem=name, path=fs.path)
        assert answer.get("disk_total_bytes", **labels) == fs.total_bytes
        # other programs write to this disk too: the same figure, a moment apart
        assert abs(answer.get("disk_free_bytes", **labels) - fs.free_bytes) < 256 << 20
    assert answer.get("disk_floor_bytes") == status.floor_mb << 20 == station.storage.floor_bytes
    info = answer.get("info", name=station.name, station_id=station.station_id,
                      version=station.version)
    assert info == 1
    assert P + "mqtt_connected" not in answer.families  # no mqtt_url: no bus to be on


async def test_the_token_guards_metrics_and_two_stations_keep_apart(aiohttp_client, station,
                                                                     guarded_station):
    guarded = await aiohttp_client(create_app(guarded_station))
    open_one = await aiohttp_client(create_app(station))
    assert (await guarded.get("/metrics")).status == 401
    assert (await guarded.get("/metrics", headers={"Authorization": "Bearer nope"})).status == 401
    resp = await guarded.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status == 200
    text = await resp.text()
    assert TOKEN not in text
    mine = Scrape(text)
    # the two refusals are counted, under the station that refused them
    assert mine.get("api_requests_total", dialect="other", method="GET", status="4xx") == 2
    assert {dict(labels)["station_id"] for name, labels in mine.values
            if name == P + "info"} == {guarded_station.station_id}
    theirs = await scrape(open_one)
    assert theirs.get("api_requests_total", 0, dialect="other", method="GET", status="4xx") == 0
    assert {dict(labels)["station_id"] for name, labels in theirs.values
            if name == P + "info"} == {station.station_id}


async def test_metrics_is_in_the_openapi_document(client):
    document = await (await client.get("/api/openapi.json")).json()
    operation = document["paths"]["/metrics"]["get"]
    assert "text/plain" in operation["responses"]["200"]["content"]
    assert "401" in operation["responses"]


def test_a_scrape_makes_one_catalog_query_whatever_the_sources(station):
    app = create_app(station)
    for i in range(4):
        station.sources.create(SourceIn(name=f"s{i}", uri_rtsp=TESTSRC))
    mine = threading.get_ident()
    statements: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        if threading.get_ident() == mine:  # the station's own threads query it too
            statements.append(statement)

    event.listen(station.catalog.engine, "before_cursor_execute", note)
    try:
        text = generate_latest(app[REGISTRY]).decode()  # what the handler runs off the loop
    finally:
        event.remove(station.catalog.engine, "before_cursor_execute", note)
    assert len(statements) == 1, statements
    assert len(Scrape(text).families[P + "source_online"].samples) == 4


async def test_mqtt_state_follows_the_broker(aiohttp_client, tmp_path):
    """Debian's mosquitto on loopback: 1 while the bridge is connected, 0 once the broker is
    gone; the broker's password is nowhere in the answer."""
    broker = MosquittoBroker().start()
    station = build_station(make_settings(tmp_path, mqtt_url=broker.url()))
    start_station(station, mqtt=MqttBridge)  # as app.main starts it
    try:
        client = await aiohttp_client(create_app(station))
        await scrape_until(client, lambda m: m.get("mqtt_connected") == 1)
        await asyncio.to_thread(broker.stop)
        await scrape_until(client, lambda m: m.get("mqtt_connected") == 0)
        assert broker.password not in await (await client.get("/metrics")).text()
    finally:
        await asyncio.to_thread(stop_station, station)
        broker.remove()


async def test_a_catalog_that_cannot_answer_still_gives_the_numbers(client, station, caplog):
    sid = await add_source(client, "cam 9", TESTSRC)
    await scrape_until(client, lambda m: m.source("source_online", sid) == 1)
    db = sqlite3.connect(station.catalog.path)
    try:
        db.execute("ALTER TABLE source RENAME TO source_away")  # the names' query now fails
        db.commit()
        answer = await scrape(client)
        assert answer.get("source_online", source_id=str(sid), source="cam 9") == 1
        assert "the catalog cannot name the sources now" in caplog.text
    finally:
        db.execute("ALTER TABLE source_away RENAME TO source")
        db.commit()
        db.close()
