"""Device Connect applications act as a user account (#26): auto-approved on loopback as
`dc_user` (the viewer role when it names none), or as the account the operator chose. A call
beyond that user's role is errorCode 14, whatever scopes the token holds; a recorder outside
the user's scope does not exist for it; the audit trail names the user and the application."""

from __future__ import annotations

import pytest

from api.app import create_app
from app.schemas import GroupIn, SourceIn
from tests.api.dc_client import SdkClient
from tests.conftest import wait_until

CHEAP = "testsrc://?size=160x120&rate=5&gop=1"


@pytest.fixture
async def http(aiohttp_client, station):
    station.live.replace(station.settings.model_copy(update={"dc_auto_approve": True}))
    return await aiohttp_client(create_app(station))


def _sources(station, live: bool = False):
    lobby = station.sources.create(SourceIn(name="lobby", uri_rtsp=CHEAP, enabled=live))
    vault = station.sources.create(SourceIn(name="vault", uri_rtsp=CHEAP, enabled=False))
    group = station.groups.create(GroupIn(name="Lobby"))
    station.groups.add_source(group.id, lobby.id)
    return lobby.id, vault.id, group.id


async def _app(http) -> SdkClient:
    sdk = SdkClient(http)
    await sdk.authorize()
    await sdk.discover()
    return sdk


async def test_without_dc_user_an_application_only_watches(http, station):
    lobby, _, _ = _sources(station)
    sdk = await _app(http)
    listed = await sdk.msr("GET", "mediarecorder")
    assert listed["result"] == 0 and len(listed["recorders"]) == 2  # a viewer sees and watches
    for method, attribute in (("POST", "record"), ("PUT", "mutetrack"), ("POST", "takephoto")):
        answer = await sdk.msr(method, attribute, target=str(lobby))
        assert (answer["result"], answer.get("errorCode")) == (1, 14), (attribute, answer)
        assert "viewer" in answer["errorMessage"]
    assert not station.recordings.own_running()


async def test_an_application_acting_as_a_scoped_operator(http, station):
    lobby, vault, group = _sources(station, live=True)
    wait_until(lambda: station.sources.get(lobby).status == "online", 15, message="lobby online")
    station.accounts.create("door-app", "door app password", role="operator", scope=[group])
    station.live.replace(station.settings.model_copy(update={"dc_user": "door-app"}))
    sdk = await _app(http)
    listed = await sdk.msr("GET", "mediarecorder")
    assert [r["name"] for r in listed["recorders"]] == ["lobby"]
    refused = await sdk.msr("POST", "record", target=str(vault))
    assert refused["result"] == 1 and refused.get("errorCode") != 14
    assert "vault" not in str(refused)
    started = await sdk.msr("POST", "record", target=str(lobby))
    assert started["result"] == 0, started
    assert [r.source.id for r in station.recordings.own_running()] == [lobby]
    assert station.audit.flush()
    entries = station.audit.list(dialect="device-connect", action="start recording").items
    assert {e.result for e in entries} >= {"200"}
    assert all(e.who.startswith("door-app (dc-client:") for e in entries)
    station.recordings.stop_all()


async def test_a_disabled_dc_user_falls_back_to_watching(http, station):
    lobby, _, _ = _sources(station)
    station.accounts.create("door-app", "door app password", role="operator")
    station.accounts.create("boss", "boss password 1", role="admin")
    station.accounts.disable("door-app")
    station.live.replace(station.settings.model_copy(update={"dc_user": "door-app"}))
    sdk = await _app(http)
    answer = await sdk.msr("POST", "record", target=str(lobby))
    assert (answer["result"], answer.get("errorCode")) == (1, 14)
