"""The main window against a real running core (offscreen Qt): live tiles, Start/Stop from
the buttons, and a recording started through the API showing up in the GUI."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.schemas import GroupIn, SourceIn
from tests.conftest import TESTSRC, decode_video
from ui.application import ensure_application
from ui.bridge import EventBridge
from ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, station, api_server):
    ensure_application()
    group = station.groups.create(GroupIn(name="wall"))
    for name in ("left", "right"):
        src = station.sources.create(SourceIn(name=name, uri_rtsp=TESTSRC))
        station.groups.add_source(group.id, src.id)
    bridge = EventBridge(station.bus)
    win = MainWindow(station, bridge, api_server.url)
    win.setProperty("quiet_errors", True)
    qtbot.addWidget(win)
    win.show()
    yield win
    bridge.close()


def _non_blank(tile) -> bool:
    if tile.image is None:
        return False
    grabbed = tile.grab().toImage().convertToFormat(tile.image.Format.Format_RGB888)
    ptr = grabbed.constBits()
    pixels = np.frombuffer(ptr, np.uint8, grabbed.sizeInBytes())
    return pixels.std() > 20


def test_tiles_show_live_frames(qtbot, window):
    assert set(t.name for t in window.tiles.values()) == {"left", "right"}
    for tile in window.tiles.values():
        qtbot.waitUntil(lambda: _non_blank(tile), timeout=10000)
        first = tile.frame_seq
        qtbot.waitUntil(lambda: tile.frame_seq > first, timeout=5000)  # it keeps moving
        qtbot.waitUntil(lambda: tile.status == "online", timeout=5000)


def test_start_and_stop_from_the_buttons(qtbot, window, station):
    qtbot.waitUntil(lambda: all(t.status == "online" for t in window.tiles.values()), timeout=10000)
    window.group_box.setCurrentText("wall")
    window.tag_edit.setText("from-gui")
    window.tag_edit.setModified(True)
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: station.recordings.is_running("from-gui"), timeout=5000)
    qtbot.waitUntil(lambda: all("from-gui" in t.recording_tags for t in window.tiles.values()), timeout=5000)
    qtbot.wait(1500)
    qtbot.mouseClick(window.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not station.recordings.is_running("from-gui"), timeout=5000)
    qtbot.waitUntil(lambda: window.tasks.pending == 0, timeout=5000)
    records = station.recordings.list("from-gui")
    assert len(records) == 2 and {r.status.value for r in records} == {"finished"}
    for record in records:
        assert decode_video(Path(record.location))["frames"] > 20
    assert all(not t.recording_tags for t in window.tiles.values())


def test_a_recording_started_through_the_api_appears_in_the_gui(qtbot, window, api_server):
    qtbot.waitUntil(lambda: all(t.status == "online" for t in window.tiles.values()), timeout=10000)
    request = urllib.request.Request(
        api_server.url + "api/v1/record", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"tag_name": "remote", "group_name": "wall"}).encode())
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 200
    qtbot.waitUntil(lambda: all("remote" in t.recording_tags for t in window.tiles.values()), timeout=5000)
    assert "started by api" in window.statusBar().currentMessage()
    stop = urllib.request.Request(api_server.url + "api/v1/record?tag_name=remote", method="PUT")
    urllib.request.urlopen(stop, timeout=10).read()
    qtbot.waitUntil(lambda: all(not t.recording_tags for t in window.tiles.values()), timeout=5000)
