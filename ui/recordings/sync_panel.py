"""Syncing a tag from the GUI: the dialog that asks where to, and the progress line that
follows the job. The job itself is the sync service's (the same one `POST /api/v1/sync`
creates); the panel only asks it how far it got, off the GUI thread, a few times a second.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
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

from app.schemas import SyncJobOut, SyncStatus
from app.station import Station
from ui.recordings.recordings_model import human_size
from ui.tasks import TaskRunner

POLL_MS = 250


class SyncDialog(QDialog):
    """Which tag, and where: a folder (picked or typed) or another station's URL."""

    def __init__(self, tags: list[str], tag: str | None, location: str = "",
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Sync recordings")
        self.tag_box = QComboBox(self)
        self.tag_box.addItems(tags)
        if tag:
            self.tag_box.setCurrentText(tag)
        self.location_edit = QLineEdit(location, self)
        self.location_edit.setPlaceholderText("/media/backup  or  http://:TOKEN@station:4035/")
        self.location_edit.setMinimumWidth(360)
        self.browse_button = QPushButton("Choose folder…", self)
        self.browse_button.clicked.connect(self._browse)
        where = QHBoxLayout()
        where.addWidget(self.location_edit, 1)
        where.addWidget(self.browse_button)
        form = QFormLayout()
        form.addRow("Tag", self.tag_box)
        form.addRow("Copy to", where)
        hint = QLabel("The tag's finished recordings are copied and checked by MD5 at the far "
                      "end; each record then shows where its copy is.", self)
        hint.setWordWrap(True)
        hint.setEnabled(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Sync")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.location_edit.textChanged.connect(self._validate)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.buttons)
        self._validate()

    def choose_folder(self) -> str:
        """The folder picker (tests replace it)."""
        return QFileDialog.getExistingDirectory(self, "Sync to folder", self.location_edit.text())

    def _browse(self) -> None:
        folder = self.choose_folder()
        if folder:
            self.location_edit.setText(folder)

    def _validate(self) -> None:
        ok = bool(self.location_edit.text().strip()) and self.tag_box.count() > 0
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def values(self) -> tuple[str, str]:
        return self.tag_box.currentText(), self.location_edit.text().strip()


class SyncProgress(QWidget):
    """A label and a progress bar following one sync job until it is done or failed."""

    finished = Signal(object)  # the job's last SyncJobOut

    def __init__(self, station: Station, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.station, self.tasks = station, tasks
        self.job_id: str | None = None
        self.job: SyncJobOut | None = None
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._asking = False
        self.hide()

    @property
    def running(self) -> bool:
        return self.job_id is not None

    def watch(self, job_id: str, tag: str, location: str) -> None:
        self.job_id, self.job = job_id, None
        self.label.setText(f"Syncing “{tag}” to {location}…")
        self.bar.setValue(0)
        self.bar.setFormat("starting…")
        self.show()
        self._timer.start()
        self._poll()

    def stop(self) -> None:
        self._timer.stop()
        self.job_id = None

    def _poll(self) -> None:
        if self._asking or self.job_id is None:
            return
        self._asking = True
        job_id = self.job_id
        self.tasks.run(lambda: self.station.sync.get(job_id), self._on_job)

    def _on_job(self, job: SyncJobOut | None, error: BaseException | None) -> None:
        self._asking = False
        if self.job_id is None or job is None or job.id != self.job_id:
            if error is not None:
                self.label.setText(f"Sync: {error}")
                self.stop()
            return
        self.job = job
        total = max(1, job.bytes_total)
        self.bar.setValue(min(1000, job.bytes_done * 1000 // total))
        self.bar.setFormat(f"{job.files_done} of {job.files_total} files · "
                           f"{human_size(job.bytes_done)} of {human_size(job.bytes_total)}")
        if job.status in (SyncStatus.done, SyncStatus.failed):
            self.stop()
            if job.status == SyncStatus.done:
                self.bar.setValue(1000)
                self.label.setText(f"Synced “{job.tag_name}”: {job.files_done} file(s) copied "
                                   f"to {job.location} and checked by MD5")
            else:
                self.label.setText(f"Sync of “{job.tag_name}” failed: {job.error}")
            self.finished.emit(job)
