"""Export a time range of one or more sources to a folder, with a progress bar.

The cut runs on a thread of its own (app.recordings.export: a copy, disk-bound, seconds to a
minute): its progress and outcome come back to the GUI thread through queued signals, and
Cancel asks it to stop between packets (the half-written file is removed). Times are shown
in the operator's local time and handed to the service as UTC.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QDateTime, QObject, QStandardPaths, Qt, Signal
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.errors import StationError
from app.station import Station
from ui.errors import error_text
from ui.tasks import TaskRunner

STEPS = 1000  # progress bar resolution
TIME_FORMAT = "yyyy-MM-dd HH:mm:ss.zzz"


def to_qt(value: datetime) -> QDateTime:
    return QDateTime.fromMSecsSinceEpoch(round(value.timestamp() * 1000))


def from_qt(value: QDateTime) -> datetime:
    return datetime.fromtimestamp(value.toMSecsSinceEpoch() / 1000, timezone.utc)


def export_around_bookmark(parent: QWidget, station: Station, tasks: TaskRunner,
                           bookmark_id: int, shown: Callable[["ExportDialog"], None],
                           failed: Callable[[str], None]) -> None:
    """Open the Export dialog on the range around a bookmark, as the bookmark service decides
    it (`BookmarkService.range_around`, asked on the task runner, as the API asks it): the
    timeline's menu and the bookmark list both come here, so neither has its own window."""
    bookmarks = station.bookmarks

    def found(around, error: BaseException | None) -> None:
        if error is not None:
            failed(error_text(error))
            return
        source_id, begin, end = around
        dialog = ExportDialog(station, [source_id], begin, end, parent)
        dialog.open()
        shown(dialog)

    tasks.run(lambda: bookmarks.range_around(bookmark_id), found)


class _Signals(QObject):
    progress = Signal(float)
    done = Signal(object, object)  # written paths, error


class ExportDialog(QDialog):
    """`finished_export` carries the files written once an export succeeds."""

    finished_export = Signal(list)

    def __init__(self, station: Station, source_ids: list[int], begin: datetime,
                 end: datetime, parent: QWidget | None = None):
        super().__init__(parent)
        self.station = station
        self.source_ids = list(dict.fromkeys(source_ids))
        self.setWindowTitle("Export range")
        self._cancel = threading.Event()
        self._worker: threading.Thread | None = None
        self._signals = _Signals(self)
        self._signals.progress.connect(self._on_progress)
        self._signals.done.connect(self._on_done)

        names = []
        for source_id in self.source_ids:
            try:
                names.append(station.sources.get(source_id).name)
            except StationError:
                names.append(f"source {source_id}")
        self.begin_edit = self._time_edit(begin)
        self.end_edit = self._time_edit(end)
        movies = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.MoviesLocation)
        self.folder_edit = QLineEdit(movies or str(Path.home()))
        choose = QPushButton("Choose…")
        choose.clicked.connect(self.choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(choose)

        form = QFormLayout()
        form.addRow("Sources", QLabel(", ".join(names)))
        form.addRow("From", self.begin_edit)
        form.addRow("To", self.end_edit)
        form.addRow("Folder", folder_row)
        self.progress = QProgressBar()
        self.progress.setRange(0, STEPS)
        self.progress.setValue(0)
        self.message = QLabel("One MP4 per source, copied as recorded (no re-encoding).")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.export_button.clicked.connect(self.start_export)
        self.cancel_button.clicked.connect(self.cancel)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.written: list[Path] = []

    def _time_edit(self, value: datetime) -> QDateTimeEdit:
        edit = QDateTimeEdit(to_qt(value))
        edit.setDisplayFormat(TIME_FORMAT)
        edit.setCalendarPopup(True)
        return edit

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def running(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def start_export(self) -> None:
        if self.running():
            return
        folder = Path(self.folder_edit.text()).expanduser()
        if not folder.is_dir():
            self.message.setText(f"{folder} is not a folder.")
            return
        begin, end = from_qt(self.begin_edit.dateTime()), from_qt(self.end_edit.dateTime())
        self._cancel.clear()
        self.progress.setValue(0)
        self.export_button.setEnabled(False)
        self.message.setText("Exporting…")
        signals, cancel, exports = self._signals, self._cancel, self.station.exports
        ids = self.source_ids

        def work() -> None:
            try:
                written = exports.export_to(ids, begin, end, folder,
                                            progress=signals.progress.emit,
                                            cancelled=cancel.is_set)
            except BaseException as exc:  # shown to the operator, never lost on the thread
                signals.done.emit(None, exc)
            else:
                signals.done.emit(written, None)

        self._worker = threading.Thread(target=work, name="export", daemon=True)
        self._worker.start()

    def _on_progress(self, fraction: float) -> None:
        self.progress.setValue(round(max(0.0, min(1.0, fraction)) * STEPS))

    def _on_done(self, written, error) -> None:
        self.export_button.setEnabled(True)
        if error is not None:
            if self._cancel.is_set():
                self.message.setText("Export cancelled.")
            else:
                self.message.setText(f"Export failed: {error_text(error)}")
            self.progress.setValue(0)
            return
        self.written = written
        self.progress.setValue(STEPS)
        self.message.setText("Written: " + ", ".join(str(p) for p in written))
        self.finished_export.emit(written)

    def cancel(self) -> None:
        """Stop a running export (its partial file is removed), or close the dialog."""
        if self.running():
            self._cancel.set()
            self.message.setText("Cancelling…")
        else:
            self.reject()

    def done(self, result: int) -> None:  # closing the window stops the export too
        self._cancel.set()
        if self._worker is not None:
            self._worker.join(10)
        super().done(result)
