"""A tile's right-click menu (#27 item 4): record now (under a tag the operator confirms),
snapshot, bookmark, open in the player at "30 s ago", show in Recordings, motion, edit the
source, play recordings, and PTZ for cameras that have it (its pad over the tile:
`ui.tile_ptz`).

The snapshot is the main stream's newest picture at full size (`SourceService.
full_picture_jpeg`, never the tile's small preview), saved as JPEG under
`<storage>/snapshots/` (no setting names another folder) and put on the clipboard; the
audited station writes its "take snapshot" entry. The JPEG is read and written on a worker
thread (a decode and a disk write), the clipboard set on the GUI thread.

Each entry that does an audited action is disabled with the reason when the role may not
(`ENTRY_ACTIONS`); the services refuse the same calls again.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QDialog, QInputDialog, QLineEdit, QMenu, QVBoxLayout, QWidget

from ui.errors import error_text
from ui.icons import icon
from ui.recordings.bookmarks import ask_bookmark
from ui.session import gate_menu

if TYPE_CHECKING:
    from ui.main_window import MainWindow

REPLAY_BACK = timedelta(seconds=30)  # "Open in player at 30 s ago"
SNAPSHOT_FOLDER = "snapshots"
# The entries that change something, by the audit action they do.
ENTRY_ACTIONS = {"Record now…": "start recording", "Snapshot": "take snapshot",
                 "Bookmark…": "create bookmark", "Motion…": "change motion settings",
                 "Edit source…": "update source", "PTZ and presets…": "move camera"}


def snapshot_path(folder: Path, name: str, when: datetime) -> Path:
    """`<folder>/<camera>-20261207-221500-123.jpg`: the camera's name made safe for any file
    system (it is user text), the UTC instant to the millisecond."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:40] or "camera"
    return folder / f"{safe}-{when.strftime('%Y%m%d-%H%M%S')}-{when.microsecond // 1000:03d}.jpg"


def save_snapshot(station, source_id: int, name: str, folder: Path) -> Path:
    """Take and save one snapshot (worker thread): the audited station's `take snapshot`."""
    jpeg = station.sources.full_picture_jpeg(source_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = snapshot_path(folder, name, datetime.now(timezone.utc))
    path.write_bytes(jpeg)
    return path


class TileMenu:
    """Builds and pops up the menu of one tile, and does what it offers."""

    def __init__(self, window: "MainWindow"):
        self.window = window
        self.ptz_abilities: dict[int, object] = {}  # source id -> PtzOut, read as menus open
        self.last_snapshot: Path | None = None
        self._where = None  # the global point the last menu opened at (which wall's tile)

    def popup(self, source_id: int, where) -> QMenu:
        w = self.window
        self._where = where
        tile = w.wall.tiles.get(source_id)
        name = tile.name if tile is not None else f"source {source_id}"
        menu = QMenu(w)
        menu.addAction(icon("record"), "Record now…", lambda: self.record_now(source_id))
        menu.addAction(icon("camera"), "Snapshot", lambda: self.snapshot(source_id, name))
        menu.addAction("Bookmark…", lambda: self.bookmark(source_id, name))
        menu.addSeparator()
        menu.addAction(icon("play"), "Open in player at 30 s ago",
                       lambda: w.play_moment(source_id, datetime.now(timezone.utc) - REPLAY_BACK))
        menu.addAction("Show in Recordings", lambda: self.show_in_recordings(source_id))
        chosen = sorted(w.wall.selected) if source_id in w.wall.selected else [source_id]
        menu.addAction(icon("play"), "Play recordings together…" if len(chosen) > 1
                       else "Play recordings…", lambda: w.playback.ask_and_play(chosen))
        menu.addSeparator()
        menu.addAction("Motion…", lambda: w.open_motion(source_id))
        w.motion_search.add_tile_entries(menu, source_id)  # search here, heat map (#28)
        menu.addAction("Edit source…", lambda: w.edit_source(source_id))
        ptz = menu.addAction("PTZ and presets…", lambda: self.open_ptz(source_id))
        ptz.setVisible(self._has_ptz(self.ptz_abilities.get(source_id)))
        gate_menu(menu, ENTRY_ACTIONS, w.access.gate.allowed)
        self._read_ptz(source_id, ptz)
        menu.popup(where)
        return menu

    # --- the entries ------------------------------------------------------------------
    def record_now(self, source_id: int, tag: str | None = None) -> None:
        """Start this source under a tag the operator confirms (the Recording panel's tag,
        or one made of the date); `tag` given answers without asking (tests)."""
        w = self.window
        if tag is None:
            proposed = w.tags.tag() or datetime.now().strftime("live-%Y%m%d-%H%M")
            tag, ok = QInputDialog.getText(w, "Record now", "Record under the tag:",
                                           QLineEdit.EchoMode.Normal, proposed)
            if not ok:
                return
        tag = tag.strip()
        if not tag:
            w.report("A tag name is needed to record.", error=True)
            return
        recordings = w.audited.recordings
        w.tasks.run(lambda: recordings.start_sources(tag, [source_id], origin="gui"),
                    lambda _r, error: w.report(error_text(error), error=True) if error is not None
                    else w.report(f"Recording “{tag}” started."))

    def snapshot_folder(self) -> Path:
        return Path(self.window.station.settings.recordings_dir) / SNAPSHOT_FOLDER

    def snapshot(self, source_id: int, name: str) -> None:
        w, folder, audited = self.window, self.snapshot_folder(), self.window.audited

        def done(path, error) -> None:
            if error is not None:
                w.report(f"No snapshot: {error_text(error)}", error=True)
                return
            self.last_snapshot = path
            image = QImage(str(path))
            if not image.isNull():
                QGuiApplication.clipboard().setImage(image)
            w.report(f"Snapshot saved to {path} and copied to the clipboard.")
        w.tasks.run(lambda: save_snapshot(audited, source_id, name, folder), done)

    def bookmark(self, source_id: int, name: str) -> None:
        w = self.window
        w.bookmark_dialog = ask_bookmark(w, w.audited, w.tasks, source_id, name,
                                         datetime.now(timezone.utc), w._bookmark_added)

    def show_in_recordings(self, source_id: int) -> None:
        """The Recordings tab, filtered to this source."""
        w = self.window
        w.tabs.setCurrentWidget(w.recordings)
        box = w.recordings.source_box
        index = box.findData(source_id)
        if index >= 0:
            box.setCurrentIndex(index)
        w.recordings.schedule_reload()

    # --- PTZ (the pad is ui.ptz_overlay's) ------------------------------------------------
    @staticmethod
    def _has_ptz(abilities) -> bool:
        return abilities is not None and any(
            getattr(abilities, k, False) for k in ("pan_tilt", "zoom", "presets"))

    def _read_ptz(self, source_id: int, entry) -> None:
        """Whether the camera has PTZ (its ONVIF control kept in the catalog): read off the
        GUI thread; the entry appears in the open menu once known."""
        ptz = self.window.station.ptz

        def show(abilities, error) -> None:
            if error is None:
                self.ptz_abilities[source_id] = abilities
                try:
                    entry.setVisible(self._has_ptz(abilities))
                except RuntimeError:  # the menu is gone already
                    pass
        self.window.tasks.run(lambda: ptz.capabilities(source_id), show)

    def _shown_tile(self, source_id: int):
        """The source's shown tile the menu was opened on: on the main wall or a layout's
        window on another screen (the one under the menu's point), else any shown one."""
        w = self.window
        walls = [w.wall, *(window.wall for window in w.layouts.windows)]
        tiles = [t for t in (wall.tiles.get(source_id) for wall in walls)
                 if t is not None and t.isVisible()]
        for tile in tiles:
            if self._where is not None and tile.rect().contains(tile.mapFromGlobal(self._where)):
                return tile
        return tiles[0] if tiles else None

    def open_ptz(self, source_id: int) -> QWidget | None:
        """The PTZ pad (`ui.ptz_overlay.PtzPad`) driving the camera through the audited
        station: over the source's tile the menu was opened on, on any wall of the window's
        (`ui.tile_ptz`, one per tile: opening it again brings it back), else (no wall shows
        the source) in a small dialog."""
        from ui.ptz_overlay import PtzPad
        from ui.tile_ptz import TilePtzOverlay

        abilities = self.ptz_abilities.get(source_id)
        if abilities is None:
            return None
        w = self.window
        tile = self._shown_tile(source_id)
        if tile is not None:
            overlay = tile.findChild(TilePtzOverlay, "tilePtz")
            if overlay is None:
                overlay = TilePtzOverlay(tile, tile.name)
                overlay.attach(w.audited.ptz, source_id, abilities, w.access.role)
            overlay.open()
            return overlay
        dialog = QDialog(w)
        dialog.setWindowTitle(f"PTZ — {w.wall.tiles[source_id].name}"
                              if source_id in w.wall.tiles else "PTZ")
        pad = PtzPad(dialog)
        QVBoxLayout(dialog).addWidget(pad)
        pad.attach(w.audited.ptz, source_id, abilities, w.access.role)
        dialog.finished.connect(lambda *_: pad.shutdown())
        dialog.show()
        return dialog
