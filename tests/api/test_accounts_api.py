"""User accounts over the native API (#26 items 2, 3 and 5) on the real app, services and
catalog: signing in and out, the role x action matrix over every native route (each declares
the role it needs), a group-scoped user who never sees another group's sources, personal
tokens shown once and revocable, a disabled account's sessions ending at once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp import web

from api.app import create_app
from api.routing import declared_role
from app.accounts.roles import RANK
from tests.conftest import TESTSRC

PASSWORD = "correct horse battery"
ROLES = ("viewer", "operator", "admin")
BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
# Routes not asked in the matrix: signing out ends the very session the matrix uses (its own
# test below), and the media streams never end (their roles are asked with a HEAD-less GET
# that is closed at the headers: see `_ask`).
NOT_IN_MATRIX = {("DELETE", "/api/v1/session")}


@pytest.fixture
async def client(aiohttp_client, station):
    return await aiohttp_client(create_app(station))


async def _sign_in(client, name: str, password: str = PASSWORD) -> str:
    resp = await client.post("/api/v1/session", json={"name": name, "password": password})
    assert resp.status == 201, await resp.text()
    return (await resp.json())["token"]


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def native_routes(app: web.Application):
    """(method, pattern, route) of every route of the native dialect (not the sub-apps')."""
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        if "app" in info:  # a mounted dialect (Device Connect): its own door
            continue
        pattern = route.resource.canonical if route.resource is not None else ""
        if not (pattern.startswith("/api/v1") or pattern.startswith("/test/")):
            continue
        yield route.method, pattern, route


def test_every_native_route_declares_the_role_it_needs(station):
    app = create_app(station)
    missing = [f"{method} {pattern}" for method, pattern, route in native_routes(app)
               if method != "HEAD" and declared_role(app, route) is None]
    assert not missing, f"routes without a role (add_route(..., role=...)): {missing}"
    assert {declared_role(app, route) for _, _, route in native_routes(app)
            if declared_role(app, route)} == set(ROLES)


@BOTH
async def test_the_role_matrix_over_every_native_route(client, station):
    """Each role is refused (403) exactly the routes that need more, before the handler runs;
    every other answer (200, 404 for the made-up ids, 422 for the empty bodies) is not a 403."""
    tokens = {}
    for role in ROLES:
        station.accounts.create(f"m-{role}", PASSWORD, role=role)
        tokens[role] = await _sign_in(client, f"m-{role}")
    app = client.server.app
    asked = 0
    for method, pattern, route in native_routes(app):
        if method == "HEAD" or (method, pattern) in NOT_IN_MATRIX or pattern.endswith("/"):
            continue
        need = declared_role(app, route)
        path = re.sub(r"\{(\w+)\}", lambda m: "abcdef0123456789abcdef0123456789"
                      if m.group(1) in ("record_id", "job_id", "upload_id") else "999999", pattern)
        for role in ROLES:
            status = await _ask(client, method, path, tokens[role])
            if RANK[role] < RANK[need]:
                assert status == 403, f"{role} {method} {pattern}: {status}, needs {need}"
            else:
                assert status not in (401, 403), f"{role} {method} {pattern}: {status}"
            asked += 1
    assert asked > 150


async def _ask(client, method: str, path: str, token: str) -> int:
    kwargs = {"json": {}} if method in ("POST", "PUT") else {}
    headers = _auth(token)
    if method == "PUT" and path.startswith("/api/v1/upload/"):  # a chunk's raw bytes
        kwargs = {"data": b"x"}
        headers["Content-Type"] = "application/octet-stream"
    async with client.request(method, path, headers=headers, **kwargs) as resp:
        return resp.status  # a stream (MJPEG, events) is closed at its headers


async def test_sign_in_who_am_i_and_sign_out(client, station, caplog):
    caplog.set_level("DEBUG")
    station.accounts.create("olga", PASSWORD, role="operator", display_name="Olga")
    wrong = await client.post("/api/v1/session", json={"name": "olga", "password": "nope-nope"})
    assert wrong.status == 401
    assert PASSWORD not in await wrong.text()
    token = await _sign_in(client, "OLGA")  # names are case-blind
    assert token.startswith("rs_")
    me = await (await client.get("/api/v1/session", headers=_auth(token))).json()
    assert me["user"]["name"] == "olga" and me["role"] == "operator" and me["via"] == "session"
    assert "password_hash" not in me["user"]
    assert (await client.delete("/api/v1/session", headers=_auth(token))).status == 200
    assert (await client.get("/api/v1/session", headers=_auth(token))).status == 401
    entries = (await (await client.get("/api/v1/audit", params={"action": "sign in"})).json())["items"]
    assert sorted(e["result"] for e in entries) == ["201", "401"]
    assert {e["who"] for e in entries if e["result"] == "201"} == {"olga"}
    text = str(entries)
    assert PASSWORD not in text and "nope-nope" not in text and token not in text
    assert PASSWORD not in caplog.text and token not in caplog.text
    by_user = (await (await client.get("/api/v1/audit", params={"user": "olga"})).json())["items"]
    assert {e["action"] for e in by_user} >= {"sign in", "sign out"}
    assert all(e["who"] == "olga" or e["who"].startswith("olga (") for e in by_user)
    # never in clear: not in the catalog's file, its WAL, nor the log
    files = [p for p in station.settings.data_dir.glob("catalog.sqlite3*") if p.is_file()]
    assert files and not any(PASSWORD.encode() in p.read_bytes() or token.encode() in p.read_bytes()
                             for p in files)


async def test_a_sign_in_brute_force_is_locked_out(client, station):
    station.accounts.create("vic", PASSWORD, role="viewer")
    statuses = []
    for attempt in range(12):
        resp = await client.post("/api/v1/session", json={"name": "vic", "password": f"guess-{attempt}"})
        statuses.append(resp.status)
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
    right = await client.post("/api/v1/session", json={"name": "vic", "password": PASSWORD})
    assert right.status == 429  # the right password does not get through a lockout either


@BOTH
async def test_a_group_scoped_user_never_sees_another_groups_sources(client, station):
    made = {}
    for name in ("lobby cam", "vault cam"):
        made[name] = (await (await client.post("/api/v1/source", json={
            "name": name, "uri_rtsp": TESTSRC, "enabled": False})).json())["id"]
    lobby = (await (await client.post("/api/v1/group", json={"name": "Lobby"})).json())[0]["id"]
    vault = (await (await client.post("/api/v1/group", json={"name": "Vault"})).json())[0]["id"]
    await client.post(f"/api/v1/group/{lobby}/source/{made['lobby cam']}")
    await client.post(f"/api/v1/group/{vault}/source/{made['vault cam']}")
    bookmark = await (await client.post("/api/v1/bookmark", json={
        "source_id": made["vault cam"], "time_utc": "2026-12-01T10:00:00Z", "title": "vault"})).json()
    station.accounts.create("guard", PASSWORD, role="operator", scope=[lobby])
    headers = _auth(await _sign_in(client, "guard"))
    vault_id = made["vault cam"]

    listed = await (await client.get("/api/v1/source", headers=headers)).json()
    assert [s["name"] for s in listed] == ["lobby cam"]
    groups = await (await client.get("/api/v1/group", headers=headers)).json()
    assert [g["name"] for g in groups] == ["Lobby"]
    unknown = await client.get("/api/v1/source/987654", headers=headers)
    for path in (f"/api/v1/source/{vault_id}", f"/api/v1/source/{vault_id}/timeline",
                 f"/api/v1/source/{vault_id}/motion", f"/api/v1/group/{vault}",
                 f"/api/v1/bookmark/{bookmark['id']}"):
        resp = await client.get(path, headers=headers)
        assert resp.status == 404, path
    assert unknown.status == 404
    # named in a body or a query: the same 404 an unknown source gets
    start = await client.post("/api/v1/record/sources", headers=headers,
                              json={"tag_name": "t1", "source_ids": [made["lobby cam"], vault_id]})
    assert start.status == 404 and "vault" not in await start.text()
    export = await client.get("/api/v1/export", headers=headers, params={
        "source_ids": str(vault_id), "begin": "2026-12-01T00:00:00Z", "end": "2026-12-01T00:01:00Z"})
    assert export.status == 404
    group_start = await client.post("/api/v1/record", headers=headers,
                                    json={"tag_name": "t2", "group_name": "Vault"})
    assert group_start.status == 404
    marks = await (await client.get("/api/v1/bookmark", headers=headers)).json()
    assert marks == []
    # events: the list and the live stream's replay carry the vault's bookmark to the admin only
    await client.post("/api/v1/bookmark", json={
        "source_id": made["lobby cam"], "time_utc": "2026-12-01T10:01:00Z", "title": "lobby"})
    seen = await (await client.get("/api/v1/event")).json()
    assert {e["source_id"] for e in seen} >= {vault_id, made["lobby cam"]}
    mine = await (await client.get("/api/v1/event", headers=headers)).json()
    assert mine and {e["source_id"] for e in mine} <= {made["lobby cam"], None}
    assert (await client.get(f"/api/v1/event?source_id={vault_id}", headers=headers)).status == 404
    async with client.get("/api/v1/event/stream", params={"after_id": 0},
                          headers=headers) as stream:
        replay = b""
        while replay.count(b"\n\ndata") + replay.count(b"\ndata:") < len(mine):
            replay += await stream.content.readany()
    assert b'"source_id":%d' % made["lobby cam"] in replay
    assert b'"source_id":%d' % vault_id not in replay
    # the admin (the station's door without a user) still sees both
    assert len(await (await client.get("/api/v1/source")).json()) == 2


async def test_personal_tokens_are_shown_once_capped_and_revocable(client, station):
    user = station.accounts.create("script", PASSWORD, role="operator")
    session = _auth(await _sign_in(client, "script"))
    made = await client.post(f"/api/v1/user/{user.id}/token", headers=session,
                             json={"name": "wall script", "role": "viewer"})
    assert made.status == 201
    token = (await made.json())["token"]
    listed = await (await client.get(f"/api/v1/user/{user.id}/token", headers=session)).json()
    assert token not in str(listed) and "token_hash" not in str(listed)
    assert {t["name"] for t in listed} == {"session", "wall script"}
    me = await (await client.get("/api/v1/session", headers=_auth(token))).json()
    assert me["role"] == "viewer" and me["via"] == "token wall script"
    refused = await client.post("/api/v1/record/sources", headers=_auth(token),
                                json={"tag_name": "x", "source_ids": [1]})
    assert refused.status == 403  # the token's cap, below its user's operator
    token_id = next(t["id"] for t in listed if t["name"] == "wall script")
    # another (non-admin) user cannot see or revoke it: that account does not exist for them
    station.accounts.create("other", PASSWORD, role="operator")
    other = _auth(await _sign_in(client, "other"))
    assert (await client.delete(f"/api/v1/user/{user.id}/token/{token_id}", headers=other)).status == 404
    assert (await client.delete(f"/api/v1/user/{user.id}/token/{token_id}", headers=session)).status == 200
    assert (await client.get("/api/v1/session", headers=_auth(token))).status == 401


async def test_admin_manages_users_and_a_disabled_users_session_ends(client, station):
    station.accounts.create("boss", PASSWORD, role="admin")
    admin = _auth(await _sign_in(client, "boss"))
    made = await client.post("/api/v1/user", headers=admin, json={
        "name": "Dana", "password": "another long one", "role": "viewer"})
    assert made.status == 201, await made.text()
    dana = await made.json()
    assert dana["name"] == "dana" and "password" not in str(dana)
    session = _auth(await _sign_in(client, "dana", "another long one"))
    assert (await client.get("/api/v1/user", headers=session)).status == 403
    changed = await client.put(f"/api/v1/user/{dana['id']}", headers=admin,
                               json={"role": "operator", "enabled": False})
    assert changed.status == 200 and (await changed.json())["enabled"] is False
    assert (await client.get("/api/v1/session", headers=session)).status == 401
    last_admin = await client.put(f"/api/v1/user/{station.accounts.get('boss').id}",
                                  headers=admin, json={"role": "viewer"})
    assert last_admin.status == 422
    # a user changes their own password with the current one; every session ends
    await client.put(f"/api/v1/user/{dana['id']}", headers=admin, json={"enabled": True})
    session = _auth(await _sign_in(client, "dana", "another long one"))
    wrong = await client.put(f"/api/v1/user/{dana['id']}/password", headers=session,
                             json={"password": "a new long password", "current_password": "x"})
    assert wrong.status == 422
    right = await client.put(f"/api/v1/user/{dana['id']}/password", headers=session, json={
        "password": "a new long password", "current_password": "another long one"})
    assert right.status == 200
    assert (await client.get("/api/v1/session", headers=session)).status == 401
    await _sign_in(client, "dana", "a new long password")
    assert (await client.delete(f"/api/v1/user/{dana['id']}", headers=admin)).status == 200
    assert (await client.get("/api/v1/user", headers=admin)).status == 200


def test_the_documented_matrix_is_the_routes_own(station):
    """docs/security.md's role matrix is what the routes declare, row for row."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
    block = text.split("<!-- role-matrix:begin -->", 1)[1].split("<!-- role-matrix:end -->", 1)[0]
    documented = set()
    for line in block.splitlines():
        found = re.fullmatch(r"\| `([^`]+)` \| (.+) \|", line.strip())
        if found:
            for pair in found.group(2).split(", "):
                method, role = pair.split(" ")
                documented.add((method, found.group(1), role))
    app = create_app(station)
    declared = {(method, pattern, declared_role(app, route))
                for method, pattern, route in native_routes(app)
                if method != "HEAD" and not pattern.endswith("/")}
    assert documented == declared, (sorted(documented - declared), sorted(declared - documented))
