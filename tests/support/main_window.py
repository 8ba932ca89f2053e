"""The GUI tests' one way to open the main window on a real core: offscreen, errors kept out
of message boxes (`quiet_errors`), closing stops any recording without asking, and the event
bridge closed afterwards, so each test says only what its window holds.

    with open_main_window(qtbot, station, api_server.url, tiles=2) as window:
        ...
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from ui.application import ensure_application
from ui.bridge import EventBridge
from ui.main_window import MainWindow


@contextmanager
def open_main_window(qtbot, station, api_url: str, *, tiles: int | None = None,
                     size: tuple[int, int] | None = None, identity=None) -> Iterator[MainWindow]:
    """The shown MainWindow of `station`; with `tiles`, once the wall shows that many; with
    `identity`, acting as that signed-in user (#26)."""
    ensure_application()
    bridge = EventBridge(station.bus)
    window = MainWindow(station, bridge, api_url, identity)
    window.setProperty("quiet_errors", True)
    window.setProperty("close_choice", "stop")
    if size is not None:
        window.resize(*size)
    qtbot.addWidget(window)
    window.show()
    try:
        if tiles is not None:
            qtbot.waitUntil(lambda: len(window.wall.tiles) == tiles, timeout=5000)
        yield window
    finally:
        bridge.close()
