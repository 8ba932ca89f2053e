"""The README screenshot: the main window at 1366x768 with 9 live test-pattern tiles, 3 of
them recording (started through the core with origin "api", as a remote tool would).

    Xvfb :99 -screen 0 1920x1080x24 &
    DISPLAY=:99 .venv/bin/python docs/screenshot.py docs/screenshot.png [dark|light]
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

from api.server import ApiServer  # noqa: E402
from app.schemas import GroupIn, SourceIn  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.station import build_station, start_station, stop_station  # noqa: E402
from ui.application import ensure_application  # noqa: E402
from ui.bridge import EventBridge  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

CAMERAS = [("Lobby", "testsrc2"), ("Gate North", "smptebars"), ("Gate South", "testsrc"),
           ("Parking A", "rgbtestsrc"), ("Parking B", "mandelbrot"), ("Warehouse", "testsrc2"),
           ("Loading dock", "smptebars"), ("Server room", "testsrc"), ("Roof", "mandelbrot")]


def show_and_grab(station, api_url: str, out: str, *, grab_ms: int,
                  steps: list[tuple[int, Callable[[], object]]]) -> None:
    """Show the main window at 1366x768, run each step at its time (ms after showing) and
    save the window's picture to `out` at `grab_ms`, then close it (docs/*_screenshot.py)."""
    app = ensure_application()
    bridge = EventBridge(station.bus)
    window = MainWindow(station, bridge, api_url)
    window.setProperty("close_choice", "stop")
    window.resize(1366, 768)
    window.show()

    def grab() -> None:
        window.grab().toImage().convertToFormat(QImage.Format.Format_RGB888).save(out)
        print("saved", out)
        window.close()
        app.quit()

    for at_ms, step in steps:
        QTimer.singleShot(at_ms, step)
    QTimer.singleShot(grab_ms, grab)
    app.exec()
    bridge.close()


PLACED_CAMERAS = ("Front door", "Yard", "Loading bay")


def placed_station():
    """A started station on a fresh data folder with three cameras that send nothing
    (PLACED_CAMERAS), for records placed from real small files (tests/support/placed_records):
    (station, the folder for the placed files, the cameras' ids)."""
    from tests.support.placed_records import quiet_source

    data = Path(tempfile.mkdtemp())
    station = build_station(Settings(data_dir=data / "data", port=0, demo=False))
    start_station(station)
    folder = data / "placed"
    folder.mkdir()
    return station, folder, [quiet_source(station, name) for name in PLACED_CAMERAS]


def pump_until(condition: Callable[[], object], seconds: float = 10.0) -> None:
    """Run Qt's events until `condition()` holds (TimeoutError after `seconds`)."""
    app = ensure_application()
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there")
        app.processEvents()
        time.sleep(0.01)


def main(out: str, theme: str = "") -> None:
    if theme:
        os.environ["RS_THEME"] = theme
    station = build_station(Settings(data_dir=Path(tempfile.mkdtemp()), port=0, demo=False))
    start_station(station)
    api = ApiServer(station, "127.0.0.1", 0).start()
    entrances = station.groups.create(GroupIn(name="entrances"))
    outdoor = station.groups.create(GroupIn(name="outdoor"))
    for index, (name, pattern) in enumerate(CAMERAS):
        source = station.sources.create(
            SourceIn(name=name, uri_rtsp=f"testsrc://{pattern}?size=640x360&rate=25&gop=1"))
        station.groups.add_source((entrances if index < 3 else outdoor).id, source.id)
    show_and_grab(station, api.url, out, grab_ms=10500, steps=[
        (2500, lambda: station.recordings.start("entrances-20261121-0930", "entrances",
                                                origin="api")),
    ])  # grabbed after the "started by api" notice has gone
    api.stop()
    stop_station(station)


if __name__ == "__main__":
    main(*sys.argv[1:3])
