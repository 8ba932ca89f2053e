"""Marking a moment (`B` on a focused live tile, in the player, or on the timeline): a small
dialog asks for the title (default "Bookmark") and a note, then the bookmark is created
through the station's bookmark service on the task runner (the GUI never waits on the
catalog). The answer comes back through `done`."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

from app.schemas import BookmarkIn
from ui.tasks import TaskRunner

DEFAULT_TITLE = "Bookmark"


class BookmarkDialog(QDialog):
    def __init__(self, source_name: str, when: datetime, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Add a bookmark")
        self.title_edit = QLineEdit(DEFAULT_TITLE, self)
        self.title_edit.setMaxLength(255)
        self.title_edit.selectAll()
        self.note_edit = QPlainTextEdit(self)
        self.note_edit.setPlaceholderText("optional")
        self.note_edit.setFixedHeight(64)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        self.title_edit.textChanged.connect(lambda text: buttons.button(
            QDialogButtonBox.StandardButton.Ok).setEnabled(bool(text.strip())))
        form = QFormLayout(self)
        moment = when.astimezone().strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond // 100000}"
        form.addRow("Source", QLabel(source_name))
        form.addRow("At", QLabel(moment))
        form.addRow("Title", self.title_edit)
        form.addRow("Note", self.note_edit)
        form.addRow(buttons)

    def values(self) -> tuple[str, str | None]:
        return self.title_edit.text().strip(), self.note_edit.toPlainText().strip() or None


def ask_bookmark(parent: QWidget, station, tasks: TaskRunner, source_id: int, source_name: str,
                 when: datetime, done: Callable[[object, BaseException | None], None]) -> BookmarkDialog:
    """Open the dialog (not modal: the wall keeps playing); on OK, create the bookmark and
    hand `done` the BookmarkOut or the error. Returns the dialog (tests accept it)."""
    dialog = BookmarkDialog(source_name, when, parent)

    def answered(result: int) -> None:
        dialog.deleteLater()
        if result != QDialog.DialogCode.Accepted:
            return
        title, note = dialog.values()
        data = BookmarkIn(source_id=source_id, time_utc=when, title=title or DEFAULT_TITLE, note=note)
        tasks.run(lambda: station.bookmarks.create(data), done)

    dialog.finished.connect(answered)
    dialog.open()
    return dialog
