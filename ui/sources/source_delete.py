"""Deleting a source: ask first, then call the service off the GUI thread; a refusal (the
source is recording) is explained in a message box. Non-blocking all the way (`open()`, not
`exec()`), so the wall keeps playing while the question is on screen."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from app.station import Station
from ui.errors import error_text
from ui.forms import DIALOG_STYLE, if_alive, repolish
from ui.tasks import TaskRunner


def plain_buttons(box: QMessageBox) -> None:
    """Text-only buttons, styled like the dialogs' (a message box makes its buttons before
    any style sheet of ours reaches them)."""
    for button in box.buttons():
        button.setIcon(QIcon())
        repolish(button)


class DeleteSourceFlow(QObject):
    """Reads the source, asks, deletes. `finished` carries the deleted `SourceOut`, or None
    when the operator said no or the core refused (then `error` says why)."""

    finished = Signal(object)

    def __init__(self, station: Station, tasks: TaskRunner, source_id: int,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.station, self.tasks, self.source_id = station, tasks, source_id
        self.parent_widget = parent
        self.question: QMessageBox | None = None
        self.delete_button: QPushButton | None = None
        self.error_box: QMessageBox | None = None
        self.error: str | None = None
        self.name = f"source {source_id}"
        self.done = False

    def start(self) -> "DeleteSourceFlow":
        self.tasks.run(lambda: self.station.sources.get(self.source_id), self._ask)
        return self

    @if_alive
    def _ask(self, source, error) -> None:
        if error is not None:
            self._fail(error)
            return
        self.name = source.name
        box = QMessageBox(QMessageBox.Icon.Warning, "Delete source", f"Delete “{source.name}”?",
                          QMessageBox.StandardButton.NoButton, self.parent_widget)
        box.setInformativeText("The station stops reading it. Its recordings stay on disk and "
                               "in the recordings list. This cannot be undone.")
        box.setStyleSheet(DIALOG_STYLE)
        self.delete_button = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        self.delete_button.setObjectName("destructive")
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        plain_buttons(box)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _result: self._answered(box.clickedButton()))
        self.question = box
        box.open()

    def _answered(self, button) -> None:
        if button is not self.delete_button:
            self._finish(None)
            return
        self.tasks.run(lambda: self.station.sources.delete(self.source_id), self._deleted)

    @if_alive
    def _deleted(self, deleted, error) -> None:
        if error is not None:
            self._fail(error)
        else:
            self._finish(deleted)

    def _fail(self, error: BaseException) -> None:
        message = error_text(error)
        self.error = message[:1].upper() + message[1:]
        box = QMessageBox(QMessageBox.Icon.Warning, "Source not deleted",
                          f"“{self.name}” was not deleted.", QMessageBox.StandardButton.Ok,
                          self.parent_widget)
        box.setStyleSheet(DIALOG_STYLE)
        box.setInformativeText(self.error + ("." if not self.error.endswith(".") else ""))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        plain_buttons(box)
        self.error_box = box
        box.open()
        self._finish(None)

    def _finish(self, deleted) -> None:
        self.done = True
        self.finished.emit(deleted)


def confirm_delete_source(station: Station, tasks: TaskRunner, source_id: int,
                          parent: QWidget | None = None) -> DeleteSourceFlow:
    """Ask the operator, then delete; returns the running flow (connect to `finished`)."""
    return DeleteSourceFlow(station, tasks, source_id, parent).start()
