"""Find cameras ▸ "Add checked cameras" (#27 item 7): the checked cameras added in one go,
with the login typed on the page, into the dialog's group, and a summary after: what was
added and what failed, camera by camera, so a camera whose login failed is not lost in a
run of successes.

The work is the service layer's (app.services.camera_import.add_found_cameras, through the
dialog's audited station: each create and group change audited and role-checked) on the
dialog's worker thread. The summary box is opened without blocking (`summary_box`, tests
read it); added cameras leave the list, failed ones stay checked to try again with another
login; when none failed, closing the summary closes the dialog.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox

from app.services.camera_import import ImportSummary, add_found_cameras
from ui.errors import error_text
from ui.forms import if_alive
from ui.sources.source_pages import FieldProblem

if TYPE_CHECKING:
    from ui.sources.source_dialog import SourceDialog


class CameraBatch(QObject):
    def __init__(self, dialog: "SourceDialog"):
        super().__init__(dialog)
        self.dialog = dialog
        self.running = False
        self.summary_box: QMessageBox | None = None

    def add_checked(self) -> None:
        dialog, page = self.dialog, self.dialog.find_cameras
        cameras = page.checked_cameras()
        if self.running or not cameras:
            return
        page.clear_errors()
        try:  # what the Recording section says applies to every camera of the batch
            defaults = {"enabled": dialog.enabled.isChecked(), **dialog.record_mode.payload()}
            defaults["ffmpeg_cmd"] = dialog.ffmpeg_cmd.text().strip()
            defaults = {k: v for k, v in defaults.items() if v not in (None, "")}  # as for one
        except FieldProblem as problem:
            dialog.show_field_error(problem.key, problem.message)
            return
        user, password = page.user.text().strip(), page.password.text()
        group_id = dialog.group.group_id() if dialog.group is not None else None
        station = dialog.station
        self.running = True
        page.add_checked_button.setEnabled(False)
        page.add_checked_button.setText(f"Adding {len(cameras)} camera(s)…")
        dialog.save_button.setEnabled(False)
        dialog.tasks.run(lambda: add_found_cameras(station, cameras, user, password, group_id,
                                                   defaults), self._added)

    @if_alive
    def _added(self, summary: ImportSummary | None, error) -> None:
        self.running = False
        dialog, page = self.dialog, self.dialog.find_cameras
        dialog.save_button.setEnabled(True)
        page.remove_cameras(set())  # the button's text and state again
        if error is not None:
            page.show_error("batch", error_text(error))
            return
        page.remove_cameras(set(summary.added_from))
        dialog.report(summary.text().splitlines()[0]
                      + (f" {len(summary.failed)} failed." if summary.failed else ""))
        box = QMessageBox(QMessageBox.Icon.Warning if summary.failed else QMessageBox.Icon.Information,
                          "Cameras added", summary.text(), QMessageBox.StandardButton.Ok, dialog)
        box.finished.connect(lambda _result: self._summary_closed(summary))
        self.summary_box = box
        box.open()

    def _summary_closed(self, summary: ImportSummary) -> None:
        self.summary_box = None
        if summary.added and not summary.failed:
            self.dialog.accept()
