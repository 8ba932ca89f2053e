"""The zones beside the picture: the list of what is drawn, and the selected zone's kind,
name and own sensitivity (include zones only; unticked: the source's sensitivity), with the
kind the next polygon drawn becomes."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ui.forms import hint_label
from ui.motion.zone_canvas import ZoneCanvas
from ui.motion.zones import EXCLUDE, INCLUDE, NAME_MAX

KINDS = ((EXCLUDE, "Exclude mask"), (INCLUDE, "Include zone"))


class ZoneList(QWidget):
    edited = Signal()

    def __init__(self, canvas: ZoneCanvas, parent: QWidget | None = None):
        super().__init__(parent)
        self.canvas = canvas
        self.draw_as = QComboBox()
        for kind, label in KINDS:
            self.draw_as.addItem(label, kind)
        self.draw_as.currentIndexChanged.connect(
            lambda: setattr(self.canvas, "new_kind", self.draw_as.currentData()))
        self.list = QListWidget()
        self.list.currentRowChanged.connect(self._on_row)
        self.kind = QComboBox()
        for kind, label in KINDS:
            self.kind.addItem(label, kind)
        self.name = QLineEdit()
        self.name.setMaxLength(NAME_MAX)
        self.name.setPlaceholderText("door, driveway …")
        self.own = QCheckBox("Own sensitivity")
        self.sensitivity = QSpinBox()
        self.sensitivity.setRange(1, 100)
        self.delete = QPushButton("Delete zone")
        self.delete.setAutoDefault(False)
        self.delete.clicked.connect(lambda: self.remove(self.list.currentRow()))
        own_row = QHBoxLayout()
        own_row.addWidget(self.own)
        own_row.addWidget(self.sensitivity)
        details = QFormLayout()
        details.setContentsMargins(0, 0, 0, 0)
        details.addRow("Kind", self.kind)
        details.addRow("Name", self.name)
        details.addRow(own_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        draw_row = QFormLayout()
        draw_row.addRow("Draw", self.draw_as)
        layout.addLayout(draw_row)
        layout.addWidget(hint_label("Click on the picture to add corners; double-click or Enter "
                                    "closes the polygon, Backspace takes back a corner, Escape "
                                    "drops it. Delete removes the selected zone."))
        layout.addWidget(self.list, 1)
        layout.addLayout(details)
        layout.addWidget(self.delete)
        self.kind.currentIndexChanged.connect(self._write)
        self.name.textEdited.connect(self._write)
        self.own.toggled.connect(self._write)
        self.sensitivity.valueChanged.connect(self._write)
        canvas.zone_closed.connect(lambda _zone: self.refresh(len(self.canvas.zones.zones) - 1))
        canvas.zone_picked.connect(self.list.setCurrentRow)
        canvas.delete_requested.connect(self.remove)
        self.refresh()

    def refresh(self, select: int = -1) -> None:
        """The list again from the canvas's zones, `select` selected."""
        self.list.blockSignals(True)
        self.list.clear()
        for zone in self.canvas.zones.zones:
            self.list.addItem(zone.label())
        self.list.blockSignals(False)
        self.list.setCurrentRow(select)
        self._on_row(select)

    def remove(self, index: int) -> None:
        zones = self.canvas.zones.zones
        if 0 <= index < len(zones):
            del zones[index]
            self.refresh(min(index, len(zones) - 1))
            self.canvas.changed.emit()
            self.edited.emit()

    def _on_row(self, index: int) -> None:
        self.canvas.select(index)
        zone = self.canvas.zones.zones[index] if index >= 0 else None
        for widget in (self.kind, self.name, self.own, self.sensitivity, self.delete):
            widget.setEnabled(zone is not None)
        if zone is None:
            return
        for widget in (self.kind, self.name, self.own, self.sensitivity):
            widget.blockSignals(True)
        self.kind.setCurrentIndex(max(0, self.kind.findData(zone.kind)))
        self.name.setText(zone.name)
        self.own.setChecked(zone.sensitivity is not None)
        self.sensitivity.setValue(zone.sensitivity or 50)
        for widget in (self.kind, self.name, self.own, self.sensitivity):
            widget.blockSignals(False)
        self._enable_own(zone.kind)

    def _enable_own(self, kind: str) -> None:
        include = kind == INCLUDE
        self.own.setEnabled(include)
        self.sensitivity.setEnabled(include and self.own.isChecked())

    def _write(self, *_args) -> None:
        """The selected zone takes what the fields say."""
        index = self.list.currentRow()
        if index < 0:
            return
        zone = self.canvas.zones.zones[index]
        zone.kind = self.kind.currentData()
        zone.name = self.name.text().strip()
        include = zone.kind == INCLUDE
        zone.sensitivity = self.sensitivity.value() if include and self.own.isChecked() else None
        self._enable_own(zone.kind)
        self.list.item(index).setText(zone.label())
        self.canvas.update()
        self.edited.emit()
