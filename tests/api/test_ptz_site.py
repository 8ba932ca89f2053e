"""PTZ of another station's source (#27 item 5, docs/ptz.md): two real stations on one catalog,
each with its API. A command asked of north for south's source is passed to south (the site
client's PTZ route, signed, never passed on again), and south talks to the camera; presets are
listed the same way; a hostile name is refused by north before south is asked; the trail of
the owner names the user who asked on north."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.schemas import SourceIn
from tests.conftest import wait_until
from tests.support.site_pair import call, two_stations
from tests.support.onvif_camera import OnvifCamera, Profile

CHEAP = "testsrc://?size=160x120&rate=5&gop=1"
SITE_TOKEN = "the site's service token"
USER, PASSWORD = "admin", "ptz-site-s3cret"


@pytest.fixture
def site(tmp_path: Path):
    with two_stations(tmp_path, SITE_TOKEN) as pair:
        yield pair


def _call(url: str, method: str, path: str, body=None):
    return call(url, method, path, body, SITE_TOKEN)


def test_another_stations_source_is_moved_by_its_owner(site):
    (north, south), north_url = site
    with OnvifCamera([Profile("main", 640, 360, "rtsp://127.0.0.1:9/main")], user=USER,
                     password=PASSWORD, ptz=True) as cam:
        source = south.sources.create(SourceIn(name="dome-s", uri_rtsp=CHEAP)).id
        south.ptz.connect(source, cam.address, USER, PASSWORD)
        for st in (north, south):
            st.site.beat()
        wait_until(lambda: north.site.owner(source) == south.station_id, 10,
                   message="north knows south owns the source")
        url = f"/api/v1/source/{source}/ptz"

        status, done = _call(north_url, "POST", url, {"action": "move", "pan": 0.4, "timeout_s": 2})
        assert status == 200 and done == {"action": "move", "preset": None}, done
        assert cam.ptz.moving and cam.ptz.last("ContinuousMove").args["velocity"] == (0.4, 0.0, 0.0)
        status, saved = _call(north_url, "POST", url, {"action": "set_preset", "name": "porch"})
        assert status == 200 and saved["preset"]["name"] == "porch", saved
        assert _call(north_url, "POST", url, {"action": "stop"})[0] == 200
        assert cam.ptz.operations()[-1] == "Stop" and not cam.ptz.moving
        status, listed = _call(north_url, "GET", f"{url}/presets")
        assert status == 200 and listed == [saved["preset"]]

        calls = len(cam.ptz.calls)
        status, refused = _call(north_url, "POST", url, {"action": "set_preset", "name": "a<b"})
        assert status == 422 and refused["detail"][0]["loc"][-1] == "name"
        assert len(cam.ptz.calls) == calls  # refused on north: neither south nor the camera asked

        # the trail: north's entry for its caller, and south's for north, who passed it on
        entries = south.audit.list(action="change camera presets", page_size=100).items
        assert sorted(e.who for e in entries if e.result == "200") == [
            "station-token", f"station:{north.station_id}"]
