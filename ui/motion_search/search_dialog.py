"""The small dialog that follows a dragged rectangle: over which time the search looks (the
last hour, day or week up to now, or a custom begin and end typed in local time, as the Export
dialog takes them) and on which cameras (the one the rectangle was drawn on, ticked; the
cameras that share a group with it, offered unticked: the same spot of a twin camera).

It only gathers the request (`search_requested`); the search itself runs on the window's task
runner (.controller), and what is valid is the service's to say: its refusal is shown here."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.motion_search.picking import CUSTOM, RANGES, Region, range_of, region_text
from ui.recordings.export_dialog import TimeEdit

DEFAULT_RANGE = "Last day"
CAMERA_LINES = 5  # the cameras' list: this many lines, the rest scrolled


class MotionSearchDialog(QDialog):
    search_requested = Signal(list, object, object, tuple)  # source ids, begin, end, region

    def __init__(self, source_id: int, name: str, region: Region,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Search motion — {name}")
        self.source_id, self.region = source_id, region
        self.range_box = QComboBox(self)
        self.range_box.addItems([*RANGES, CUSTOM])
        self.range_box.setCurrentText(DEFAULT_RANGE)
        now = datetime.now(timezone.utc)
        self.begin_edit = TimeEdit(now - RANGES[DEFAULT_RANGE], self)
        self.end_edit = TimeEdit(now, self)
        self.range_box.currentTextChanged.connect(self._range_changed)
        self._range_changed(self.range_box.currentText())
        self.cameras = QListWidget(self)
        self.cameras.setFixedHeight(self.fontMetrics().lineSpacing() * CAMERA_LINES + 12)
        self._add_camera(source_id, name, checked=True)
        self.message = QLabel("Motion in this rectangle, from the motion grids the station "
                              "stored while it watched (no video is decoded).", self)
        self.message.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Area", QLabel(region_text(region), self))
        form.addRow("Time", self.range_box)
        form.addRow("From", self.begin_edit)
        form.addRow("To", self.end_edit)
        form.addRow("Cameras", self.cameras)
        buttons = QDialogButtonBox(self)
        self.search_button = buttons.addButton("Search", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.search_button.clicked.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)

    def _add_camera(self, source_id: int, name: str, *, checked: bool) -> None:
        item = QListWidgetItem(name, self.cameras)
        item.setData(Qt.ItemDataRole.UserRole, source_id)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def add_cameras(self, cameras: list[tuple[int, str]]) -> None:
        """More cameras to offer (unticked): those sharing a group with the first one."""
        shown = set(self.camera_ids(checked_only=False))
        for source_id, name in cameras:
            if source_id not in shown:
                self._add_camera(source_id, name, checked=False)
                shown.add(source_id)

    def camera_ids(self, *, checked_only: bool = True) -> list[int]:
        items = (self.cameras.item(row) for row in range(self.cameras.count()))
        return [item.data(Qt.ItemDataRole.UserRole) for item in items
                if not checked_only or item.checkState() == Qt.CheckState.Checked]

    def check_camera(self, source_id: int, on: bool = True) -> None:
        for row in range(self.cameras.count()):
            item = self.cameras.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == source_id:
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _range_changed(self, choice: str) -> None:
        custom = choice == CUSTOM
        for edit in (self.begin_edit, self.end_edit):
            edit.setEnabled(custom)
        if not custom:
            begin, end = range_of(choice, datetime.now(timezone.utc))
            self.begin_edit.setText(begin.astimezone().strftime("%Y-%m-%d %H:%M:%S"))
            self.end_edit.setText(end.astimezone().strftime("%Y-%m-%d %H:%M:%S"))

    def time_range(self) -> tuple[datetime, datetime] | None:
        """(begin, end) asked for: a preset's up to this moment, or the typed ones."""
        choice = self.range_box.currentText()
        if choice != CUSTOM:
            return range_of(choice, datetime.now(timezone.utc))
        begin, end = self.begin_edit.value(), self.end_edit.value()
        if begin is None or end is None:
            return None
        return begin, end

    def submit(self) -> None:
        span = self.time_range()
        ids = self.camera_ids()
        if span is None:
            self.message.setText("Type the times as YYYY-MM-DD HH:MM:SS (local time).")
        elif span[1] <= span[0]:
            self.message.setText("“To” must be after “From”.")
        elif not ids:
            self.message.setText("Tick at least one camera.")
        else:
            self.accept()
            self.search_requested.emit(ids, span[0], span[1], self.region)


def describe_range(begin: datetime, end: datetime) -> str:
    """'12-07 10:15 – 12-08 10:15' in local time (the hits list's header)."""
    fmt = "%m-%d %H:%M" if end - begin >= timedelta(hours=1) else "%m-%d %H:%M:%S"
    return f"{begin.astimezone():{fmt}} – {end.astimezone():{fmt}}"
