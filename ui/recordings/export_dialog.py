"""Export a time range of one or more sources to a folder, plain or as an evidence package.

The cut runs on a thread of its own (app.recordings.export, app.evidence: a copy, disk-bound,
seconds to a minute): its progress and outcome come back to the GUI thread through queued
signals, and Cancel asks it to stop between packets (what was half written is removed).

What an operator must be able to trust (#25 item 4):
- times are typed as text and stay exactly as typed (`TimeEdit`: a line edit read when Export
  is pressed; a date-time spin box re-interprets each keystroke per section and scrambled
  typed times); they are the operator's local time, handed to the services as UTC;
- the folder is the Settings' exports folder (`export_dir`, General page) when one is set,
  so every export of the station lands where the operator was told they are; without one,
  the one used last is offered (kept in the station's `gui.ini`, as the walls' options are:
  ui.wall_prefs); a folder typed or chosen for one export is created when missing;
- once done, "Open folder" and "Copy path" replace Cancel, and the dialog says what it wrote
  in one line (the full list in its tooltip), so it keeps its shape for one camera or twenty:
  the sources' names sit in a scroll area of fixed height.
"""

from __future__ import annotations

import threading
from datetime import datetime, time, timezone
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QDateTime, QObject, QSettings, QStandardPaths, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.audited import os_user
from app.errors import StationError
from app.evidence.package import MAX_NOTE, PackageRequest
from app.station import Station
from ui.errors import error_text
from ui.tasks import TaskRunner
from ui.wall_prefs import FILE as PREFS_FILE

STEPS = 1000  # progress bar resolution
TIME_FORMAT = "yyyy-MM-dd HH:mm:ss.zzz"
FOLDER_KEY = "export/folder"
SOURCE_LINES = 3  # the sources' names: this many lines shown, the rest scrolled


def to_qt(value: datetime) -> QDateTime:
    return QDateTime.fromMSecsSinceEpoch(round(value.timestamp() * 1000))


def from_qt(value: QDateTime) -> datetime:
    return datetime.fromtimestamp(value.toMSecsSinceEpoch() / 1000, timezone.utc)


def parse_local(text: str, day: datetime | None = None) -> datetime | None:
    """A typed local time as an aware UTC instant, or None when it is not one: `2026-12-07
    10:15:04.250`, `2026-12-07T10:15`, or a time alone (`10:15:04`) on `day`'s date."""
    text = text.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        if day is None:
            return None
        try:
            clock = time.fromisoformat(text)
        except ValueError:
            return None
        value = datetime.combine(day.astimezone().date(), clock)
    if value.tzinfo is None:
        value = value.astimezone()  # the operator's local time
    return value.astimezone(timezone.utc)


class TimeEdit(QLineEdit):
    """A local date and time typed as text, kept as typed and read when needed; marked when
    it does not read as a time. `dateTime`/`setDateTime` as a QDateTimeEdit's."""

    def __init__(self, value: datetime, parent: QWidget | None = None):
        super().__init__(parent)
        self._day = value
        self.setPlaceholderText("YYYY-MM-DD HH:MM:SS.mmm")
        self.setToolTip("Local time, e.g. 2026-12-07 10:15:04.250 (or a time alone, "
                        "10:15:04, on the same day)")
        self.setDateTime(to_qt(value))
        self.textChanged.connect(self._mark)

    def value(self) -> datetime | None:
        return parse_local(self.text(), self._day)

    def dateTime(self) -> QDateTime:  # noqa: N802 - QDateTimeEdit's name, kept for callers
        value = self.value()
        return to_qt(value) if value is not None else QDateTime()

    def setDateTime(self, value: QDateTime) -> None:  # noqa: N802
        self.setText(value.toString(TIME_FORMAT))

    def _mark(self) -> None:
        bad = self.value() is None
        self.setStyleSheet("border: 1px solid #c62828;" if bad else "")


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
    """`finished_export` carries the files (or the evidence package) written once an export
    succeeds."""

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
        self._prefs = QSettings(str(Path(station.settings.data_dir) / PREFS_FILE),
                                QSettings.Format.IniFormat)

        names = []
        for source_id in self.source_ids:
            try:
                names.append(station.sources.get(source_id).name)
            except StationError:
                names.append(f"source {source_id}")
        self.sources_label = QLabel(", ".join(names))
        self.sources_label.setWordWrap(True)
        self.sources_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.sources_label.setToolTip("\n".join(names))
        sources = QScrollArea()
        sources.setWidget(self.sources_label)
        sources.setWidgetResizable(True)
        sources.setFrameShape(QFrame.Shape.NoFrame)
        sources.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        sources.setFixedHeight(self.fontMetrics().lineSpacing() * SOURCE_LINES + 12)
        self.begin_edit = TimeEdit(begin)
        self.end_edit = TimeEdit(end)
        self.folder_edit = QLineEdit(self._remembered_folder())
        choose = QPushButton("Choose…")
        choose.clicked.connect(self.choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(choose)

        self.evidence_box = QCheckBox("Evidence package: manifest, SHA-256 of each file, "
                                      "signed by this station")
        self.zip_box = QCheckBox("As one zip")
        self.burn_box = QCheckBox("Add a copy with camera name and time burned in")
        self.note_edit = QPlainTextEdit()
        self.note_edit.setPlaceholderText("Case note: why this footage is exported")
        self.note_edit.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 12)
        self.evidence_box.toggled.connect(self._evidence_toggled)
        self._evidence_toggled(False)
        evidence_row = QHBoxLayout()
        evidence_row.addWidget(self.zip_box)
        evidence_row.addWidget(self.burn_box)
        evidence_row.addStretch(1)

        form = QFormLayout()
        form.addRow("Sources", sources)
        form.addRow("From", self.begin_edit)
        form.addRow("To", self.end_edit)
        form.addRow("Folder", folder_row)
        form.addRow("", self.evidence_box)
        form.addRow("", evidence_row)
        form.addRow("Case note", self.note_edit)
        self.progress = QProgressBar()
        self.progress.setRange(0, STEPS)
        self.progress.setValue(0)
        self.message = QLabel("One MP4 per source, copied as recorded (no re-encoding). "
                              "Times are local.")
        self.message.setWordWrap(True)
        self.message.setFixedHeight(self.fontMetrics().lineSpacing() * 2 + 4)
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.open_button = self.buttons.addButton("Open folder",
                                                  QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button = self.buttons.addButton("Copy path",
                                                  QDialogButtonBox.ButtonRole.ActionRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        for button in (self.open_button, self.copy_button, self.close_button):
            button.setVisible(False)
        self.export_button.clicked.connect(self.start_export)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.accept)
        self.open_button.clicked.connect(self.open_folder)
        self.copy_button.clicked.connect(self.copy_path)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(560)
        self.written: list[Path] = []
        self._folder: Path | None = None
        self.result_path: Path | None = None
        self.open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl

    # --- the folder --------------------------------------------------------------------
    def _remembered_folder(self) -> str:
        chosen = self.station.settings.export_dir
        if chosen:  # the station's exports folder (Settings ▸ General) wins over habit
            return str(chosen)
        kept = self._prefs.value(FOLDER_KEY, "", type=str)
        if kept:
            return kept
        movies = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.MoviesLocation)
        return movies or str(Path.home())

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def _evidence_toggled(self, on: bool) -> None:
        for widget in (self.zip_box, self.burn_box, self.note_edit):
            widget.setEnabled(on)

    # --- exporting ---------------------------------------------------------------------
    def running(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def _who(self) -> str:
        actor = getattr(self.station, "actor", None)  # the GUI's audited station names it
        return actor["who"] if isinstance(actor, dict) else os_user()

    def start_export(self) -> None:
        if self.running():
            return
        begin, end = self.begin_edit.value(), self.end_edit.value()
        if begin is None or end is None:
            self.message.setText("Type the times as YYYY-MM-DD HH:MM:SS (local time).")
            return
        if end <= begin:
            self.message.setText("“To” must be after “From”.")
            return
        text = self.folder_edit.text().strip()
        if not text:
            self.message.setText("Choose a folder to export to.")
            return
        folder = Path(text).expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)  # a missing folder is made, not refused
        except OSError as exc:
            self.message.setText(f"Cannot use {folder}: {exc.strerror or exc}")
            return
        note = self.note_edit.toPlainText()
        if self.evidence_box.isChecked() and len(note) > MAX_NOTE:
            self.message.setText(f"The case note is longer than {MAX_NOTE} characters.")
            return
        self._cancel.clear()
        self.progress.setValue(0)
        self.export_button.setEnabled(False)
        self.message.setText("Exporting…")
        self.message.setToolTip("")
        self._folder = folder
        signals, cancel = self._signals, self._cancel
        ids = self.source_ids
        if self.evidence_box.isChecked():
            evidence, who = self.station.evidence, self._who()
            request = PackageRequest(ids, begin, end, note, self.burn_box.isChecked())
            as_zip = self.zip_box.isChecked()

            def export() -> list[Path]:
                return [evidence.export_package(request, folder, who=who, as_zip=as_zip,
                                                progress=signals.progress.emit,
                                                cancelled=cancel.is_set)]
        else:
            exports = self.station.exports

            def export() -> list[Path]:
                return exports.export_to(ids, begin, end, folder,
                                         progress=signals.progress.emit, cancelled=cancel.is_set)

        def work() -> None:
            try:
                written = export()
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
        self._prefs.setValue(FOLDER_KEY, str(self._folder))
        self._prefs.sync()
        self.result_path = written[0] if len(written) == 1 else self._folder
        self.progress.setValue(STEPS)
        if self.evidence_box.isChecked():
            what = f"evidence package {self.result_path}"
        elif len(written) == 1:
            what = str(self.result_path)
        else:
            what = f"{len(written)} files in {self.result_path}"
        self.message.setText(f"Written: {what}")
        self.message.setToolTip("\n".join(str(p) for p in written))
        self.export_button.setVisible(False)
        self.cancel_button.setVisible(False)
        for button in (self.open_button, self.copy_button, self.close_button):
            button.setVisible(True)
        self.close_button.setDefault(True)
        self.finished_export.emit(written)

    def open_folder(self) -> None:
        """The folder the export went into, in the desktop's file manager."""
        if self._folder is not None:
            self.open_url(QUrl.fromLocalFile(str(self._folder)))

    def copy_path(self) -> None:
        """The written file's path (or the package's; the folder's for several files)."""
        if self.result_path is not None:
            QGuiApplication.clipboard().setText(str(self.result_path))

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
