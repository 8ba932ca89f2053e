"""The motion tuner's controls for one source's detection settings: on or off, the
algorithm, sensitivity, minimum area, make time, post- and pre-capture. Read from and
written to the settings' JSON form (`MotionSettings.to_dict`), the keys the service takes.

Minimum area is shown in per cent of the picture (the service stores a share, 0..1); the
rest are shown as stored.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QWidget,
)

ALGORITHMS = (("diff", "Frame difference (fast, default)"),
              ("mog2", "Background model (shadows, moving trees)"))
HINTS = {
    "sensitivity": "Higher: smaller brightness changes count as motion.",
    "min_area": "A change must cover this much of the picture to count (insects, noise).",
    "make_time_s": "Motion must last this long before an event opens.",
    "post_capture_s": "A motion recording goes on this long after the last motion.",
    "pre_capture_s": "A motion recording begins at a keyframe at least this long before.",
}


def _spin(low: float, high: float, step: float, suffix: str, decimals: int = 1) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setDecimals(decimals)
    spin.setSuffix(suffix)
    return spin


class MotionSettingsForm(QWidget):
    edited = Signal()  # the operator changed a control (not a load)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._loading = False
        self.enabled = QCheckBox("Detect motion on this source")
        self.algorithm = QComboBox()
        for value, label in ALGORITHMS:
            self.algorithm.addItem(label, value)
        self.sensitivity = QSlider(Qt.Orientation.Horizontal)
        self.sensitivity.setRange(1, 100)
        self.sensitivity_value = QLabel()
        self.sensitivity_value.setMinimumWidth(28)
        self.min_area = _spin(0.01, 50.0, 0.05, " %", 2)
        self.make_time = _spin(0.0, 10.0, 0.1, " s")
        self.post_capture = _spin(0.0, 300.0, 1.0, " s")
        self.pre_capture = _spin(0.0, 60.0, 1.0, " s")
        sensitivity_row = QHBoxLayout()
        sensitivity_row.addWidget(self.sensitivity, 1)
        sensitivity_row.addWidget(self.sensitivity_value)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.enabled)
        form.addRow("Algorithm", self.algorithm)
        form.addRow("Sensitivity", sensitivity_row)
        form.addRow("Minimum area", self.min_area)
        form.addRow("Make time", self.make_time)
        form.addRow("Post-capture", self.post_capture)
        form.addRow("Pre-capture", self.pre_capture)
        for key, widget in (("sensitivity", self.sensitivity), ("min_area", self.min_area),
                            ("make_time_s", self.make_time), ("post_capture_s", self.post_capture),
                            ("pre_capture_s", self.pre_capture)):
            widget.setToolTip(HINTS[key])
        self.enabled.toggled.connect(self._edited)
        self.algorithm.currentIndexChanged.connect(self._edited)
        self.sensitivity.valueChanged.connect(self._edited)
        for spin in (self.min_area, self.make_time, self.post_capture, self.pre_capture):
            spin.valueChanged.connect(self._edited)

    def _edited(self, *_args) -> None:
        self.sensitivity_value.setText(str(self.sensitivity.value()))
        if not self._loading:
            self.edited.emit()

    def load(self, settings: dict[str, Any]) -> None:
        """Show `settings` (the JSON form); raises no `edited`."""
        self._loading = True
        try:
            self.enabled.setChecked(bool(settings.get("enabled", True)))
            index = self.algorithm.findData(settings.get("algorithm", "diff"))
            self.algorithm.setCurrentIndex(max(0, index))
            self.sensitivity.setValue(int(settings.get("sensitivity", 50)))
            self.min_area.setValue(float(settings.get("min_area", 0.002)) * 100)
            self.make_time.setValue(float(settings.get("make_time_s", 0.5)))
            self.post_capture.setValue(float(settings.get("post_capture_s", 10.0)))
            self.pre_capture.setValue(float(settings.get("pre_capture_s", 5.0)))
        finally:
            self._loading = False
        self.sensitivity_value.setText(str(self.sensitivity.value()))

    def values(self) -> dict[str, Any]:
        return {"enabled": self.enabled.isChecked(), "algorithm": self.algorithm.currentData(),
                "sensitivity": self.sensitivity.value(),
                "min_area": round(self.min_area.value() / 100, 6),
                "make_time_s": self.make_time.value(),
                "post_capture_s": self.post_capture.value(),
                "pre_capture_s": self.pre_capture.value()}
