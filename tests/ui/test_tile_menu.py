"""#27 item 4 on a real station (offscreen Qt): a tile's menu offers what the issue lists,
each change disabled with why for a viewer; the snapshot is the main stream's picture at
full size (not the tile's preview), saved under <storage>/snapshots, on the clipboard and in
the audit trail; record now starts the source under the confirmed tag."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QPoint
from PySide6.QtGui import QGuiApplication

from app.layouts.schemas import LayoutIn
from app.schemas import RecordStatus, SourceIn
from tests.conftest import TESTSRC
from tests.support.main_window import open_main_window
from ui.session import identity_of

API = "http://127.0.0.1:9/"
MAIN = "testsrc://testsrc2?size=640x360&rate=25&gop=1"
PREVIEW = TESTSRC  # 320x240


def _texts(menu) -> list[str]:
    return [a.text() for a in menu.actions() if not a.isSeparator()]


def test_snapshot_is_full_size_saved_copied_and_audited(qtbot, station):
    source = station.sources.create(SourceIn(name="gate/1", uri_rtsp=MAIN, uri_preview=PREVIEW))
    with open_main_window(qtbot, station, API, tiles=1) as window:
        tile = window.wall.tiles[source.id]
        window._tile_menu(source.id, QPoint(10, 10))
        menu = window.last_tile_menu
        assert _texts(menu)[:5] == ["Record now…", "Snapshot", "Bookmark…",
                                    "Open in player at 30 s ago", "Show in Recordings"]
        assert {"Motion…", "Edit source…"} <= set(_texts(menu))
        ptz = next(a for a in menu.actions() if a.text() == "PTZ and presets…")
        assert not ptz.isVisible()  # no ONVIF PTZ control for this camera
        next(a for a in menu.actions() if a.text() == "Open in player at 30 s ago").trigger()
        assert window.tabs.currentWidget() is window.recordings  # the player is there
        window.tabs.setCurrentWidget(window.wall)
        menu.close()
        qtbot.waitUntil(lambda: tile.image is not None, timeout=10000)  # the preview plays
        menu_owner = window.tile_menu
        menu_owner.snapshot(source.id, tile.name)
        qtbot.waitUntil(lambda: menu_owner.last_snapshot is not None, timeout=10000)
        path = menu_owner.last_snapshot
        assert path.parent == station.settings.recordings_dir / "snapshots"
        assert path.name.startswith("gate_1-") and path.suffix == ".jpg"
        picture = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
        assert picture.shape[:2] == (360, 640)  # the main stream's, not the 320x240 preview
        copied = QGuiApplication.clipboard().image()
        assert (copied.width(), copied.height()) == (640, 360)
        station.audit.flush()
        entry = station.audit.list(action="take snapshot").items[0]
        assert entry.target == f"source gate/1 ({source.id})" and entry.dialect == "gui"
        # record now, under the tag confirmed
        menu_owner.record_now(source.id, tag="gate-now")
        qtbot.waitUntil(lambda: any(r.tag_name == "gate-now" for r in
                                    station.recordings.list(status=RecordStatus.recording)),
                        timeout=10000)
        # show in Recordings: the tab, filtered to the source
        box = window.recordings.source_box
        qtbot.waitUntil(lambda: box.findData(source.id) >= 0, timeout=15000)
        menu_owner.show_in_recordings(source.id)
        assert window.tabs.currentWidget() is window.recordings
        assert box.currentData() == source.id


def test_viewer_sees_the_changes_disabled_and_cannot_change_a_layout(qtbot, station):
    source = station.sources.create(SourceIn(name="yard", uri_rtsp=TESTSRC))
    layout = station.layouts.create(LayoutIn(name="Yard", shape="2x1", cells=[source.id, None]))
    viewer = identity_of(station.accounts.create("vic", "correct horse battery", role="viewer",
                                                 who=None))
    with open_main_window(qtbot, station, API, tiles=1, identity=viewer) as window:
        window._tile_menu(source.id, QPoint(10, 10))
        entries = {a.text(): a for a in window.last_tile_menu.actions()}
        for text in ("Record now…", "Snapshot", "Edit source…"):
            assert not entries[text].isEnabled()
        assert entries["Snapshot"].toolTip() == "Needs the operator role"
        assert entries["Bookmark…"].isEnabled()  # a viewer's: bookmarks
        assert entries["Open in player at 30 s ago"].isEnabled()
        window.last_tile_menu.close()
        # a viewer's drop on a layout's cell: refused by the service, the wall put back
        qtbot.waitUntil(lambda: window.layouts.by_id(layout.id) is not None,
                        timeout=15000)  # the window has read the layouts
        window.layouts.choose(layout.id)
        qtbot.waitUntil(lambda: window.wall.layout_shape == "2x1", timeout=15000)
        window.wall.drop_source(1, source.id, 0)
        assert window.wall.cells == [None, source.id]
        qtbot.waitUntil(lambda: window.wall.cells == [source.id, None], timeout=15000)
        assert station.layouts.get(layout.id).cells == [source.id, None]


def test_ptz_entry_only_for_a_ptz_camera_and_opens_the_pad(qtbot, station):
    """The entry appears once the camera's ONVIF PTZ control is known; it opens the pad
    (ui.ptz_overlay) over the camera's tile, and a press of its arrow reaches the simulator."""
    from PySide6.QtCore import Qt

    from tests.support.onvif_camera import OnvifCamera, Profile

    with OnvifCamera([Profile("main", 640, 360, "rtsp://127.0.0.1:9/main")], user="admin",
                     password="menu-s3cret", ptz=True) as camera:
        dome = station.sources.create(SourceIn(name="dome", uri_rtsp=TESTSRC))
        station.ptz.connect(dome.id, camera.address, "admin", "menu-s3cret")
        with open_main_window(qtbot, station, API, tiles=1) as window:
            window._tile_menu(dome.id, QPoint(10, 10))
            entry = next(a for a in window.last_tile_menu.actions()
                         if a.text() == "PTZ and presets…")
            qtbot.waitUntil(entry.isVisible, timeout=15000)
            window.last_tile_menu.close()
            overlay = window.tile_menu.open_ptz(dome.id)  # over the tile (ui.tile_ptz)
            assert overlay.parent() is window.wall.tiles[dome.id] and overlay.isVisible()
            pad = overlay.pad
            qtbot.mousePress(pad.arrows["left"], Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: camera.ptz.last("ContinuousMove") is not None, timeout=3000)
            qtbot.mouseRelease(pad.arrows["left"], Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: camera.ptz.last("Stop") is not None, timeout=3000)
            overlay.close_overlay()
