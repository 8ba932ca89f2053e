"""GET /api/v1/source/{id}/snapshot (#27 item 4) on the real app and recorder, with the RTSP
test camera serving a main 640x360 and a preview 320x180 stream: the snapshot is the main
stream's picture at its full size, also while a tile shrinks the main stream's frames and
the preview stream is what the wall decodes; 422 before any picture; audited as `take
snapshot`, refused to a viewer."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from api.app import create_app
from recorder.frames import Demand
from tests.conftest import _camera, wait_until
from tests.support.api_client import wait_online
from tests.support.clip import cached_clip

pytestmark = pytest.mark.rtsp
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def two_stream_camera():
    main = cached_clip(20, width=640, height=360, fps=10, gop_seconds=1, bitrate_kbps=300)
    sub = cached_clip(20, width=320, height=180, fps=10, gop_seconds=1, bitrate_kbps=100)
    camera = _camera(width=640, height=360, fps=10, clips={"/main": main, "/sub": sub})
    camera.start()
    yield camera
    camera.stop()


@pytest.fixture
async def client(aiohttp_client, station):
    return await aiohttp_client(create_app(station))


def _size(jpeg: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.format == "JPEG"
        return image.size


async def test_the_snapshot_is_the_main_streams_full_size(client, station, two_stream_camera):
    main_url, sub_url = two_stream_camera.urls
    resp = await client.post("/api/v1/source", json={"name": "door", "uri_rtsp": main_url,
                                                     "uri_preview": sub_url})
    assert resp.status == 200, await resp.text()
    sid = (await resp.json())["id"]
    await wait_online(client, sid, timeout=15)
    # the wall: a tile watches the preview stream, another the main one at a tile's size
    preview = station.sources.frames(sid, preview=True)
    main = station.sources.frames(sid)
    assert preview is not main
    tokens = (preview.watch(Demand.ALL, box=(320, 180)), main.watch(Demand.ALL, box=(160, 90)))
    try:
        small = wait_until(preview.latest, timeout=15, message="a preview frame")
        assert (small.width, small.height) == (320, 180)
        shrunk = wait_until(lambda: (f := main.latest()) is not None and f.shrunk and f,
                            timeout=15, message="a main frame made small for a tile")
        assert (shrunk.width, shrunk.height) != (640, 360)
        snap = await client.get(f"/api/v1/source/{sid}/snapshot")
        assert snap.status == 200, await snap.text()
        assert snap.content_type == "image/jpeg" and snap.headers["Cache-Control"] == "no-store"
        assert _size(await snap.read()) == (640, 360)
    finally:
        preview.unwatch(tokens[0])
        main.unwatch(tokens[1])
    # nobody watching: the newest keyframe of the main stream, decoded for it
    assert _size(await (await client.get(f"/api/v1/source/{sid}/snapshot")).read()) == (640, 360)
    trail = (await (await client.get("/api/v1/audit", params={"action": "take snapshot"})).json())
    assert any(e["detail"] == "GET /api/v1/source/{source_id}/snapshot" for e in trail["items"])

    station.accounts.create("watcher", PASSWORD, role="viewer")
    signed = await client.post("/api/v1/session", json={"name": "watcher", "password": PASSWORD})
    viewer = {"Authorization": f"Bearer {(await signed.json())['token']}"}
    assert (await client.get(f"/api/v1/source/{sid}/snapshot", headers=viewer)).status == 403


async def test_no_picture_yet_is_a_422_and_an_unknown_source_a_404(client):
    resp = await client.post("/api/v1/source", json={"name": "off", "enabled": False,
                                                     "uri_rtsp": "rtsp://127.0.0.1:9/none"})
    sid = (await resp.json())["id"]
    resp = await client.get(f"/api/v1/source/{sid}/snapshot")
    assert resp.status == 422 and "source_id" in await resp.text()
    assert (await client.get("/api/v1/source/424242/snapshot")).status == 404
