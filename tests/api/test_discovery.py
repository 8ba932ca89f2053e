"""Finding ONVIF cameras through the native API, against the ONVIF camera simulator whose
profiles point at a real RTSP test camera (main 640x360 and sub 320x240, digest login): the
probe lists it, the profiles call reads both streams with the right login (and the
suggested URIs really open), refuses a wrong one as a 422, an unreachable camera as a 422 on `address`,
addresses outside the local network before connecting, and hostile URIs from the camera."""

from __future__ import annotations

import socket

import pytest

from api.app import create_app
from app.errors import InvalidInput
from app.schemas import SourceIn
from app.services.discovery import Discovery, parse_probe_matches
from tests.conftest import _camera, wait_until
from tests.support.onvif_camera import OnvifCamera, Profile

USER, PASSWORD = "admin", "s3cret:pw@x"


@pytest.fixture(scope="module")
def streams():
    """One RTSP camera, the login the ONVIF side has: /main 640x360 and /sub 320x240."""
    camera = _camera(width=640, height=360, fps=10, gop_seconds=1, bitrate_kbps=400,
                     pattern="ball", paths=("/main", "/sub:320x240"), auth=(USER, PASSWORD),
                     auth_method="digest")
    camera.start()
    yield camera
    camera.stop()


@pytest.fixture
def onvif(streams):
    with OnvifCamera([Profile("sub", 320, 240, streams.urls[1]),
                      Profile("main", 640, 360, streams.urls[0])],
                     user=USER, password=PASSWORD, name="Lobby Door", model="SIM-2000") as camera:
        yield camera


@pytest.fixture
async def client(aiohttp_client, station, onvif):
    station.discovery.probe_to = onvif.probe_address
    return await aiohttp_client(create_app(station))


async def test_probe_lists_the_camera(client, onvif):
    answer = await client.post("/api/v1/discovery", json={"wait_s": 0.5})
    assert answer.status == 200
    cameras = await answer.json()
    assert cameras == [{"name": "Lobby Door", "model": "SIM-2000", "address": onvif.address,
                        "xaddrs": [f"http://{onvif.address}/onvif/device_service"],
                        "endpoint": onvif.endpoint}]
    too_long = await client.post("/api/v1/discovery", json={"wait_s": 10})
    assert too_long.status == 422
    assert (await too_long.json())["detail"][0]["loc"] == ["body", "wait_s"]


async def test_profiles_with_the_right_login(client, station, onvif, streams):
    answer = await client.post("/api/v1/discovery/profiles",
                               json={"address": onvif.address, "user": USER, "password": PASSWORD})
    assert answer.status == 200, await answer.text()
    text = await answer.text()
    assert PASSWORD not in text and "s3cret" not in text  # never echoed, nor percent-encoded
    found = await answer.json()
    port = streams.urls[0].split("//")[1].split("/")[0]
    assert found["uri_rtsp"] == f"rtsp://admin:******@{port}/main"
    assert found["uri_preview"] == f"rtsp://admin:******@{port}/sub"
    assert found["snapshot_uri"] == f"http://{onvif.address}/snapshot.jpg"
    assert [(p["token"], p["width"], p["height"], p["encoding"]) for p in found["profiles"]] == [
        ("sub", 320, 240, "H264"), ("main", 640, 360, "H264")]
    assert found["model"] == "SIM-2000" and found["manufacturer"] == "Simulated"
    # the media service was reached on the device's own address, not the one it announced
    assert onvif.calls[:3] == ["GetDeviceInformation", "GetCapabilities", "GetProfiles"]


def test_suggested_uris_open_with_the_login(station, onvif):
    """What the service hands the GUI (unmasked) is what a saved source needs: the main
    stream at 640x360, the preview at 320x240, both behind the camera's digest login."""
    found = station.discovery.read_profiles(onvif.address, USER, PASSWORD)
    main = station.sources.probe(SourceIn(uri_rtsp=found.uri_rtsp), timeout=15)
    preview = station.sources.probe(SourceIn(uri_rtsp=found.uri_preview), timeout=15)
    assert (main.ok, main.width, main.height) == (True, 640, 360), main
    assert (preview.ok, preview.width, preview.height) == (True, 320, 240), preview
    source = station.sources.create(SourceIn(name=found.name, uri_rtsp=found.uri_rtsp,
                                             uri_preview=found.uri_preview))
    assert source.uri_rtsp.endswith("/main") and PASSWORD not in source.uri_rtsp
    wait_until(lambda: station.sources.get(source.id).status == "online", 20, message="online")
    jpeg = station.discovery.snapshot(found.snapshot_uri, USER, PASSWORD)
    assert jpeg == onvif.jpeg


async def test_wrong_login_is_a_422_on_password(client, onvif):
    answer = await client.post("/api/v1/discovery/profiles",
                               json={"address": onvif.address, "user": USER, "password": "nope-pw"})
    assert answer.status == 422
    body = await answer.json()
    assert body["detail"][0]["loc"] == ["body", "password"]
    assert "refused this user and password" in body["detail"][0]["msg"]
    assert "nope-pw" not in await answer.text()
    assert onvif.auth_failures == 1 and onvif.calls == []


async def test_unreachable_camera_is_a_422_on_address(client):
    """A closed port."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    answer = await client.post("/api/v1/discovery/profiles",
                               json={"address": f"127.0.0.1:{port}", "user": USER, "password": "x"})
    assert answer.status == 422
    (detail,) = (await answer.json())["detail"]
    assert detail["loc"] == ["body", "address"] and detail["type"] == "camera_unreachable"
    assert detail["msg"] == (
        f"no ONVIF camera answered at 127.0.0.1:{port} (unreachable, refused, or not an ONVIF device)")


async def test_a_server_that_is_not_onvif_reads_as_unreachable(client, aiohttp_server):
    """Whether a port is closed or serves something else, one text: no port scanner."""
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    other = web.Application()
    other.router.add_route("*", "/{tail:.*}", hello)
    server = await aiohttp_server(other)
    answer = await client.post("/api/v1/discovery/profiles",
                               json={"address": f"127.0.0.1:{server.port}", "user": "u", "password": "x"})
    assert answer.status == 422
    assert (await answer.json())["detail"][0]["msg"].startswith(
        f"no ONVIF camera answered at 127.0.0.1:{server.port} (")


@pytest.mark.parametrize("address", [
    "8.8.8.8", "169.254.169.254", "http://[::ffff:8.8.8.8]/onvif/device_service",
    "0.0.0.0:80", "0.0.0.1", "ftp://10.0.0.1/x", "10.0.0.1:99999", "host name"])
async def test_addresses_outside_the_local_network_are_refused(client, address):
    answer = await client.post("/api/v1/discovery/profiles",
                               json={"address": address, "user": USER, "password": "x"})
    assert answer.status == 422, await answer.text()
    assert (await answer.json())["detail"][0]["loc"] == ["body", "address"]


def test_hostile_uris_from_the_camera_are_not_offered(streams):
    with OnvifCamera([Profile("evil", 1920, 1080, "rtsp://10.0.0.9/concat:/etc/passwd|x"),
                      Profile("file", 1280, 720, "file:///etc/passwd"),
                      Profile("ok", 640, 360, streams.urls[0])],
                     user=USER, password=PASSWORD) as camera:
        found = Discovery().read_profiles(camera.address, USER, PASSWORD)
    assert [p.stream_uri for p in found.profiles][:2] == [None, None]
    assert found.uri_rtsp.endswith("/main") and found.uri_preview is None


def test_probe_answers_of_others_and_hostile_ones_are_dropped():
    """A match not relating to our probe, an entity bomb, and XAddrs the policy refuses."""
    ours = "uuid:1"
    match = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
             'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
             'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Header>'
             '<a:RelatesTo>{id}</a:RelatesTo></s:Header><s:Body><d:ProbeMatches><d:ProbeMatch>'
             '<a:EndpointReference><a:Address>urn:uuid:x</a:Address></a:EndpointReference>'
             '<d:XAddrs>{xaddrs}</d:XAddrs></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>')
    good = match.format(id=ours, xaddrs="http://10.0.0.5/onvif/device_service").encode()
    assert [c.address for c in parse_probe_matches(good, ours)] == ["10.0.0.5"]
    assert parse_probe_matches(good, "uuid:2") == []
    hostile = match.format(id=ours, xaddrs="file:///etc/passwd http://h/concat:x").encode()
    assert parse_probe_matches(hostile, ours) == []
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>' + good[good.index(b"<s:"):]
    assert parse_probe_matches(bomb, ours) == []
    with pytest.raises(InvalidInput):
        Discovery().read_profiles("93.184.216.34", USER, PASSWORD)


def test_cameras_wanting_a_username_token_get_one(streams):
    """No HTTP login asked, a NotAuthorized fault instead: the station logs in with a
    WS-Security UsernameToken (password digest), and a wrong password is still refused."""
    with OnvifCamera([Profile("main", 640, 360, streams.urls[0])], user=USER, password=PASSWORD,
                     auth="wsse") as camera:
        found = Discovery().read_profiles(camera.address, USER, PASSWORD)
        assert found.uri_rtsp == streams.url_with_credentials(0)
        assert camera.auth_failures == 1  # the first call, without the token
        with pytest.raises(InvalidInput, match="refused this user and password"):
            Discovery().read_profiles(camera.address, USER, "wrong")
