"""`GET /api/v1/motion/search` and `GET /api/v1/source/{id}/motion/heatmap` (#28): hits with
their records as JSON, the heat map as JSON and PNG, hostile input a 422 naming the field, a
group-scoped user's 404 for a source they cannot see. A real started station (SQLite) whose
grid store holds minutes written through it (the scene itself is tests/app/test_motion_grids.py)
and a record placed over them."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from api.app import create_app
from app.motion_search import GRID_COLS, GRID_ROWS
from app.motion_search.grids import StoredMinute, pack
from app.schemas import SourceIn
from tests.conftest import wait_until
from tests.support.placed_records import place_record
from tests.support.site_pair import call, two_stations

PASSWORD = "correct horse battery"
SITE_TOKEN = "the site's service token"
BASE = datetime(2026, 12, 1, 10, 0, 0, tzinfo=timezone.utc)
SEARCH = "/api/v1/motion/search"


@pytest.fixture
async def client(aiohttp_client, station):
    return await aiohttp_client(create_app(station))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def _sources(client, *names: str) -> list[int]:
    ids = []
    for name in names:
        resp = await client.post("/api/v1/source", json={
            "name": name, "uri_rtsp": "rtsp://127.0.0.1:9/none", "enabled": False})
        assert resp.status == 200, await resp.text()
        ids.append((await resp.json())["id"])
    return ids


def _store(station, source_id: int) -> None:
    """Motion in the picture's top-left cell at 10:00:05-07, bottom-right at 10:00:40."""
    grids = np.zeros((60, GRID_ROWS, GRID_COLS), bool)
    grids[5:8, 0, 0] = True
    grids[40, GRID_ROWS - 1, GRID_COLS - 1] = True
    station.motion_grids.insert([StoredMinute(source_id, int(BASE.timestamp()), *pack(grids))])


async def test_search_and_heatmap(client, station):
    door, yard = await _sources(client, "door", "yard")
    _store(station, door)
    _store(station, yard)
    record = place_record(station, station.settings.recordings_dir, door, "day", BASE, 30.0)
    query = {"begin": _iso(BASE), "end": _iso(BASE + timedelta(minutes=5))}
    params = [("source_id", door), ("source_id", yard), ("region", "0,0,0.1,0.1"),
              *query.items(), ("merge_s", "0")]
    resp = await client.get(SEARCH, params=params)
    assert resp.status == 200, await resp.text()
    hits = (await resp.json())["hits"]
    assert [(h["source_id"], h["begin"], h["end"], h["record_ids"]) for h in hits] == [
        (door, "2026-12-01T10:00:05.000Z", "2026-12-01T10:00:08.000Z", [record]),
        (yard, "2026-12-01T10:00:05.000Z", "2026-12-01T10:00:08.000Z", [])]
    assert hits[0]["peak"] == pytest.approx(1 / 8)  # 1 of the region's 4x2 cells
    both = await (await client.get(SEARCH, params=[
        ("source_id", door), ("region", "0,0,0.1,0.1"), ("region", "0.9,0.9,1,1"),
        *query.items(), ("merge_s", "60")])).json()
    assert [(h["begin"], h["end"]) for h in both["hits"]] == [
        ("2026-12-01T10:00:05.000Z", "2026-12-01T10:00:41.000Z")]

    heat = f"/api/v1/source/{door}/motion/heatmap"
    found = await (await client.get(heat, params=query)).json()
    assert (found["cols"], found["rows"]) == (GRID_COLS, GRID_ROWS)
    assert found["counts"][0][0] == 3 and found["counts"][-1][-1] == 1
    assert sum(map(sum, found["counts"])) == 4
    png = await client.get(heat, params={**query, "format": "png"})
    assert png.status == 200 and png.content_type == "image/png"
    assert (await png.read()).startswith(b"\x89PNG")


async def test_hostile_input_is_a_422(client, station):
    (door,) = await _sources(client, "door")
    good = {"source_id": str(door), "begin": _iso(BASE), "end": _iso(BASE + timedelta(hours=1)),
            "region": "0,0,1,1"}
    year = _iso(BASE + timedelta(days=367))
    for change in ({"region": "nan,0,1,1"}, {"region": "0,0,1.5,1"}, {"region": "0,0,1"},
                   {"region": "0.5,0,0.5,1"}, {"region": "a,b,c,d"}, {"region": "inf,0,1,1"},
                   {"end": year}, {"end": good["begin"]}, {"begin": good["end"]},
                   {"min_cells": "0"}, {"merge_s": "nan"}, {"merge_s": "-1"},
                   {"source_id": "x"}, {"begin": "yesterday"}):
        resp = await client.get(SEARCH, params={**good, **change})
        assert resp.status == 422, (change, await resp.text())
    many = [(k, v) for k, v in good.items() if k != "region"] + [("region", "0,0,1,1")] * 17
    assert (await client.get(SEARCH, params=many)).status == 422
    missing = {k: v for k, v in good.items() if k != "region"}
    assert (await client.get(SEARCH, params=missing)).status == 422
    heat = f"/api/v1/source/{door}/motion/heatmap"
    assert (await client.get(heat, params={"begin": good["begin"], "end": year})).status == 422
    assert (await client.get(heat, params={"begin": good["begin"], "end": good["end"],
                                           "format": "gif"})).status == 422
    for unknown in (door + 99, 2**70, -1):
        assert (await client.get(SEARCH, params={**good, "source_id": str(unknown)})).status == 404
    early = {**good, "begin": "0001-01-01T00:00:00+01:00"}
    assert (await client.get(SEARCH, params=early)).status == 422


async def test_a_scoped_user_sees_only_their_sources(client, station):
    lobby_cam, vault_cam = await _sources(client, "lobby cam", "vault cam")
    lobby = (await (await client.post("/api/v1/group", json={"name": "Lobby"})).json())[0]["id"]
    await client.post(f"/api/v1/group/{lobby}/source/{lobby_cam}")
    station.accounts.create("guard", PASSWORD, role="viewer", scope=[lobby])
    resp = await client.post("/api/v1/session", json={"name": "guard", "password": PASSWORD})
    guard = {"Authorization": f"Bearer {(await resp.json())['token']}"}
    query = {"begin": _iso(BASE), "end": _iso(BASE + timedelta(hours=1)), "region": "0,0,1,1"}
    mine = await client.get(SEARCH, headers=guard, params={**query, "source_id": lobby_cam})
    assert mine.status == 200, await mine.text()
    for params in ([*query.items(), ("source_id", vault_cam)],
                   [*query.items(), ("source_id", lobby_cam), ("source_id", vault_cam)]):
        assert (await client.get(SEARCH, headers=guard, params=params)).status == 404
    heat = await client.get(f"/api/v1/source/{vault_cam}/motion/heatmap", headers=guard,
                            params={"begin": query["begin"], "end": query["end"]})
    assert heat.status == 404


def test_another_stations_source_is_searched_by_its_owner(tmp_path):
    """North asks south for south's source: south answers with the minute it has not stored
    yet (only it can); once south has stored it, north finds it in the shared catalog too."""
    with two_stations(tmp_path, SITE_TOKEN) as ((north, south), north_url):
        sid = south.sources.create(SourceIn(name="south door", uri_rtsp="rtsp://127.0.0.1:9/x",
                                            enabled=False)).id
        wait_until(lambda: north.site.owner(sid) == south.station_id, 10,
                   message="north knows south owns the source")
        changed = np.zeros((101, 180), np.uint8)
        changed[10:20, 10:20] = 255  # the top-left cells
        now = time.time()
        south.motion_grids.add(sid, now, changed)  # as south's analyser does: in memory only
        begin, end = _iso(datetime.fromtimestamp(now - 60, timezone.utc)), \
            _iso(datetime.fromtimestamp(now + 60, timezone.utc))
        path = f"{SEARCH}?source_id={sid}&begin={begin}&end={end}&region=0,0,0.2,0.2"
        status, found = call(north_url, "GET", path, token=SITE_TOKEN)
        assert status == 200 and [h["source_id"] for h in found["hits"]] == [sid], found
        status, heat = call(north_url, "GET", f"/api/v1/source/{sid}/motion/heatmap?begin={begin}"
                            f"&end={end}", token=SITE_TOKEN)
        assert status == 200 and heat["counts"][1][1] == 1, heat
        north_own = north.motion_search.search([sid], datetime.fromtimestamp(now - 60, timezone.utc),
                                               datetime.fromtimestamp(now + 60, timezone.utc),
                                               [(0, 0, 0.2, 0.2)], forwarded=True)
        assert north_own == [], "north's own catalog has nothing yet: the hit was south's"
        south.motion_grids.flush()
        assert north.motion_search.search([sid], datetime.fromtimestamp(now - 60, timezone.utc),
                                          datetime.fromtimestamp(now + 60, timezone.utc),
                                          [(0, 0, 0.2, 0.2)], forwarded=True) != []
        # south stopped: north no longer asks it and answers from what south stored
        south.site.stop()
        wait_until(lambda: north.site.offline_reason(south.station_id) is not None, 15,
                   message="north sees south offline")
        status, found = call(north_url, "GET", path, token=SITE_TOKEN)
        assert status == 200 and [h["source_id"] for h in found["hits"]] == [sid], found
