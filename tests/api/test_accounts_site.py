"""A user's requests forwarded to another station of the site (#26 item 3): the forwarding
station signs for whom it asks (`acting_user` in the signed path), and the owner station
applies that user's role and scope and names them in the trail."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from api.server import ApiServer
from app.schemas import GroupIn, SourceIn
from app.station import build_station, start_station, stop_station
from tests.conftest import make_settings, wait_until

CHEAP = "testsrc://?size=160x120&rate=5&gop=1"
PASSWORD = "a site operator's password"
SITE_TOKEN = "the site's service token"  # the stations sign what they forward with it


@pytest.fixture
def site(tmp_path: Path):
    shared = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    stations, servers = [], []
    for name in ("north", "south"):
        st = build_station(make_settings(tmp_path / name, database_url=shared, station_name=name,
                                         token=SITE_TOKEN))
        start_station(st)
        server = ApiServer(st, "127.0.0.1", 0).start()
        st.site.announce(server.url.rstrip("/"))
        stations.append(st)
        servers.append(server)
    yield stations, servers[0].url
    for server in servers:
        server.stop()
    for st in stations:
        stop_station(st)


def _call(url: str, method: str, path: str, body=None, token: str | None = None):
    request = urllib.request.Request(url.rstrip("/") + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_a_forwarded_start_and_stop_act_as_the_user_on_the_owner(site):
    (north, south), north_url = site
    cam_n = north.sources.create(SourceIn(name="cam-n", uri_rtsp=CHEAP)).id
    cam_s = south.sources.create(SourceIn(name="cam-s", uri_rtsp=CHEAP)).id
    cam_v = south.sources.create(SourceIn(name="cam-v", uri_rtsp=CHEAP)).id
    lobby = north.groups.create(GroupIn(name="lobby"))
    vault = north.groups.create(GroupIn(name="vault"))
    north.groups.add_source(lobby.id, cam_n)
    north.groups.add_source(lobby.id, cam_s)
    north.groups.add_source(vault.id, cam_v)
    for st in (north, south):
        st.site.beat()
    wait_until(lambda: north.site.owner(cam_s) == south.station_id, 10, message="south's sources")
    wait_until(lambda: all(st.sources.get(i).status == "online"
                           for st, i in ((north, cam_n), (south, cam_s), (south, cam_v))), 20,
               message="the three test patterns online")
    user = north.accounts.create("lobby-op", PASSWORD, role="operator", scope=[lobby.id])
    status, session = _call(north_url, "POST", "/api/v1/session",
                            {"name": "lobby-op", "password": PASSWORD})
    assert status == 201
    token = session["token"]

    # a start through north: south starts its source for lobby-op, and says so
    status, started = _call(north_url, "POST", "/api/v1/record",
                            {"tag_name": "shift", "group_name": "lobby"}, token)
    assert status == 200, started
    assert sorted(r["source"][0]["id"] if isinstance(r["source"], list) else r["source"]["id"]
                  for r in started) == sorted([cam_n, cam_s])
    south.recordings.start_sources("shift", [cam_v], origin="core")  # the vault, by someone else
    assert south.audit.flush() and north.audit.flush()
    forwarded = [e for e in south.audit.list(action="start recording").items
                 if e.who.startswith("lobby-op (via station")]
    assert forwarded and all(e.result == "200" for e in forwarded), [(e.who, e.action, e.result) for e in south.audit.list().items]

    # a stop by tag through north: each station stops only lobby-op's sources
    status, stopped = _call(north_url, "PUT", "/api/v1/record", {"tag_name": "shift"}, token)
    assert status == 200, stopped
    assert sorted(r["source"]["id"] for r in stopped) == sorted([cam_n, cam_s])
    assert [r.source.id for r in south.recordings.own_running()] == [cam_v]

    # disabled: the owner refuses what the forwarding station still asks for the user
    north.accounts.disable("lobby-op")
    assert south.tokens.identity_of_user(user.id, "via station x") is None
    south.recordings.stop("shift")
