"""A station's window on a machine with two screens, in a process of its own: Qt's offscreen
platform presents the screens a JSON file lists (`offscreen:configfile=`), and a Qt
application learns its screens once, at start, so a test with other screens needs its own.

    python -m tests.support.two_screens <folder>
makes a station there with layouts A and B, saved (in its `gui.ini`) as open in windows on
the screens RIGHT and HDMI-9 (not connected), opens its window and prints, as JSON, the
screens and each layout window's (layout, screen name, geometry) once they are back.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

SCREENS = {"synchronousWindowSystemEvents": True, "windowFrameMargins": False, "screens": [
    {"name": "LEFT", "x": 0, "y": 0, "width": 1280, "height": 720,
     "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1},
    {"name": "RIGHT", "x": 1280, "y": 0, "width": 1920, "height": 1080,
     "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}


def configure(folder: Path) -> None:
    """Point Qt at the two screens (before any Qt import)."""
    path = folder / "screens.json"
    path.write_text(json.dumps(SCREENS))
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={path}"


def main(data: Path) -> None:
    configure(data)
    from app.layouts.schemas import LayoutIn
    from app.station import build_station, start_station, stop_station
    from tests.conftest import make_settings
    from ui.wall_prefs import WallPrefs
    from ui.application import ensure_application
    from ui.bridge import EventBridge
    from ui.main_window import MainWindow

    app = ensure_application()
    station = build_station(make_settings(data))
    start_station(station)
    a = station.layouts.create(LayoutIn(name="A", shape="1x1"))
    b = station.layouts.create(LayoutIn(name="B", shape="2x2"))
    WallPrefs(station.settings.data_dir).set_layout_windows([(a.id, "RIGHT"), (b.id, "HDMI-9")])
    bridge = EventBridge(station.bus)
    window = MainWindow(station, bridge, "http://127.0.0.1:9/")
    window.setProperty("quiet_errors", True)
    window.show()
    deadline = time.monotonic() + 10
    while len(window.layouts.windows) < 2 and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    print(json.dumps({
        "screens": [s.name() for s in app.screens()],
        "windows": [{"layout": window.layouts.by_id(w.layout_id).name, "screen": w.screen().name(),
                     "geometry": list(w.geometry().getRect()), "frameless": bool(
                         w.windowFlags() & w.windowFlags().FramelessWindowHint)}
                    for w in window.layouts.windows]}))
    window.close()
    bridge.close()
    stop_station(station)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
