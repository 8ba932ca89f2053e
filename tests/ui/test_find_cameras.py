"""Sources ▸ Add source ▸ Find cameras against a real core and the ONVIF camera simulator
(offscreen Qt): the probe lists the camera, picking it and typing the login fills the
source (named from the camera's ONVIF name, main stream, preview stream) and shows the
camera's snapshot, saving stores both URIs with the login and the camera's PTZ control (its
arrows work at once); a wrong password is an inline error and nothing is filled."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import text

from app.models import Source
from app.schemas import SourceIn
from tests.support.onvif_camera import OnvifCamera, Profile
from ui.sources.source_dialog import SourceDialog

USER, PASSWORD = "operator", "pa ss@1"
MAIN, SUB = "rtsp://127.0.0.1:9/main", "rtsp://127.0.0.1:9/sub"  # not opened by these tests


@pytest.fixture
def onvif(station):
    with OnvifCamera([Profile("Profile_1", 1280, 720, MAIN), Profile("Profile_2", 640, 360, SUB)],
                     user=USER, password=PASSWORD, name="Gate West", model="SIM-2000",
                     ptz=True) as camera:
        station.discovery.probe_to = camera.probe_address
        yield camera


def _find_and_pick(qtbot, station, tasks, onvif) -> SourceDialog:
    dialog = SourceDialog(station, tasks, None, kind="onvif")
    qtbot.addWidget(dialog)
    dialog.open()
    page = dialog.page
    assert page.kind == "onvif" and page.isVisible()
    page.probe_button.click()
    qtbot.waitUntil(lambda: page.cameras.count() == 1 and not page.probing, timeout=5000)
    assert page.cameras.item(0).text() == f"Gate West  ·  SIM-2000  ·  {onvif.address}"
    assert page.address.text() == onvif.address  # the only one found is picked
    page.user.setText(USER)
    return dialog


def test_find_cameras_fills_the_source_and_saves_it(qtbot, station, tasks, onvif):
    dialog = _find_and_pick(qtbot, station, tasks, onvif)
    page = dialog.page
    page.password.setText(PASSWORD)
    page.read_button.click()
    qtbot.waitUntil(lambda: page.main.currentData() is not None, timeout=5000)
    assert page.main.currentText() == "Profile_1 · 1280×720 · H264"
    assert page.preview.currentText() == "Profile_2 · 640×360 · H264"
    assert dialog.name.text() == "Gate West"  # the camera's own ONVIF name
    qtbot.waitUntil(lambda: dialog.preview_image is not None, timeout=5000)  # the snapshot
    assert dialog.preview_image.width() == 64

    with qtbot.waitSignal(dialog.saved, timeout=10000) as saved:
        dialog.save_button.click()
    source = saved.args[0]
    assert source.name == "Gate West"
    assert source.uri_rtsp == "rtsp://operator:******@127.0.0.1:9/main"
    with station.catalog.session() as session:
        stored = session.get(Source, source.id)
        assert stored.uri_rtsp == "rtsp://operator:pa%20ss%401@127.0.0.1:9/main"
        assert stored.uri_preview == "rtsp://operator:pa%20ss%401@127.0.0.1:9/sub"
        assert stored.uri_snapshot.startswith("http://operator:pa%20ss%401@")
        assert stored.uri_snapshot.endswith("/snapshot.jpg")
    assert "pa ss" not in str(source.uri_snapshot)  # masked in what the dialog got back
    assert station.sources.snapshot_jpeg(source.id) == onvif.jpeg  # with the camera's login
    # its PTZ control was kept with it (#27 item 5): the tile's arrows move it at once
    station.ptz.move(source.id, pan=0.5)
    station.ptz.stop(source.id)
    assert onvif.ptz.operations()[-2:] == ["ContinuousMove", "Stop"]
    assert onvif.ptz.last("ContinuousMove").args["velocity"][0] == 0.5
    with station.catalog.session() as session:  # the login kept encrypted, as the streams'
        raw = session.execute(text("SELECT onvif FROM source WHERE id = :id"),
                              {"id": source.id}).scalar_one()
    assert raw and "pa ss" not in str(raw) and "profile" not in str(raw).lower()


def test_a_tile_shows_the_cameras_snapshot_before_its_first_frame(qtbot, station, onvif):
    from ui.bridge import EventBridge
    from ui.main_window import MainWindow

    found = station.discovery.read_profiles(onvif.address, onvif.user, onvif.password)
    login = f"{quote(onvif.user, safe='')}:{quote(onvif.password, safe='')}@"
    dark = station.sources.create(SourceIn(name="dark", uri_rtsp="rtsp://127.0.0.1:9/none",
                                           uri_snapshot=found.snapshot_uri.replace("://", "://" + login, 1)))
    bridge = EventBridge(station.bus)
    win = MainWindow(station, bridge, "http://127.0.0.1:1/")
    win.setProperty("quiet_errors", True)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: dark.id in win.wall.tiles, timeout=5000)
    tile = win.wall.tiles[dark.id]
    qtbot.waitUntil(lambda: tile.image is not None, timeout=10000)  # no frame ever comes
    assert tile.image.width() == 64  # the simulator's snapshot
    assert station.sources.get(dark.id).status != "online"
    bridge.close()


def test_wrong_password_is_shown_at_the_field_and_nothing_is_filled(qtbot, station, tasks, onvif):
    dialog = _find_and_pick(qtbot, station, tasks, onvif)
    page = dialog.page
    page.password.setText("wrong")
    page.read_button.click()
    qtbot.waitUntil(lambda: not page.reading, timeout=5000)
    assert "refused this user and password" in page.error_text("password")
    assert page.main.currentData() is None and not page.main.isEnabled()
    dialog.save_button.click()  # nothing read: Save says what to do, stores nothing
    assert "read its profiles" in page.error_text("camera")
    assert station.sources.list() == []
