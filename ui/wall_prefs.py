"""What the operator chose for a wall on this PC (a view's own options, such as "update
on motion"): kept in `gui.ini` in the station's data directory, beside its catalog, so a
station's walls come back as they were left and a test's station keeps its own.

These are the window's view of the station, not the station's settings: no front end but
this one reads them, so they go neither through the settings service nor into the catalog.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

FILE = "gui.ini"


class WallPrefs:
    def __init__(self, data_dir: Path | str):
        self._store = QSettings(str(Path(data_dir) / FILE), QSettings.Format.IniFormat)

    def update_on_motion(self, wall: str = "live") -> bool:
        return self._store.value(f"walls/{wall}/update_on_motion", False, type=bool)

    def set_update_on_motion(self, on: bool, wall: str = "live") -> None:
        self._store.setValue(f"walls/{wall}/update_on_motion", on)
        self._store.sync()
