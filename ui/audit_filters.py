"""The audit tab's filters: dialect, who, user (an account however it came in), action,
source, a time range and a search box.

WHY one widget that only gathers choices: the filters are the service's
(`AuditService.conditions`: the same ones `GET /api/v1/audit` takes), so the tab, its CSV and
the API select the same entries; this bar decides nothing, it says what the operator chose
(`filters()`) and when that changed (`changed`, a search typed is waited for briefly so each
keystroke does not read the catalog).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from PySide6.QtCore import QDateTime, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QHBoxLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.services.audit import ACTIONS

DIALECTS = (("All dialects", None), ("GUI", "gui"), ("Native API", "native"),
            ("Device Connect", "device-connect"), ("Huawei Live", "huawei-live"),
            ("Huawei RTC", "huawei-rtc"))  # the names the API's dialect policies give
SEARCH_DELAY_MS = 300
TIME_FORMAT = "yyyy-MM-dd HH:mm"


class AuditFilterBar(QWidget):
    """What the operator chose; `changed` when it changes."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.dialect_box = QComboBox(self)
        for label, value in DIALECTS:
            self.dialect_box.addItem(label, value)
        self.who_box = QComboBox(self, toolTip="Who made the change (a credential's id or an "
                                 "operator's user name)")
        self.who_box.addItem("Anyone", None)
        self.user_box = QComboBox(self, toolTip="An account's entries however it came in: "
                                  "the window, a session, a token, an AK/SK, MQTT, a Device "
                                  "Connect application acting as it")
        self.user_box.addItem("Any user", None)
        self.action_box = QComboBox(self, toolTip="What was done")
        self.action_box.addItem("All actions", None)
        for name, meaning in ACTIONS.items():
            self.action_box.addItem(name, name)
            self.action_box.setItemData(self.action_box.count() - 1, meaning, 3)  # tooltip
        self.source_box = QComboBox(self, toolTip="Entries that touched this source: the "
                                    "source, a record of it, a bookmark on it")
        self.source_box.addItem("All sources", None)
        self.since_check = QCheckBox("From", self)
        self.until_check = QCheckBox("to", self)
        now = QDateTime.currentDateTime()
        self.since_edit = QDateTimeEdit(now.addDays(-1), self, displayFormat=TIME_FORMAT,
                                        calendarPopup=True, enabled=False)
        self.until_edit = QDateTimeEdit(now, self, displayFormat=TIME_FORMAT,
                                        calendarPopup=True, enabled=False)
        self.search_edit = QLineEdit(self, placeholderText="Search who, action, target, detail",
                                     clearButtonEnabled=True)
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.changed)

        for box in (self.dialect_box, self.who_box, self.user_box, self.action_box,
                    self.source_box):
            box.currentIndexChanged.connect(lambda *_: self.changed.emit())
        for check, edit in ((self.since_check, self.since_edit),
                            (self.until_check, self.until_edit)):
            check.toggled.connect(edit.setEnabled)
            check.toggled.connect(lambda *_: self.changed.emit())
            edit.dateTimeChanged.connect(self._time_changed)
        self.search_edit.textChanged.connect(lambda *_: self._search_timer.start())

        first = QHBoxLayout()
        for widget in (self.dialect_box, self.who_box, self.user_box, self.action_box,
                       self.source_box):
            first.addWidget(widget)
        first.addStretch(1)
        second = QHBoxLayout()
        for widget in (self.since_check, self.since_edit, self.until_check, self.until_edit):
            second.addWidget(widget)
        second.addWidget(self.search_edit, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(first)
        layout.addLayout(second)

    def _time_changed(self, *_args) -> None:
        if self.since_check.isChecked() or self.until_check.isChecked():
            self.changed.emit()

    # --- choices offered -----------------------------------------------------------------
    def offer_callers(self, callers: list[str]) -> None:
        """The callers the trail names (the current choice kept, even if not among them)."""
        self._offer(self.who_box, [(who, who) for who in callers])

    def offer_users(self, names: list[str]) -> None:
        """The accounts of the catalog (#26)."""
        self._offer(self.user_box, [(name, name) for name in names])

    def offer_sources(self, sources: list[tuple[int, str]]) -> None:
        """`(id, name)` of the station's sources, shown as `Front door (6)`."""
        self._offer(self.source_box, [(f"{name} ({sid})", sid) for sid, name in sources])

    @staticmethod
    def _offer(box: QComboBox, items: list[tuple[str, object]]) -> None:
        chosen = box.currentData()
        box.blockSignals(True)
        try:
            while box.count() > 1:
                box.removeItem(1)
            for label, value in items:
                box.addItem(label, value)
            if chosen is not None:
                index = box.findData(chosen)
                if index < 0:
                    box.addItem(str(chosen), chosen)
                    index = box.count() - 1
                box.setCurrentIndex(index)
        finally:
            box.blockSignals(False)

    # --- what was chosen -------------------------------------------------------------------
    def filters(self) -> dict:
        """The service's filters (`AuditService.conditions`) the operator chose."""
        return {"dialect": self.dialect_box.currentData(), "who": self.who_box.currentData(),
                "user": self.user_box.currentData(),
                "action": self.action_box.currentData(),
                "source_id": self.source_box.currentData(),
                "since": _utc(self.since_edit) if self.since_check.isChecked() else None,
                "until": _until(self.until_edit) if self.until_check.isChecked() else None,
                "q": self.search_edit.text().strip() or None}


def _utc(edit: QDateTimeEdit) -> datetime:
    """The minute shown (the seconds the editor holds but does not show are dropped)."""
    seconds = edit.dateTime().toSecsSinceEpoch()
    return datetime.fromtimestamp(seconds - seconds % 60, timezone.utc)


def _until(edit: QDateTimeEdit) -> datetime:
    """The end of the minute shown: `to 10:17` includes what happened at 10:17:40."""
    return _utc(edit) + timedelta(minutes=1)
