"""Recording controls: start a group (or the selected tiles) under a tag, and the list of
tags recording now with their elapsed time and size, each stoppable.

The tag name is suggested as `<group>-<date-time>` until the operator types one. The list
is re-read once a second off the GUI thread (sizes come from the files on disk), and at once
when any recording starts or stops, whoever started it.
"""

from __future__ import annotations

from datetime import datetime, timezone

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.station import Station
from ui.errors import error_text
from ui.icons import icon
from ui.recordings.recordings_model import human_size
from ui.tasks import Report, TaskRunner


def elapsed_text(since: datetime, now: datetime | None = None) -> str:
    seconds = max(0, int(((now or datetime.now(timezone.utc)) - since).total_seconds()))
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class TagsPanel(QWidget):
    def __init__(self, station: Station, tasks: TaskRunner, report: Report,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.station, self.tasks, self._report = station, tasks, report
        self.selected_sources: list[int] = []
        self.group_box = QComboBox(self)
        self.group_box.currentTextChanged.connect(self._suggest)
        self.tag_edit = QLineEdit(self)
        self.tag_edit.setPlaceholderText("tag name")
        self.tag_edit.setClearButtonEnabled(True)
        self.start_group_button = QPushButton(icon("record"), "Start group", self)
        self.start_group_button.setObjectName("startButton")
        self.start_group_button.setToolTip("Record every source of the group under the tag (Ctrl+R)")
        self.start_group_button.clicked.connect(self.start_group)
        self.start_selected_button = QPushButton(icon("record"), "Start selected", self)
        self.start_selected_button.setToolTip("Record the selected tiles under the tag")
        self.start_selected_button.clicked.connect(self.start_selected)
        self.start_selected_button.setEnabled(False)
        self.running = QTreeWidget(self)
        self.running.setHeaderLabels(["Tag", "Elapsed", "Sources", "Size"])
        self.running.setRootIsDecorated(False)
        header = self.running.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.running.setHeaderLabels(["Tag", "Elapsed", "Src", "Size"])
        self.stop_button = QPushButton(icon("stop"), "Stop tag", self)
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setToolTip("Stop the selected tag, or the tag typed above (Ctrl+Shift+R)")
        self.stop_button.clicked.connect(self.stop_selected)
        self.stop_all_button = QPushButton("Stop all", self)
        self.stop_all_button.clicked.connect(self.stop_all)

        form = QFormLayout()
        form.addRow("Group", self.group_box)
        form.addRow("Tag", self.tag_edit)
        starts = QHBoxLayout()
        starts.addWidget(self.start_group_button)
        starts.addWidget(self.start_selected_button)
        stops = QHBoxLayout()
        stops.addWidget(self.stop_button)
        stops.addWidget(self.stop_all_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(form)
        layout.addLayout(starts)
        title = QLabel("Recording now", self)
        title.setObjectName("panelTitle")
        layout.addWidget(title)
        layout.addWidget(self.running, 1)
        layout.addLayout(stops)
        self.summary: list = []
        self._reading = False
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh)
        self._timer.start(1000)

    # --- inputs ----------------------------------------------------------------------
    def set_groups(self, names: list[str]) -> None:
        current = self.group_box.currentText()
        self.group_box.blockSignals(True)
        self.group_box.clear()
        self.group_box.addItems(names)
        if current in names:
            self.group_box.setCurrentText(current)
        self.group_box.blockSignals(False)
        self._suggest(self.group_box.currentText())

    def set_selection(self, source_ids: list[int]) -> None:
        self.selected_sources = list(source_ids)
        self.start_selected_button.setEnabled(bool(source_ids))
        self.start_selected_button.setText(
            f"Start selected ({len(source_ids)})" if source_ids else "Start selected")

    def _suggest(self, group: str = "") -> None:
        if not self.tag_edit.isModified():
            self.tag_edit.setText(f"{group or 'rec'}-{datetime.now():%Y%m%d-%H%M%S}")

    def tag(self) -> str:
        return self.tag_edit.text().strip()

    # --- start / stop ------------------------------------------------------------------
    def start_group(self) -> None:
        group, tag = self.group_box.currentText(), self.tag()
        if not group or not tag:
            self._report("Choose a group and a tag name first.", error=True)
            return
        self._start(lambda: self.station.recordings.start(tag, group, origin="gui"))

    def start_selected(self) -> None:
        ids, tag = list(self.selected_sources), self.tag()
        if not ids or not tag:
            self._report("Select tiles and enter a tag name first.", error=True)
            return
        self._start(lambda: self.station.recordings.start_sources(tag, ids, origin="gui"))

    def _start(self, fn) -> None:
        self.start_group_button.setEnabled(False)
        self.start_selected_button.setEnabled(False)

        def after(_records, error) -> None:
            self.start_group_button.setEnabled(True)
            self.start_selected_button.setEnabled(bool(self.selected_sources))
            if error is not None:
                self._report(error_text(error), error=True)
                return
            self.refresh()
        self.tasks.run(fn, after)

    def stop_tag(self, tag: str) -> None:
        def after(records, error) -> None:
            if error is not None:
                self._report(error_text(error), error=True)
                return
            self._report(f"Stopped {len(records)} recording(s) of “{tag}”.")
            if tag == self.tag():
                self.tag_edit.setModified(False)
                self._suggest(self.group_box.currentText())
            self.refresh()
        self.tasks.run(lambda: self.station.recordings.stop(tag, origin="gui"), after)

    def stop_selected(self) -> None:
        item = self.running.currentItem()
        tag = item.text(0) if item is not None else self.tag()
        if not tag:
            self._report("Pick a running tag to stop.", error=True)
            return
        self.stop_tag(tag)

    def stop_all(self) -> None:
        """Every running tag stops, but what the sources' recording modes record goes on
        (the service's rule: RecordingService.stop_all_tags)."""
        def after(records, error) -> None:
            if error is not None:
                self._report(error_text(error), error=True)
                return
            self._report(f"Stopped {len(records)} recording(s).")
            self.refresh()
        self.tasks.run(lambda: self.station.recordings.stop_all_tags(origin="gui"), after)

    def toggle(self) -> None:
        """The global shortcut: stop the typed tag when it records, else start the group."""
        tag = self.tag()
        if tag and any(r.name == tag for r in self.summary):
            self.stop_tag(tag)
        else:
            self.start_group()

    # --- the running list ----------------------------------------------------------------
    def refresh(self) -> None:
        if self._reading:
            return
        self._reading = True
        self.tasks.run(self.station.recordings.running_summary, self._fill)

    def _fill(self, summary, error) -> None:
        self._reading = False
        if error is not None:
            return
        self.summary = summary
        current = self.running.currentItem().text(0) if self.running.currentItem() else None
        now = datetime.now(timezone.utc)
        self.running.clear()
        for running in summary:
            item = QTreeWidgetItem([running.name, elapsed_text(running.since, now),
                                    str(running.records), human_size(running.size_bytes)])
            item.setToolTip(0, running.name)
            item.setIcon(0, icon("record"))
            for column in (1, 2, 3):
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.running.addTopLevelItem(item)
            if running.name == current:
                self.running.setCurrentItem(item)
        self.stop_all_button.setEnabled(bool(summary))

    def close_panel(self) -> None:
        self._timer.stop()
