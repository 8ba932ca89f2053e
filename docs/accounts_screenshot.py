"""The #26 screenshots: Settings › Users (docs/users-page.png) over the main window of an
admin, and the lock screen (docs/lock-screen.png), grabbed from the X screen.

    Xvfb :78 -screen 0 1400x900x24 &
    DISPLAY=:78 .venv/bin/python docs/accounts_screenshot.py docs/users-page.png docs/lock-screen.png
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QTimer  # noqa: E402

from api.server import ApiServer  # noqa: E402
from app.schemas import GroupIn, SourceIn  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.station import build_station, start_station, stop_station  # noqa: E402
from ui.application import ensure_application  # noqa: E402
from ui.bridge import EventBridge  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402
from ui.session import identity_of  # noqa: E402
from ui.settings_dialog import SettingsDialog  # noqa: E402

PASSWORD = "correct horse battery"


def _grab(out: str) -> None:
    subprocess.run(["import", "-window", "root", out], check=True)


def main(users_out: str, lock_out: str) -> None:
    station = build_station(Settings(data_dir=Path(tempfile.mkdtemp()), port=0, demo=False))
    start_station(station)
    api = ApiServer(station, "127.0.0.1", 0).start()
    groups = {}
    for group, names in (("Gate", ["Gate North", "Gate South"]), ("Lobby", ["Lobby"])):
        groups[group] = station.groups.create(GroupIn(name=group)).id
        for name in names:
            source = station.sources.create(SourceIn(
                name=name, uri_rtsp="testsrc://testsrc2?size=640x360&rate=25&gop=1"))
            station.groups.add_source(groups[group], source.id)
    admin = station.accounts.create("adam", PASSWORD, role="admin", display_name="Adam Admin")
    station.accounts.create("olga", PASSWORD, role="operator", display_name="Olga Night Shift")
    vera = station.accounts.create("vera", PASSWORD, role="viewer", display_name="Vera Guard",
                                   scope=[groups["Gate"]])
    station.accounts.create("temp", PASSWORD, role="viewer")
    station.accounts.disable("temp")
    station.tokens.issue(vera.id)
    station.tokens.issue(vera.id, kind="personal", name="wall script", role="viewer")
    app = ensure_application()
    bridge = EventBridge(station.bus)
    window = MainWindow(station, bridge, api.url, identity_of(admin))
    window.setProperty("close_choice", "stop")
    window.move(0, 0)
    window.resize(1366, 860)
    window.show()
    dialog = SettingsDialog(station.settings, window, station=station, who="adam", role="admin",
                            tasks=window.tasks)
    dialog.tabs.setCurrentWidget(dialog.users_page)
    dialog.resize(760, 620)
    dialog.move(300, 120)

    def users() -> None:
        dialog.show()
        QTimer.singleShot(1200, lambda: dialog.users_page.select("vera"))

    def lock() -> None:
        dialog.close()
        window.access.lock.lock()

    for at, step in ((1500, users), (4000, lambda: _grab(users_out)), (4500, lock),
                     (6000, lambda: _grab(lock_out)), (6500, app.quit)):
        QTimer.singleShot(at, step)
    app.exec()
    window.access.lock.locked = False
    window.close()
    bridge.close()
    api.stop()
    stop_station(station)


if __name__ == "__main__":
    main(*sys.argv[1:3])
