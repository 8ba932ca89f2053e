"""PTZ over ONVIF (#27 item 5) through the native API, against the ONVIF camera simulator's
PTZ head (tests/support/onvif_ptz.py), which records every call with its monotonic arrival
time and models motion (moving until Stop or the move's Timeout):

- a client holding an arrow for 1 s (a move re-sent every 0.3 s) then releasing: the camera
  saw ContinuousMoves then a Stop, the Stop within 150 ms of the release being sent;
- a lost Stop (the camera drops it): the camera stops by itself at the move's timeout;
- presets round trip (save, list, go to, remove), home, click-to-centre; a ContinuousMove-only
  camera refuses centring clearly;
- hostile preset names and speeds out of range are 422; a source without PTZ is a 422;
- a viewer's session is refused (403) and an operator's allowed; a hold is one audit entry;
- the camera's password is in no answer.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from api.app import create_app
from app.schemas import SourceIn
from app.services.discovery import Discovery
from tests.conftest import TESTSRC, wait_until
from tests.support.onvif_camera import OnvifCamera, Profile

USER, PASSWORD = "admin", "ptz-s3cret"
PROFILES = [Profile("main", 640, 360, "rtsp://127.0.0.1:9/main"),
            Profile("sub", 320, 240, "rtsp://127.0.0.1:9/sub")]


@pytest.fixture
def camera():
    with OnvifCamera(PROFILES, user=USER, password=PASSWORD, ptz=True) as cam:
        yield cam


@pytest.fixture
async def client(aiohttp_client, station):
    return await aiohttp_client(create_app(station))


async def _ptz_source(client, station, camera) -> int:
    """A source whose camera's PTZ control was read and kept (as Find cameras does)."""
    source = station.sources.create(SourceIn(name="dome", uri_rtsp=TESTSRC))
    resp = await client.put(f"/api/v1/source/{source.id}/ptz/camera",
                            json={"address": camera.address, "user": USER, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    text = await resp.text()
    assert PASSWORD not in text
    assert await resp.json() == {"pan_tilt": True, "zoom": True, "relative": camera.ptz.relative,
                                 "presets": True, "home": True}
    return source.id


async def test_hold_then_release_stops_within_150_ms_and_is_one_audit_entry(client, station, camera):
    source_id = await _ptz_source(client, station, camera)
    url = f"/api/v1/source/{source_id}/ptz"
    held_until = time.monotonic() + 1.0
    while time.monotonic() < held_until:  # a held arrow: the move re-sent every 0.3 s
        resp = await client.post(url, json={"action": "move", "pan": 0.5, "tilt": -0.25,
                                            "timeout_s": 1})
        assert resp.status == 200, await resp.text()
        assert camera.ptz.moving
        await asyncio.sleep(0.3)
    released = time.monotonic()
    resp = await client.post(url, json={"action": "stop"})
    assert resp.status == 200
    stop = camera.ptz.last("Stop")
    assert stop is not None and stop.at - released < 0.150, stop.at - released
    assert not camera.ptz.moving
    operations = camera.ptz.operations()
    moves = [op for op in operations if op == "ContinuousMove"]
    assert len(moves) >= 3 and operations[-1] == "Stop"
    assert operations.index("Stop") > max(i for i, op in enumerate(operations) if op == "ContinuousMove")
    first = camera.ptz.calls[operations.index("ContinuousMove")]
    assert first.args["velocity"] == (0.5, -0.25, 0.0) and first.args["timeout"] == 1.0
    page = station.audit.list(action="move camera")
    assert page.total == 1, [e.detail for e in page.items]  # one hold, one entry
    assert page.items[0].target and "dome" in page.items[0].target


async def test_a_lost_stop_the_camera_stops_at_the_timeout(client, station, camera):
    source_id = await _ptz_source(client, station, camera)
    camera.ptz.drop_stop = True
    url = f"/api/v1/source/{source_id}/ptz"
    resp = await client.post(url, json={"action": "move", "zoom": 1, "timeout_s": 0.5})
    assert resp.status == 200
    sent = camera.ptz.last("ContinuousMove").at
    assert (await client.post(url, json={"action": "stop"})).status == 200
    assert camera.ptz.last("Stop").args["dropped"] and camera.ptz.moving  # still turning
    await asyncio.to_thread(wait_until, lambda: not camera.ptz.moving, 3.0)
    stopped = time.monotonic()
    assert 0.45 <= stopped - sent < 1.0, stopped - sent


async def test_presets_round_trip_home_and_centre(client, station, camera):
    source_id = await _ptz_source(client, station, camera)
    url = f"/api/v1/source/{source_id}/ptz"
    assert await (await client.get(f"{url}/presets")).json() == []
    resp = await client.post(url, json={"action": "center", "x": 0.5, "y": 0.5})
    assert resp.status == 200
    assert camera.ptz.last("RelativeMove").args["translation"] == (0.5, -0.5, 0.0)
    saved = await client.post(url, json={"action": "set_preset", "name": "Gate – north"})
    assert saved.status == 200, await saved.text()
    preset = (await saved.json())["preset"]
    assert preset["name"] == "Gate – north" and preset["token"]
    assert (await client.post(url, json={"action": "home"})).status == 200
    assert camera.ptz.position == [0.0, 0.0, 0.0]
    assert await (await client.get(f"{url}/presets")).json() == [preset]
    assert (await client.post(url, json={"action": "goto_preset", "preset": preset["token"]})).status == 200
    assert camera.ptz.position == [0.5, -0.5, 0.0]
    assert (await client.post(url, json={"action": "remove_preset", "preset": preset["token"]})).status == 200
    assert await (await client.get(f"{url}/presets")).json() == []
    gone = await client.post(url, json={"action": "goto_preset", "preset": preset["token"]})
    assert gone.status == 422 and (await gone.json())["detail"][0]["type"] == "camera_error"
    actions = [e.action for e in station.audit.list(page_size=100).items]
    assert actions.count("change camera presets") == 2


async def test_hostile_names_speeds_and_sources_without_ptz_are_422(client, station, camera, caplog):
    caplog.set_level("DEBUG")
    source_id = await _ptz_source(client, station, camera)
    url = f"/api/v1/source/{source_id}/ptz"
    bad = [({"action": "move", "pan": 1.5}, "pan"), ({"action": "move", "zoom": -2}, "zoom"),
           ({"action": "move", "pan": 0.5, "timeout_s": 0}, "timeout_s"),
           ({"action": "move", "pan": 0.5, "timeout_s": 60}, "timeout_s"),
           ({"action": "center", "x": 3}, "x"), ({"action": "jump"}, "action"),
           ({"action": "set_preset", "name": "<script>alert(1)</script>"}, "name"),
           ({"action": "set_preset", "name": "a\x00b"}, "name"),
           ({"action": "set_preset", "name": "line\nbreak"}, "name"),
           ({"action": "set_preset", "name": "x" * 65}, "name"),
           ({"action": "set_preset", "name": "   "}, "name"),
           ({"action": "set_preset"}, "name"),
           ({"action": "goto_preset", "preset": "1&2"}, "preset")]
    for body, field in bad:
        resp = await client.post(url, json=body)
        assert resp.status == 422, (body, await resp.text())
        assert (await resp.json())["detail"][0]["loc"][-1] == field, (body, await resp.text())
    assert "SetPreset" not in camera.ptz.operations() and "ContinuousMove" not in camera.ptz.operations()
    plain = station.sources.create(SourceIn(name="fixed", uri_rtsp=TESTSRC))
    resp = await client.post(f"/api/v1/source/{plain.id}/ptz", json={"action": "stop"})
    assert resp.status == 422 and "no PTZ" in (await resp.json())["detail"][0]["msg"]
    assert (await client.get(f"/api/v1/source/{plain.id}/ptz/presets")).status == 422
    assert (await client.post("/api/v1/source/999999/ptz", json={"action": "stop"})).status == 404
    # the password is in no answer about the source
    for path in (f"/api/v1/source/{source_id}", "/api/v1/source", f"{url}"):
        assert PASSWORD not in await (await client.get(path)).text()
    # ... nor in the log, nor in clear in the catalog's files
    assert PASSWORD not in caplog.text
    files = list(Path(station.settings.data_dir).glob("catalog*"))
    assert files and not any(PASSWORD.encode() in f.read_bytes() for f in files)


async def test_a_viewer_is_refused_and_an_operator_moves(client, station, camera):
    source_id = await _ptz_source(client, station, camera)
    url = f"/api/v1/source/{source_id}/ptz"
    tokens = {}
    for role in ("viewer", "operator"):
        station.accounts.create(f"p-{role}", "correct horse battery", role=role)
        resp = await client.post("/api/v1/session", json={"name": f"p-{role}",
                                                          "password": "correct horse battery"})
        tokens[role] = {"Authorization": f"Bearer {(await resp.json())['token']}"}
    move = {"action": "move", "pan": -1, "timeout_s": 0.5}
    assert (await client.post(url, json=move, headers=tokens["viewer"])).status == 403
    assert (await client.post(url, json={"action": "set_preset", "name": "a"},
                              headers=tokens["viewer"])).status == 403
    assert "ContinuousMove" not in camera.ptz.operations()
    assert (await client.get(f"{url}/presets", headers=tokens["viewer"])).status == 200
    assert (await client.post(url, json=move, headers=tokens["operator"])).status == 200
    assert camera.ptz.last("ContinuousMove").args["velocity"] == (-1.0, 0.0, 0.0)
    assert (await client.post(url, json={"action": "stop"}, headers=tokens["operator"])).status == 200
    connect = {"address": camera.address, "user": USER, "password": PASSWORD}
    assert (await client.put(f"{url}/camera", json=connect, headers=tokens["operator"])).status == 403
    who = {e.who for e in station.audit.list(action="move camera").items}
    assert any("p-operator" in w for w in who), who


def test_a_continuous_move_only_camera(station):
    """Find cameras reads what PTZ needs; a camera without RelativeMove moves, refuses centring."""
    with OnvifCamera(PROFILES, user=USER, password=PASSWORD, ptz=True, relative=False) as cam:
        found = Discovery().read_profiles(cam.address, USER, PASSWORD)
        assert found.ptz is not None and found.ptz.profile == "main"
        assert (found.ptz.pan_tilt, found.ptz.zoom, found.ptz.relative) == (True, True, False)
        source = station.sources.create(SourceIn(name="box", uri_rtsp=TESTSRC))
        station.ptz.connect(source.id, cam.address, USER, PASSWORD)
        station.ptz.move(source.id, pan=0.2, timeout_s=2)
        assert cam.ptz.moving
        station.ptz.stop(source.id)
        assert not cam.ptz.moving
        from app.errors import InvalidInput
        with pytest.raises(InvalidInput, match="RelativeMove"):
            station.ptz.center(source.id, 0.1, 0.1)
        assert "RelativeMove" not in cam.ptz.operations()
    with OnvifCamera(PROFILES, user=USER, password=PASSWORD) as plain:  # no PTZ at all
        assert Discovery().read_profiles(plain.address, USER, PASSWORD).ptz is None


def test_a_stop_overtakes_moves_and_is_sent_again_after_a_late_one(station):
    """A move on a slow path to the camera (it arrives 0.4 s late) and another waiting behind
    it: the Stop goes out at once (not behind them), the waiting move is dropped, and the Stop
    is sent again after the late move, so the camera ends still."""
    import threading

    with OnvifCamera(PROFILES, user=USER, password=PASSWORD, ptz=True) as cam:
        source = station.sources.create(SourceIn(name="slow", uri_rtsp=TESTSRC))
        station.ptz.connect(source.id, cam.address, USER, PASSWORD)
        cam.ptz.move_delay_s = 0.4
        moves = [threading.Thread(target=station.ptz.move, args=(source.id, 0.5)) for _ in range(2)]
        moves[0].start()
        wait_until(lambda: station.ptz._head(source.id).lock.locked(), 2.0)
        moves[1].start()  # waits for its turn behind the first
        wait_until(lambda: station.ptz._head(source.id).moves == 2, 2.0)
        released = time.monotonic()
        station.ptz.stop(source.id)
        for thread in moves:
            thread.join(5)
        stops = [c for c in cam.ptz.calls if c.operation == "Stop"]
        assert stops[0].at - released < 0.150, stops[0].at - released  # not behind the moves
        assert cam.ptz.operations() == ["GetNodes", "Stop", "ContinuousMove", "Stop"]
        assert not cam.ptz.moving


def test_the_gui_s_hold_is_one_audit_entry_and_a_viewer_cannot_move(station):
    """The GUI calls the same service through its audited view (app.audited): a hold's moves
    and stop are one `move camera` entry, presets one each; a viewer signed in is refused."""
    from app.audited import AuditedStation
    from app.errors import StationError

    with OnvifCamera(PROFILES, user=USER, password=PASSWORD, ptz=True) as cam:
        source = station.sources.create(SourceIn(name="gui-dome", uri_rtsp=TESTSRC))
        gui = AuditedStation(station, who="olga", role="operator")
        with pytest.raises(StationError, match="admin"):  # an admin's action
            gui.ptz.connect(source.id, cam.address, USER, PASSWORD)
    assert station.audit.list(action="connect camera control").items[0].result == "failed: forbidden"
    with OnvifCamera(PROFILES, user=USER, password=PASSWORD, ptz=True) as cam:
        station.ptz.connect(source.id, cam.address, USER, PASSWORD)
        for _ in range(5):
            gui.ptz.move(source.id, tilt=0.3)
        gui.ptz.stop(source.id)
        preset = gui.ptz.set_preset(source.id, "dock")
        gui.ptz.goto_preset(source.id, preset.token)
        assert cam.ptz.operations().count("ContinuousMove") == 5
        assert cam.ptz.last("GotoPreset").args["token"] == preset.token
        gui.act_as("vic", "viewer")
        with pytest.raises(StationError, match="operator"):
            gui.ptz.move(source.id, pan=1)
    moves = station.audit.list(action="move camera", page_size=50).items
    assert sorted((e.dialect, e.who, e.result) for e in moves) == [
        ("gui", "olga", "ok"), ("gui", "olga", "ok"), ("gui", "vic", "failed: forbidden")]
    assert len(station.audit.list(action="change camera presets").items) == 1


def test_a_ws_security_camera_and_hostile_preset_lists(station):
    """A camera that wants a WS-Security UsernameToken (no HTTP digest) is moved all the
    same; presets whose names or tokens break the rules (markup, control characters) are left
    out of the list, not shown; a camera gone is a clear camera_error."""
    from app.errors import StationError

    with OnvifCamera(PROFILES, user=USER, password=PASSWORD, ptz=True, auth="wsse") as cam:
        source = station.sources.create(SourceIn(name="wsse-dome", uri_rtsp=TESTSRC))
        station.ptz.connect(source.id, cam.address, USER, PASSWORD)
        station.ptz.move(source.id, pan=0.1, timeout_s=0.5)
        assert cam.ptz.moving
        station.ptz.stop(source.id)
        assert not cam.ptz.moving
        cam.ptz.presets.update({"1": ("Gate", (0, 0, 0)), "2": ("<img src=x>", (0, 0, 0)),
                                "3": ("tab\tname", (0, 0, 0)), "4": ("\u202eevil", (0, 0, 0)),
                                "5'": ("quote token", (0, 0, 0))})
        assert [(p.token, p.name) for p in station.ptz.presets(source.id)] == [("1", "Gate")]
    with pytest.raises(StationError, match="no ONVIF camera answered") as gone:
        station.ptz.stop(source.id)
    assert gone.value.kind == "camera_error"
