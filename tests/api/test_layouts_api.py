"""`/api/v1/layout` (#27 item 1) on the real app, services and catalog: the CRUD round trip,
the shapes for clients, 422s for hostile input, roles (a viewer reads, an operator changes),
the audit trail, and a group-scoped user who sees out-of-scope cells as empty."""

from __future__ import annotations

import pytest

from api.app import create_app
from tests.conftest import TESTSRC

PASSWORD = "correct horse battery"


@pytest.fixture
async def client(aiohttp_client, station):
    return await aiohttp_client(create_app(station))


async def _sign_in(client, name: str) -> dict:
    resp = await client.post("/api/v1/session", json={"name": name, "password": PASSWORD})
    assert resp.status == 201, await resp.text()
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def _source(client, name: str) -> int:
    resp = await client.post("/api/v1/source", json={"name": name, "uri_rtsp": TESTSRC,
                                                     "enabled": False})
    assert resp.status == 200, await resp.text()
    return (await resp.json())["id"]


async def test_layout_round_trip_and_shapes(client, station):
    a, b = await _source(client, "a"), await _source(client, "b")
    shapes = await (await client.get("/api/v1/layout/shapes")).json()
    by_name = {s["name"]: s for s in shapes}
    assert by_name["1+5"]["cells"][0] == {"row": 0, "col": 0, "row_span": 2, "col_span": 2}
    assert (by_name["6x6"]["rows"], len(by_name["6x6"]["cells"])) == (6, 36)
    resp = await client.post("/api/v1/layout", json={"name": "Doors", "shape": "1+5",
                                                     "cells": [b, None, a, None, None, None]})
    assert resp.status == 200, await resp.text()
    made = await resp.json()
    assert made["cells"] == [b, None, a, None, None, None] and made["updated_utc"].endswith("Z")
    one = f"/api/v1/layout/{made['id']}"
    assert await (await client.get(one)).json() == made
    resp = await client.put(one, json={"shape": "2x2", "cells": [a, b, None, None]})
    assert (await resp.json())["cells"] == [a, b, None, None]
    assert [x["name"] for x in await (await client.get("/api/v1/layout")).json()] == ["Doors"]
    assert (await client.delete(one)).status == 200
    assert (await client.get(one)).status == 404
    trail = (await (await client.get("/api/v1/audit", params={"page_size": 100})).json())["items"]
    layout_entries = [e for e in trail if e["action"].endswith(" layout")]
    assert sorted(e["action"] for e in layout_entries) == ["create layout", "delete layout",
                                                           "update layout"]
    changed = next(e for e in layout_entries if e["action"] == "update layout")
    assert changed["target"] == f"layout {made['id']}" and changed["result"] == "200"


@pytest.mark.parametrize("body", [
    {"name": "x", "shape": "7x7"}, {"name": "x", "shape": "2x2", "cells": [None]},
    {"name": "x", "shape": "1x1", "cells": [424242]}, {"name": "x", "shape": "1x1", "cells": [True]},
    {"name": "x", "shape": "1x1", "cells": [2**70]}, {"name": "\u0000x", "shape": "1x1"},
    {"name": "", "shape": "1x1"}, {"name": ["x"], "shape": "1x1"}, {"shape": "1x1"},
    {"name": "x", "shape": {"a": 1}}, {"name": "x", "shape": "1x1", "cells": "1"}])
async def test_hostile_input_is_a_422(client, body):
    resp = await client.post("/api/v1/layout", json=body)
    assert resp.status == 422, await resp.text()
    assert (await client.get("/api/v1/layout")).status == 200


async def test_a_duplicate_name_and_unknown_ids(client):
    assert (await client.post("/api/v1/layout", json={"name": "A", "shape": "1x1"})).status == 200
    assert (await client.post("/api/v1/layout", json={"name": "A", "shape": "2x2"})).status == 422
    for path in ("/api/v1/layout/424242", "/api/v1/layout/99999999999999999999",
                 "/api/v1/layout/-1"):
        assert (await client.get(path)).status in (404, 422), path
    assert (await client.put("/api/v1/layout/424242", json={"name": "B"})).status == 404


async def test_a_viewer_reads_an_operator_changes(client, station):
    station.accounts.create("watcher", PASSWORD, role="viewer")
    station.accounts.create("op", PASSWORD, role="operator")
    viewer, operator = await _sign_in(client, "watcher"), await _sign_in(client, "op")
    made = await (await client.post("/api/v1/layout", headers=operator,
                                    json={"name": "Ops", "shape": "2x2"})).json()
    one = f"/api/v1/layout/{made['id']}"
    assert (await client.get("/api/v1/layout", headers=viewer)).status == 200
    assert (await client.get(one, headers=viewer)).status == 200
    assert (await client.get("/api/v1/layout/shapes", headers=viewer)).status == 200
    assert (await client.post("/api/v1/layout", headers=viewer,
                              json={"name": "V", "shape": "1x1"})).status == 403
    assert (await client.put(one, headers=viewer, json={"name": "V"})).status == 403
    assert (await client.delete(one, headers=viewer)).status == 403
    assert (await client.put(one, headers=operator, json={"name": "Ops 2"})).status == 200
    entries = (await (await client.get("/api/v1/audit",
                                       params={"action": "update layout"})).json())["items"]
    # the refusal is in the trail too
    assert sorted((e["who"].split()[0], e["result"]) for e in entries) == [("op", "200"),
                                                                         ("watcher", "403")]
    assert (await client.delete(one, headers=operator)).status == 200


async def test_a_scoped_user_sees_out_of_scope_cells_empty(client, station):
    lobby_cam, vault_cam = await _source(client, "lobby cam"), await _source(client, "vault cam")
    lobby = (await (await client.post("/api/v1/group", json={"name": "Lobby"})).json())[0]["id"]
    await client.post(f"/api/v1/group/{lobby}/source/{lobby_cam}")
    made = await (await client.post("/api/v1/layout", json={
        "name": "Site", "shape": "2x1", "cells": [vault_cam, lobby_cam]})).json()
    station.accounts.create("guard", PASSWORD, role="operator", scope=[lobby])
    guard = await _sign_in(client, "guard")
    one = f"/api/v1/layout/{made['id']}"
    assert (await (await client.get(one, headers=guard)).json())["cells"] == [None, lobby_cam]
    listed = await (await client.get("/api/v1/layout", headers=guard)).json()
    assert [x["cells"] for x in listed] == [[None, lobby_cam]]
    refused = await client.post("/api/v1/layout", headers=guard,
                                json={"name": "Mine", "shape": "1x1", "cells": [vault_cam]})
    assert refused.status == 422 and "not found" in await refused.text()
    # the guard swaps nothing they cannot see: the vault stays for the admin
    resp = await client.put(one, headers=guard, json={"cells": [None, lobby_cam], "name": "Site 2"})
    assert (await resp.json())["cells"] == [None, lobby_cam]
    assert (await (await client.get(one)).json())["cells"] == [vault_cam, lobby_cam]
    refused = await client.delete(one, headers=guard)
    assert refused.status == 422 and str(vault_cam) not in await refused.text()
    assert (await client.get(one)).status == 200
