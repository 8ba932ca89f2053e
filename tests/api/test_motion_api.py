"""`GET/PUT /api/v1/source/{id}/motion` (#24) on the real app, station and motion service: the
detector's state and settings, a partial change applied to the service (and so to the
running analyser), every bad value a 422 naming its field with nothing stored, the change in
the audit trail as `change motion settings`, and both routes in the OpenAPI document."""

from __future__ import annotations

import pytest

from api.app import create_app
from app.schemas import SourceIn
from tests.conftest import wait_until

TESTSRC = "testsrc://testsrc2?size=320x240&rate=10&gop=1"
EXCLUDE = {"kind": "exclude", "points": [[0.8, 0.0], [1.0, 0.0], [1.0, 0.1], [0.8, 0.1]]}
DOOR = {"name": "door", "kind": "include", "points": [[0.1, 0.2], [0.4, 0.2], [0.4, 0.9]],
        "sensitivity": 80}


@pytest.fixture
async def client(aiohttp_client, station):
    return await aiohttp_client(create_app(station))


@pytest.fixture
def source_id(station) -> int:
    return station.sources.create(SourceIn(name="gate", uri_rtsp=TESTSRC)).id


def _loc(body: dict) -> list:
    return [entry["loc"] for entry in body["detail"]]


async def test_status_and_a_partial_change(client, station, source_id):
    path = f"/api/v1/source/{source_id}/motion"
    body = await (await client.get(path)).json()
    assert body["source_id"] == source_id
    settings = body["settings"]
    assert (settings["enabled"], settings["algorithm"], settings["fps"]) == (True, "diff", 5.0)
    assert settings["zones"] == [] and settings["night_sensitivity"] is None
    assert set(body) == {"source_id", "settings", "analysing", "rate_fps", "level", "active",
                         "night", "cost_ms", "error"}
    assert body["error"] is None  # only another station's source may be "unknown"
    # no preview stream: the main stream's keyframes only, and the API says so
    wait_until(lambda: station.motion.status(source_id).analysing == "keyframes", 15,
               message="analysed on keyframes")
    body = await (await client.get(path)).json()
    assert body["analysing"] == "keyframes" and body["active"] is False

    resp = await client.put(path, json={"sensitivity": 70, "make_time_s": 1.0,
                                        "zones": [DOOR, EXCLUDE]})
    assert resp.status == 200, await resp.text()
    changed = (await resp.json())["settings"]
    assert changed["sensitivity"] == 70 and changed["make_time_s"] == 1.0
    assert changed["fps"] == 5.0  # not sent: unchanged
    assert [z["name"] for z in changed["zones"]] == ["door", ""]
    assert changed["zones"][0]["points"][1] == [0.4, 0.2]
    assert changed["zones"][0]["sensitivity"] == 80
    # the service holds it (the GUI and the analyser read it there), and so does a GET
    held = station.motion.settings(source_id)
    assert held.sensitivity == 70 and [z.kind for z in held.zones] == ["include", "exclude"]
    assert (await (await client.get(path)).json())["settings"] == changed

    entries = station.audit.list(action="change motion settings").items
    assert len(entries) == 1 and entries[0].result == "200"
    assert entries[0].target == f"source gate ({source_id})"  # the name beside the id (#25)

    # zones: [] removes them all; a null night setting is back to the day's
    resp = await client.put(path, json={"zones": [], "night_sensitivity": None})
    assert resp.status == 200 and (await resp.json())["settings"]["zones"] == []

    resp = await client.put(path, json={"enabled": False})
    assert (await resp.json())["settings"]["enabled"] is False
    wait_until(lambda: station.motion.status(source_id).analysing == "off", 15,
               message="analysis off")


BAD = [
    ({"sensitivty": 5}, "sensitivty"),            # misspelt: not silently ignored
    ({"algorithm": "knn"}, "algorithm"),
    ({"sensitivity": "high"}, "sensitivity"),
    ({"sensitivity": 500}, "sensitivity"),        # vision's own range (1..100)
    ({"fps": 0}, "fps"),
    ({"min_area": 2}, "min_area"),
    ({"zones": [{"kind": "include", "name": "x", "points": [[0, 0], [1, 1]]}]}, "zones"),
    ({"zones": [{"kind": "exclude", "points": [[0, 0], [1, 0], [2, 1]]}]}, "zones"),
]


async def test_a_bad_value_is_a_422_naming_the_field_and_stores_nothing(client, station,
                                                                          source_id):
    before = station.motion.settings(source_id)
    for change, field in BAD:
        resp = await client.put(f"/api/v1/source/{source_id}/motion", json=change)
        assert resp.status == 422, (change, await resp.text())
        locs = _loc(await resp.json())
        assert any(loc[0] == "body" and str(loc[1]).startswith(field) for loc in locs), locs
        assert station.motion.settings(source_id) == before


async def test_an_unknown_source_is_a_404(client):
    assert (await client.get("/api/v1/source/999/motion")).status == 404
    assert (await client.put("/api/v1/source/999/motion", json={"fps": 2})).status == 404
    assert (await client.get("/api/v1/source/x/motion")).status == 422


async def test_both_routes_are_in_the_openapi_document(client):
    document = await (await client.get("/api/openapi.json")).json()
    operations = document["paths"]["/api/v1/source/{source_id}/motion"]
    schemas = document["components"]["schemas"]
    get_ref = operations["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert get_ref["$ref"].endswith("/MotionOut")
    assert {"analysing", "rate_fps", "level", "active", "night", "cost_ms", "settings"} <= \
        set(schemas["MotionOut"]["properties"])
    body = operations["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/MotionSettingsIn")
    assert "zones" in schemas["MotionSettingsIn"]["properties"]
    assert "422" in operations["put"]["responses"]


async def test_metrics_show_each_sources_detector(client, station, source_id):
    """/metrics: the analyser's input, real rate, cost, level and state per source, the same
    figures the motion API gives."""
    from prometheus_client.parser import text_string_to_metric_families

    wait_until(lambda: station.motion.status(source_id).rate_fps > 0, 20,
               message="pictures analysed")

    async def scrape() -> dict:
        text = await (await client.get("/metrics")).text()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for f in text_string_to_metric_families(text) for s in f.samples}

    values = await scrape()
    labels = (("source", "gate"), ("source_id", str(source_id)))
    p = "recording_station_source_motion_"
    assert values[(p + "analysing", tuple(sorted(labels + (("input", "keyframes"),))))] == 1
    assert values[(p + "analysed_fps", labels)] > 0
    assert 0 < values[(p + "cost_seconds", labels)] < 0.5
    assert 0 <= values[(p + "level", labels)] <= 1
    assert values[(p + "active", labels)] in (0, 1) and values[(p + "night", labels)] == 0

    await client.put(f"/api/v1/source/{source_id}/motion", json={"enabled": False})
    wait_until(lambda: station.motion.status(source_id).analysing == "off", 15,
               message="analysis off")
    values = await scrape()
    assert values[(p + "analysing", tuple(sorted(labels + (("input", "off"),))))] == 1
    assert values[(p + "analysed_fps", labels)] == 0
