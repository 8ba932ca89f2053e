"""The "Recording mode" part of the source dialog: what the source records by itself (manual,
continuous, on motion, on a schedule), the tag those recordings go under, how long they are
kept, and the week grid for `schedule`.

A new source starts in `continuous`: the GUI's choice for an operator who adds a camera to
record it; the API's default stays `manual`, so a seed client sees no change. The rules
(which schedule is valid, which tag a mode uses by default) are the core's (app.record_modes,
the service's checks); this form only shows them and sends what was chosen.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLineEdit, QSpinBox, QVBoxLayout, QWidget

from app.record_modes import DEFAULT_TAGS, RecordMode, SlotMode
from app.schemas import SourceOut
from ui.forms import Form, inline_error
from ui.sources.schedule_grid import ScheduleEditor

MODES = (
    (RecordMode.manual, "Manual: only when started"),
    (RecordMode.continuous, "Continuous: always"),
    (RecordMode.motion, "On motion"),
    (RecordMode.schedule, "On a schedule"),
)
NEW_SOURCE_MODE = RecordMode.continuous
HINTS = {
    RecordMode.manual: "Records only what you, a group or an API client start.",
    RecordMode.continuous: "Records all the time, by itself, and again after a restart.",
    RecordMode.motion: "Records while motion is detected, with a few seconds before and after.",
    RecordMode.schedule: "Paint the week by the half-hour, in this station's time zone: "
                         "pick a mode, then click a cell or drag across several.",
}


def default_tag_text(mode: RecordMode) -> str:
    """The placeholder of the tag field: the tag the mode records under when none is named."""
    if mode == RecordMode.continuous:
        return DEFAULT_TAGS[SlotMode.continuous]
    if mode == RecordMode.motion:
        return DEFAULT_TAGS[SlotMode.motion]
    if mode == RecordMode.schedule:
        return (f"{DEFAULT_TAGS[SlotMode.continuous]} or {DEFAULT_TAGS[SlotMode.motion]}, "
                "by slot")
    return "— (manual: the tag is chosen at each start)"


class RecordModeForm(Form):
    """Fields keyed by the service's names: record_mode, record_tag, retention_days,
    record_schedule (so the service's 422 shows beside the field it names)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.mode = self.add("record_mode", "Mode", QComboBox(), HINTS[NEW_SOURCE_MODE])
        for mode, label in MODES:
            self.mode.addItem(label, mode.value)
        self.record_tag = self.add("record_tag", "Tag", QLineEdit(),
                                   "The tag its recordings go under; empty: the mode's own")
        self.retention = self.add("retention_days", "Keep for", QSpinBox(),
                                  "Days its recordings are kept; over the tag's and the "
                                  "station's retention")
        self.retention.setRange(0, 36500)
        self.retention.setSuffix(" days")
        self.retention.setSpecialValueText("the station's setting")
        self.schedule = self._add_wide("record_schedule", ScheduleEditor())
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.set_mode(NEW_SOURCE_MODE)
        self._mode_changed()

    def _add_wide(self, key: str, field: QWidget) -> QWidget:
        """A row across the whole form, captions' column included: the week grid needs the
        width (48 half-hours a day) more than a caption."""
        cell = QWidget(self)
        column = QVBoxLayout(cell)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(3)
        column.addWidget(field)
        error = inline_error(cell, key)
        column.addWidget(error)
        self.layout_.addRow(cell)
        self.fields[key], self.errors[key] = field, error
        return field

    @property
    def current_mode(self) -> RecordMode:
        return RecordMode(self.mode.currentData())

    def set_mode(self, mode: RecordMode | str) -> None:
        self.mode.setCurrentIndex(self.mode.findData(RecordMode(mode).value))

    def _mode_changed(self) -> None:
        mode = self.current_mode
        self.hints["record_mode"].setText(HINTS[mode])
        self.record_tag.setPlaceholderText(default_tag_text(mode))
        self.record_tag.setEnabled(mode != RecordMode.manual)
        self.layout_.setRowVisible(self.schedule.parentWidget(), mode == RecordMode.schedule)

    def load(self, source: SourceOut) -> None:
        self.set_mode(source.record_mode)
        self.record_tag.setText(source.record_tag or "")
        self.retention.setValue(source.retention_days or 0)
        self.schedule.load([slot.model_dump(mode="json", by_alias=True)
                            for slot in source.record_schedule or []])

    def payload(self) -> dict:
        """What the service stores: the mode, its tag ("" = the mode's own), the retention
        (0 = none of its own) and, in `schedule` mode, the grid's slots (empty: the service
        says a schedule needs one)."""
        data = {"record_mode": self.current_mode.value,
                "record_tag": self.record_tag.text().strip(),
                "retention_days": self.retention.value()}
        if self.current_mode == RecordMode.schedule:
            data["record_schedule"] = self.schedule.schedule()
        return data
