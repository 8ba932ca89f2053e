"""`GET /api/v1/audit` on the real app and services (#25 item 6): names beside ids in the
targets, each dialect's own terms in `detail` (a Huawei Live START and STOP name the action,
app and stream; a Device Connect call its profile, attribute, serviceId and target), a picture
handed out audited once a minute per caller, the filters (who, action, source, time, search)
and the CSV (`format=csv` or `Accept: text/csv`) with the same filters and no formula."""

from __future__ import annotations

import csv
import io

import pytest

from api.app import create_app
from tests.support.accounts import dc_as_operator
from tests.api.dc_client import SdkClient
from tests.conftest import TESTSRC


@pytest.fixture
async def client(aiohttp_client, station):
    station.live.replace(station.settings.model_copy(update=dc_as_operator(station)))
    return await aiohttp_client(create_app(station))


async def _audit(client, **params) -> list[dict]:
    resp = await client.get("/api/v1/audit", params={"page_size": 100, **params})
    assert resp.status == 200, await resp.text()
    return list(reversed((await resp.json())["items"]))


async def _csv(client, headers=None, **params) -> list[dict]:
    resp = await client.get("/api/v1/audit", params=params, headers=headers or {})
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in resp.headers["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(await resp.text())))


async def test_targets_and_details_speak_names_and_each_dialects_terms(client, station):
    source = await (await client.post("/api/v1/source", json={
        "name": "Front door", "uri_rtsp": TESTSRC, "enabled": False})).json()
    sid = source["id"]
    group = (await (await client.post("/api/v1/group", json={"name": "Entrances"})).json())[0]
    assert (await client.post(f"/api/v1/group/{group['id']}/source/{sid}")).status == 200

    # Huawei Live: START and STOP of one stream (no stream is pushed: 404s, audited all the same)
    body = {"publish_domain": "d.example", "app": "live", "stream": "cam1"}
    for action in ("START", "STOP"):
        await client.post(f"/v1/proj-sec/record/control?action={action}", json=body)
    # Device Connect: an authorized client mutes the recorder of the source
    sdk = SdkClient(client)
    await sdk.authorize()
    await sdk.discover()
    await sdk.msr("PUT", "mutetrack", target=str(sid))
    # a picture handed out, twice within the minute: one entry
    for _ in range(2):
        await client.get(f"/api/v1/source/{sid}/picture")
    # a record's file asked for (none with this id: 404, audited all the same)
    assert (await client.get(f"/api/v1/record/{'ab' * 16}/video")).status == 404
    # a rename afterwards rewrites no entry
    assert (await client.put(f"/api/v1/source/{sid}", json={"name": "Main door"})).status == 200

    trail = await _audit(client)
    by_action = {}
    for entry in trail:
        by_action.setdefault(entry["action"], []).append(entry)
    [joined] = by_action["add source to group"]
    assert joined["target"] == f"group Entrances ({group['id']}), source Front door ({sid})"
    assert joined["source_ids"] == [sid]
    [start], [stop] = by_action["start recording"], by_action["stop recording"]
    for entry, word in ((start, "START"), (stop, "STOP")):
        assert entry["dialect"] == "huawei-live"
        assert entry["detail"] == (f"POST /v1/{{project_id}}/record/control action={word} "
                                   "publish_domain=d.example app=live stream=cam1")
        assert entry["target"] == 'project proj-sec, app "live", stream "cam1"'
    [muted] = by_action["mute audio"]
    assert muted["dialect"] == "device-connect" and muted["who"].startswith("dc-operator (dc-client:")
    assert muted["detail"] == (f"PUT /gotapi/{{tail}} profile=mediastreamrecording "
                               f"attribute=mutetrack serviceId={sdk.service_id} target={sid}")
    assert muted["target"] == f'source Front door ({sid}), service "{sdk.service_id}"'
    [snapshot] = by_action["take snapshot"]
    assert snapshot["target"] == f"source Front door ({sid})"
    assert snapshot["detail"] == "GET /api/v1/source/{source_id}/picture"
    [download] = by_action["download footage"]
    assert (download["target"], download["result"]) == (f"record {'ab' * 16}", "404")
    [renamed] = by_action["update source"]
    assert renamed["target"] == f'source Main door ({sid}), name "Main door"'
    text = str(trail)
    assert sdk.token not in text and sdk.client_id not in text  # never a secret

    # the filters: who, action, source, a search, the time range
    assert {e["dialect"] for e in await _audit(client, who=muted["who"])} == {"device-connect"}
    assert [e["detail"].split()[2] for e in await _audit(client, q="record/control")] == [
        "action=START", "action=STOP"]
    touched = await _audit(client, source_id=sid)
    assert [e["action"] for e in touched] == ["add source to group", "mute audio",
                                              "take snapshot", "update source"]
    assert await _audit(client, since=snapshot["time"], action="take snapshot") == [snapshot]
    assert [e["action"] for e in await _audit(client, until=start["time"], q="Entrances")] == [
        "create group", "add source to group"]  # until: before it, not at it
    assert (await client.get("/api/v1/audit", params={"since": "yesterday"})).status == 422

    # CSV: the same filters, by the format parameter or the Accept header
    rows = await _csv(client, format="csv", source_id=str(sid))
    assert [r["action"] for r in rows] == list(reversed([e["action"] for e in touched]))
    assert rows[-1]["target"] == joined["target"] and rows[-1]["source_ids"] == str(sid)
    assert [r["action"] for r in await _csv(client, {"Accept": "text/csv"}, q="START")] == [
        "start recording"]


async def test_csv_of_a_hostile_name_starts_no_formula(client):
    resp = await client.post("/api/v1/source", json={"name": "=2+3", "uri_rtsp": TESTSRC,
                                                     "enabled": False})
    assert resp.status == 200, await resp.text()
    sid = (await resp.json())["id"]
    await client.put(f"/api/v1/source/{sid}", json={"description": "x"})
    await client.post("/api/v1/group", json={"name": "@SUM(A1)"})
    rows = await _csv(client, format="csv")
    cells = [cell for row in rows for cell in row.values()]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert any(r["target"] == f'source "=2+3" ({sid})' for r in rows)
    assert any(r["target"] == "'@SUM(A1)" or '"@SUM(A1)"' in r["target"] for r in rows)
