"""Where the window's "play together" requests land: one synchronised playback window, opened
on first use and kept. "Play from here" on an event or a bookmark jumps every tile of the open
session to that instant (adding the event's camera when it is not shown yet); with no session
open, it plays the cameras of the groups that hold that camera (its layout), or that camera
alone. A group's or the wall's cameras ask the instant first (`ask_and_play`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import QDateTimeEdit, QDialog, QDialogButtonBox, QFormLayout, QLabel, QWidget

from ui.playback.sync_playback import SyncPlayback


class PlaybackLauncher:
    def __init__(self, station, tasks, report, parent: QWidget):
        self.station, self.tasks, self.report, self.parent = station, tasks, report, parent
        self.window: SyncPlayback | None = None
        self.dialog: QDialog | None = None  # the open "from which instant" question

    def play_sources(self, source_ids: list[int], at_utc: datetime) -> None:
        """These cameras in step from `at_utc` on, in the playback window (shown in front)."""
        window = self._window()
        window.play_sources(source_ids, at_utc)
        window.show()
        window.raise_()
        window.activateWindow()

    def play_from_here(self, source_id: int, at_utc: datetime) -> None:
        """An event's or a bookmark's moment on every tile."""
        shown = [s.source_id for s in self.window.plan.sources] \
            if self.window is not None and self.window.isVisible() and self.window.plan else []
        if shown:
            self.play_sources(shown + ([source_id] if source_id not in shown else []), at_utc)
            return
        groups = self.station.groups

        def layout_of() -> list[int]:
            ids = [source_id]
            for group in groups.list():
                members = [s.id for s in groups.get(group.id).sources]
                if source_id in members:
                    ids += [m for m in members if m not in ids]
            return ids

        def found(ids, error: BaseException | None) -> None:
            self.play_sources(ids if error is None else [source_id], at_utc)

        self.tasks.run(layout_of, found)

    def ask_and_play(self, source_ids: list[int]) -> None:
        """A group's or the wall's selected cameras: from which instant (asked; five minutes
        ago by default), then in step."""
        if source_ids:
            self.dialog = ask_instant(self.parent, len(source_ids),
                                      lambda moment: self.play_sources(list(source_ids), moment))

    def _window(self) -> SyncPlayback:
        if self.window is None:
            self.window = SyncPlayback(self.station, self.tasks, None)
            self.window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
            self.window.resize(1100, 700)
            self.window.failed.connect(lambda text: self.report(
                f"Cannot play these cameras together: {text}", error=True))
        return self.window

    def shutdown(self) -> None:
        if self.window is not None:
            self.window.shutdown()
            self.window.close()
            self.window.deleteLater()
            self.window = None


def ask_instant(parent: QWidget, cameras: int, then: Callable[[datetime], None]) -> QDialog:
    """A small non-blocking question: the instant to play from (this computer's time zone, to
    the second), `then(aware UTC instant)` on OK."""
    dialog = QDialog(parent)
    dialog.setWindowTitle("Play recordings together")
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    edit = QDateTimeEdit(QDateTime.currentDateTime().addSecs(-300), dialog)
    edit.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
    edit.setCalendarPopup(True)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                               | QDialogButtonBox.StandardButton.Cancel, dialog)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    form = QFormLayout(dialog)
    form.addRow(QLabel(f"Play {cameras} camera{'s' if cameras != 1 else ''} in step from:"))
    form.addRow("Date and time", edit)
    form.addRow(buttons)
    dialog.edit = edit
    dialog.accepted.connect(lambda: then(datetime.fromtimestamp(
        edit.dateTime().toSecsSinceEpoch(), timezone.utc)))
    dialog.open()
    return dialog
