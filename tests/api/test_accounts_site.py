"""A user's requests forwarded to another station of the site (#26 item 3): the forwarding
station signs for whom it asks (`acting_user` in the signed path), and the owner station
applies that user's role and scope and names them in the trail."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.schemas import GroupIn, SourceIn
from tests.conftest import wait_until
from tests.support.site_pair import call, two_stations

CHEAP = "testsrc://?size=160x120&rate=5&gop=1"
PASSWORD = "a site operator's password"
SITE_TOKEN = "the site's service token"  # the stations sign what they forward with it


@pytest.fixture
def site(tmp_path: Path):
    with two_stations(tmp_path, SITE_TOKEN) as pair:
        yield pair


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
    status, session = call(north_url, "POST", "/api/v1/session",
                            {"name": "lobby-op", "password": PASSWORD})
    assert status == 201
    token = session["token"]

    # a start through north: south starts its source for lobby-op, and says so
    status, started = call(north_url, "POST", "/api/v1/record",
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
    status, stopped = call(north_url, "PUT", "/api/v1/record", {"tag_name": "shift"}, token)
    assert status == 200, stopped
    assert sorted(r["source"]["id"] for r in stopped) == sorted([cam_n, cam_s])
    assert [r.source.id for r in south.recordings.own_running()] == [cam_v]

    # disabled: the owner refuses what the forwarding station still asks for the user
    north.accounts.disable("lobby-op")
    assert south.tokens.identity_of_user(user.id, "via station x") is None
    south.recordings.stop("shift")
