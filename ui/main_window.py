"""The main window: the camera wall, and the group / tag / Start / Stop controls that call
the same recording service the API calls."""

from __future__ import annotations

import math
from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QToolBar,
    QWidget,
)

from app.errors import StationError
from app.station import Station
from recorder.frames import Demand
from ui.bridge import EventBridge
from ui.tasks import TaskRunner
from ui.tile import CameraTile


class MainWindow(QMainWindow):
    def __init__(self, station: Station, bridge: EventBridge, api_url: str):
        super().__init__()
        self.station, self.bridge, self.api_url = station, bridge, api_url
        self.tasks = TaskRunner(self)
        self.tiles: dict[int, CameraTile] = {}
        self.setWindowTitle(f"{station.name} — {station.version}")
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is not None:
            self.resize(min(1280, screen.width() - 40), min(800, screen.height() - 60))
        self._build_toolbar()
        self._wall = QWidget(self)
        self._grid = QGridLayout(self._wall)
        self._grid.setContentsMargins(4, 4, 4, 4)
        self._grid.setSpacing(4)
        self.setCentralWidget(self._wall)
        self._api_label = QLabel(f"API: {api_url}")
        self._api_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._rec_label = QLabel()
        self.statusBar().addWidget(self._api_label)
        self.statusBar().addPermanentWidget(self._rec_label)
        bridge.source_status_changed.connect(self._on_source_status_changed)
        bridge.catalog_changed.connect(self._on_catalog_changed)
        bridge.recording_started.connect(self._on_recording_started)
        bridge.recording_stopped.connect(self._on_recording_stopped)
        self.reload()

    # --- building ------------------------------------------------------------------
    def _build_toolbar(self) -> None:
        bar = QToolBar("Recording", self)
        bar.setMovable(False)
        self.addToolBar(bar)
        bar.addWidget(QLabel(" Group "))
        self.group_box = QComboBox(self)
        self.group_box.setMinimumWidth(160)
        self.group_box.currentTextChanged.connect(self._suggest_tag)
        bar.addWidget(self.group_box)
        bar.addWidget(QLabel("  Tag "))
        self.tag_edit = QLineEdit(self)
        self.tag_edit.setMinimumWidth(240)
        self.tag_edit.setPlaceholderText("tag name")
        bar.addWidget(self.tag_edit)
        self.start_button = QPushButton("● Start", self)
        self.start_button.setObjectName("startButton")
        self.start_button.clicked.connect(self.start_recording)
        self.stop_button = QPushButton("■ Stop", self)
        self.stop_button.setObjectName("stopButton")
        self.stop_button.clicked.connect(self.stop_recording)
        bar.addWidget(self.start_button)
        bar.addWidget(self.stop_button)
        QShortcut(QKeySequence("Ctrl+R"), self, activated=self.start_recording)
        QShortcut(QKeySequence("Ctrl+Shift+R"), self, activated=self.stop_recording)

    def reload(self) -> None:
        """Rebuild groups and tiles from the catalog."""
        current = self.group_box.currentText()
        self.group_box.blockSignals(True)
        self.group_box.clear()
        self.group_box.addItems([g.name for g in self.station.groups.list()])
        if current:
            self.group_box.setCurrentText(current)
        self.group_box.blockSignals(False)
        self._suggest_tag(self.group_box.currentText())
        self._rebuild_tiles()
        self._refresh_running()

    def _rebuild_tiles(self) -> None:
        for tile in self.tiles.values():
            tile.close_tile()
            tile.deleteLater()
        self.tiles.clear()
        sources = self.station.sources.list()
        columns = max(1, math.ceil(math.sqrt(len(sources))))
        demand = Demand.ALL if len(sources) <= 4 else Demand.KEYFRAMES
        for index, source in enumerate(sources):
            try:
                slot = self.station.sources.frames(source.id)
            except StationError:
                slot = None
            tile = CameraTile(source.id, source.name, slot, demand=demand, parent=self._wall)
            tile.set_status(source.status.value, source.error or "")
            self._grid.addWidget(tile, index // columns, index % columns)
            self.tiles[source.id] = tile
        for record in self.station.recordings.list(status="recording"):
            if record.source and record.source.id in self.tiles:
                self.tiles[record.source.id].set_recording(record.tag_name or "", True)

    def _suggest_tag(self, group: str) -> None:
        if group and not self.tag_edit.isModified():
            self.tag_edit.setText(f"{group}-{datetime.now():%Y%m%d-%H%M%S}")

    # --- actions -------------------------------------------------------------------
    def start_recording(self) -> None:
        group, tag = self.group_box.currentText(), self.tag_edit.text().strip()
        if not group or not tag:
            self._error("Choose a group and a tag name first.")
            return
        self.start_button.setEnabled(False)
        self.tasks.run(lambda: self.station.recordings.start(tag, group, origin="gui"),
                       self._after_start)

    def _after_start(self, _records, error) -> None:
        self.start_button.setEnabled(True)
        if error is not None:
            self._error(str(error))

    def stop_recording(self) -> None:
        tag = self.tag_edit.text().strip()
        if not tag:
            self._error("Enter the tag to stop.")
            return
        self.stop_button.setEnabled(False)
        self.tasks.run(lambda: self.station.recordings.stop(tag, origin="gui"), self._after_stop)

    def _after_stop(self, records, error) -> None:
        self.stop_button.setEnabled(True)
        if error is not None:
            self._error(str(error))
            return
        self.tag_edit.setModified(False)
        self._suggest_tag(self.group_box.currentText())
        self.statusBar().showMessage(f"Stopped {len(records)} recording(s).", 5000)

    def _error(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)
        if not self.property("quiet_errors"):
            QMessageBox.warning(self, "Recording Station", message)

    # --- core events ---------------------------------------------------------------
    def _on_source_status_changed(self, source_id: int, status: str, error: str) -> None:
        tile = self.tiles.get(source_id)
        if tile is not None:
            tile.set_status(status, error)

    def _on_catalog_changed(self, _entity: str, _entity_id: int, _action: str) -> None:
        self.reload()

    def _on_recording_started(self, _record_id: str, source_id: int, tag: str, origin: str) -> None:
        if source_id in self.tiles:
            self.tiles[source_id].set_recording(tag, True)
        if origin != "gui":
            self.statusBar().showMessage(f"Recording '{tag}' started by {origin}.", 5000)
        self._refresh_running()

    def _on_recording_stopped(self, _record_id: str, source_id: int, tag: str, status: str,
                              origin: str) -> None:
        if source_id in self.tiles:
            self.tiles[source_id].set_recording(tag, False)
        if origin != "gui":
            self.statusBar().showMessage(f"Recording '{tag}' stopped by {origin} ({status}).", 5000)
        self._refresh_running()

    def _refresh_running(self) -> None:
        running = sum(len(t.recording_tags) for t in self.tiles.values())
        self._rec_label.setText(f"● {running} recording" if running else "idle")

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        for tile in self.tiles.values():
            tile.close_tile()
        self.tasks.shutdown()
        super().closeEvent(event)
