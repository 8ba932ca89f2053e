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

    # --- layouts per screen (#27 items 1 and 2) ---------------------------------------
    def layout_for(self, screen: str) -> int | None:
        """The layout last shown on the main window's wall on `screen` (None: automatic)."""
        value = self._store.value(f"screens/{_key(screen)}/layout", 0, type=int)
        return value or None

    def set_layout_for(self, screen: str, layout_id: int | None) -> None:
        self._store.setValue(f"screens/{_key(screen)}/layout", layout_id or 0)
        self._store.sync()

    def layout_windows(self) -> list[tuple[int, str]]:
        """The layouts open in windows of their own: (layout id, screen name) each."""
        found = []
        for entry in self._store.value("windows/open", [], type=list) or []:
            layout, _, screen = str(entry).partition("@")
            if layout.isdigit() and int(layout) > 0:
                found.append((int(layout), screen))
        return found

    def set_layout_windows(self, windows: list[tuple[int, str]]) -> None:
        self._store.setValue("windows/open", [f"{layout}@{screen}" for layout, screen in windows])
        self._store.sync()

    def tour(self) -> tuple[list[int], int]:
        """The layouts the tour cycles and its seconds per layout."""
        ids = self._store.value("tour/layouts", [], type=list) or []
        seconds = self._store.value("tour/seconds", 20, type=int)
        return [int(i) for i in ids if str(i).isdigit()], max(2, min(3600, seconds))

    def set_tour(self, layout_ids: list[int], seconds: int) -> None:
        self._store.setValue("tour/layouts", [str(i) for i in layout_ids])
        self._store.setValue("tour/seconds", int(seconds))
        self._store.sync()

    def tour_running(self) -> bool:
        """Whether the tour was running when the window closed: a wall left touring (a
        control room's monitor) tours again after a restart, without anyone at the PC."""
        return self._store.value("tour/running", False, type=bool)

    def set_tour_running(self, on: bool) -> None:
        self._store.setValue("tour/running", bool(on))
        self._store.sync()


def _key(screen: str) -> str:
    """A screen's name as a settings key: QSettings treats / and \\ as groups."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in screen)[:64] or "screen"
