"""An operator who opens a source that waits out its reconnect backoff (tile focused, Test
connection in its dialog) makes it try again at once (offscreen Qt, a real core, a camera
address nothing listens on: each attempt fails and the backoff grows)."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt

from app.schemas import SourceIn
from tests.conftest import TESTSRC_5FPS
from tests.support.ports import free_loopback_port
from ui.application import ensure_application
from ui.bridge import EventBridge
from ui.main_window import MainWindow
from ui.sources.source_dialog import SourceDialog


def _dead_address() -> str:
    """A local port nothing listens on: a connection is refused at once."""
    return f"rtsp://127.0.0.1:{free_loopback_port()}/dead"


def _waiting_long(station, source_id: int, seconds: float) -> bool:
    """The next attempt is more than `seconds` away."""
    retry_at = station.sources.live_stats(source_id).retry_at
    return retry_at is not None and retry_at - time.time() > seconds


def test_focusing_a_tile_and_test_connection_retry_at_once(qtbot, station, api_server):
    ensure_application()
    station.sources.create(SourceIn(name="alive", uri_rtsp=TESTSRC_5FPS))
    dead = station.sources.create(SourceIn(name="dead", uri_rtsp=_dead_address()))
    bridge = EventBridge(station.bus)
    win = MainWindow(station, bridge, api_server.url)
    win.setProperty("quiet_errors", True)
    qtbot.addWidget(win)
    win.show()
    try:
        qtbot.waitUntil(lambda: dead.id in win.wall.tiles, timeout=5000)
        # after a few refused attempts the next one is seconds away
        qtbot.waitUntil(lambda: _waiting_long(station, dead.id, 2.5), timeout=20000)
        before = station.sources.live_stats(dead.id).retry_at
        qtbot.mouseDClick(win.wall.tiles[dead.id], Qt.MouseButton.LeftButton)
        assert win.wall.focused == dead.id
        # it tried at once: a new (failed) attempt, and a new wait after it
        qtbot.waitUntil(lambda: station.sources.live_stats(dead.id).retry_at != before,
                        timeout=1500)
        assert time.time() < before - 1  # well before the backoff would have ended

        qtbot.waitUntil(lambda: _waiting_long(station, dead.id, 2.5), timeout=20000)
        before = station.sources.live_stats(dead.id).retry_at
        dialog = SourceDialog(station, win.tasks, None, source_id=dead.id)
        qtbot.addWidget(dialog)
        dialog.open()
        qtbot.waitUntil(lambda: dialog.loaded, timeout=5000)
        dialog.test_button.click()
        qtbot.waitUntil(lambda: station.sources.live_stats(dead.id).retry_at != before,
                        timeout=1500)
        assert time.time() < before - 1
        qtbot.waitUntil(lambda: not dialog.probing, timeout=20000)
        dialog.close()
    finally:
        bridge.close()
