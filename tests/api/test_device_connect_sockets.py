"""The event socket after its handshake, in process (the token's clock can be moved): a
socket whose token has expired hears no more events with it — it is told so and closed —
and a renewed token opens a new socket that hears the client's registrations."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from api.app import create_app
from tests.support.accounts import dc_as_operator
from tests.api.dc_client import SdkClient, next_event
from tests.conftest import TESTSRC


@pytest.fixture
async def http(aiohttp_client, station):
    station.live.replace(station.settings.model_copy(update=dc_as_operator(station)))
    return await aiohttp_client(create_app(station))


async def _source(http) -> int:
    source = await (await http.post("/api/v1/source", json={"name": "cam",
                                                            "uri_rtsp": TESTSRC})).json()
    for _ in range(200):
        if (await (await http.get(f"/api/v1/source/{source['id']}")).json())["status"] == "online":
            return source["id"]
        await asyncio.sleep(0.05)
    raise AssertionError("source never came online")


async def test_a_socket_whose_token_expired_is_closed_at_the_next_event(http, station):
    source_id = await _source(http)
    sdk = SdkClient(http)
    await sdk.authorize()
    await sdk.discover()
    await sdk.msr("PUT", "onrecordingchange")
    ws = await sdk.connect_websocket()
    old_token = sdk.token
    clock = station.dc_auth.clock
    station.dc_auth.clock = lambda: clock() + 2 * 3600  # past the token's hour
    try:
        await asyncio.to_thread(station.recordings.start_sources, "later", [source_id])
        answer = await ws.receive_json(timeout=5)
        assert (answer["result"], answer["errorCode"]) == (1, 12), answer
        assert (await ws.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE,
                                                      aiohttp.WSMsgType.CLOSED)
        # the client renews its token: its registration is kept, a new socket hears it
        renewed = await sdk.get("authorization", "accessToken", clientId=sdk.client_id,
                                scope="mediastreamrecording", applicationName="again")
        sdk.token = renewed["accessToken"]
        fresh = await sdk.connect_websocket()
        await asyncio.sleep(0.5)
        await asyncio.to_thread(station.recordings.stop, "later")
        event = await next_event(fresh, "onrecordingchange", status="stop")
        assert f"accessToken={sdk.token}" in event["media"]["uri"]
        assert old_token not in str(event)
    finally:
        station.dc_auth.clock = clock
    assert old_token != sdk.token
    await fresh.close()
