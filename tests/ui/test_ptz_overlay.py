"""The PTZ pad (ui/ptz_overlay.py, #27 item 5) with pytest-qt against a real station and the
ONVIF simulator's PTZ head: an arrow pressed and held ~1 s re-sends ContinuousMove and its
release reaches the camera as a Stop within 150 ms; the keyboard's arrows and +/- do the same;
presets saved, gone to and removed from the pad; a viewer's pad is disabled and says why; a
ContinuousMove-only camera gets no click-to-centre."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt

from app.audited import AuditedStation
from app.schemas import SourceIn
from tests.conftest import TESTSRC_5FPS
from tests.support.onvif_camera import OnvifCamera, Profile
from ui.ptz_overlay import PtzPad

USER, PASSWORD = "admin", "pad-s3cret"
PROFILES = [Profile("main", 640, 360, "rtsp://127.0.0.1:9/main")]


@pytest.fixture
def camera():
    with OnvifCamera(PROFILES, user=USER, password=PASSWORD, ptz=True) as cam:
        yield cam


@pytest.fixture
def pad(qtbot, station, camera):
    source = station.sources.create(SourceIn(name="pad-dome", uri_rtsp=TESTSRC_5FPS))
    station.ptz.connect(source.id, camera.address, USER, PASSWORD)
    widget = PtzPad()
    qtbot.addWidget(widget)
    gui = AuditedStation(station, who="olga", role="operator")
    widget.attach(gui.ptz, source.id, station.ptz.capabilities(source.id), role="operator")
    widget.show()
    yield widget
    widget.shutdown()


def _count(camera, operation: str) -> int:
    return camera.ptz.operations().count(operation)


def test_an_arrow_held_a_second_then_released_stops_within_150_ms(qtbot, pad, camera, station):
    qtbot.mousePress(pad.arrows["right"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _count(camera, "ContinuousMove") >= 4, timeout=3000)  # ~0.9 s held
    assert camera.ptz.moving
    released = time.monotonic()
    qtbot.mouseRelease(pad.arrows["right"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: camera.ptz.last("Stop") is not None, timeout=10000)
    assert camera.ptz.last("Stop").at - released < 0.150
    assert not camera.ptz.moving
    assert camera.ptz.last("ContinuousMove").args == {"velocity": (0.5, 0.0, 0.0), "timeout": 1.0}
    entries = station.audit.list(action="move camera").items
    assert [(e.dialect, e.who) for e in entries] == [("gui", "olga")]  # one hold, one entry


def test_the_keyboard_moves_and_zooms(qtbot, pad, camera):
    pad.setFocus()
    qtbot.keyPress(pad, Qt.Key.Key_Left)
    qtbot.waitUntil(lambda: _count(camera, "ContinuousMove") >= 1, timeout=10000)
    assert camera.ptz.last("ContinuousMove").args["velocity"] == (-0.5, 0.0, 0.0)
    qtbot.keyPress(pad, Qt.Key.Key_Plus)  # a second key: it wins while held
    qtbot.waitUntil(lambda: camera.ptz.last("ContinuousMove").args["velocity"] == (0.0, 0.0, 0.5),
                    timeout=10000)
    qtbot.keyRelease(pad, Qt.Key.Key_Plus)  # back to the first, still down
    qtbot.waitUntil(lambda: camera.ptz.last("ContinuousMove").args["velocity"] == (-0.5, 0.0, 0.0),
                    timeout=10000)
    assert _count(camera, "Stop") == 0
    qtbot.keyRelease(pad, Qt.Key.Key_Left)
    qtbot.waitUntil(lambda: _count(camera, "Stop") == 1, timeout=10000)
    assert not camera.ptz.moving


def test_presets_from_the_pad(qtbot, pad, camera):
    pad.name.setText("Loading bay")
    qtbot.mouseClick(pad.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pad.presets.count() == 1, timeout=10000)
    assert pad.presets.itemText(0) == "Loading bay"
    qtbot.mouseClick(pad.go_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _count(camera, "GotoPreset") == 1, timeout=10000)
    pad.name.setText("bad <name>")
    qtbot.mouseClick(pad.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "printable" in pad.error.text(), timeout=10000)  # the service's word
    qtbot.mouseClick(pad.remove_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pad.presets.count() == 0, timeout=10000)
    assert _count(camera, "SetPreset") == 1 and _count(camera, "RemovePreset") == 1
    qtbot.mouseClick(pad.home_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _count(camera, "GotoHomePosition") == 1, timeout=10000)
    assert pad.center_at(0.75, 0.25)
    qtbot.waitUntil(lambda: _count(camera, "RelativeMove") == 1, timeout=10000)
    assert camera.ptz.last("RelativeMove").args["translation"] == (0.5, 0.5, 0.0)


def test_a_viewer_s_pad_is_disabled_and_says_why(qtbot, pad, station, camera):
    source_id = pad._source_id
    pad.attach(AuditedStation(station, role="viewer").ptz, source_id,
               station.ptz.capabilities(source_id), role="viewer")
    for button in (*pad.arrows.values(), pad.home_button, pad.save_button, pad.remove_button):
        assert not button.isEnabled() and "operator" in button.toolTip()
    assert pad.presets.isEnabled()  # a viewer may see the presets
    qtbot.keyPress(pad, Qt.Key.Key_Up)
    qtbot.keyRelease(pad, Qt.Key.Key_Up)
    assert not pad.center_at(0.5, 0.5)
    assert _count(camera, "ContinuousMove") == 0 and _count(camera, "Stop") == 0


def test_a_continuous_move_only_camera_has_no_click_to_centre(qtbot, station):
    with OnvifCamera(PROFILES, user=USER, password=PASSWORD, ptz=True, relative=False) as cam:
        source = station.sources.create(SourceIn(name="box-cam", uri_rtsp=TESTSRC_5FPS))
        station.ptz.connect(source.id, cam.address, USER, PASSWORD)
        pad = PtzPad()
        qtbot.addWidget(pad)
        pad.attach(station.ptz, source.id, station.ptz.capabilities(source.id))
        assert not pad.center_at(0.5, 0.5) and pad.arrows["left"].isEnabled()
        pad.shutdown()
        assert "RelativeMove" not in cam.ptz.operations()
