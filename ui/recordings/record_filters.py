"""The recordings browser's filter bar: tag, source, status and a begin-date range, compact
enough to sit beside the station's panels at 1366×768 (the dates fold into one button with
presets and a from/to range). It only turns the operator's choices into
`RecordingService.find` arguments; the query itself is the service's."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QToolButton,
    QWidget,
    QWidgetAction,
)

from app.schemas import RecordStatus
from ui.icons import icon


class RecordFilterBar(QWidget):
    changed = Signal()          # any choice changed: the browser reloads
    refresh_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._quiet = False  # set_last_days: one change for the preset, not one per widget
        self.tag_box, self.source_box, self.status_box = QComboBox(), QComboBox(), QComboBox()
        self.tag_box.addItem("All tags", None)
        self.source_box.addItem("All sources", None)
        self.status_box.addItem("Any status", None)
        for status in RecordStatus:
            self.status_box.addItem(status.value, status.value)
        for box, tip in ((self.tag_box, "Only this tag"), (self.source_box, "Only this source"),
                         (self.status_box, "Only records in this state")):
            box.setToolTip(tip)
            box.setMinimumContentsLength(10)
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.currentIndexChanged.connect(self.changed)
        self.from_check, self.to_check = QCheckBox("From"), QCheckBox("To")
        self.from_date, self.to_date = QDateEdit(QDate.currentDate()), QDateEdit(QDate.currentDate())
        for check, edit in ((self.from_check, self.from_date), (self.to_check, self.to_date)):
            check.setToolTip("Only records begun on this day or " + ("later" if check is self.from_check
                                                                   else "earlier"))
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
            check.toggled.connect(edit.setEnabled)
            check.toggled.connect(self._dates_changed)
            edit.dateChanged.connect(self._dates_changed)
        self.date_button = QToolButton(self, autoRaise=False, toolTip="Begun when")
        self.date_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.date_button.setMenu(self._date_menu())
        self._show_dates()
        self.clear_button = QToolButton(text="Clear", autoRaise=True, toolTip="Show every record")
        self.clear_button.clicked.connect(self.clear)
        self.count_label = QLabel()
        self.refresh_button = QToolButton(icon=icon("refresh"), autoRaise=True, toolTip="Reload")
        self.refresh_button.clicked.connect(self.refresh_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        for widget in (self.tag_box, self.source_box, self.status_box, self.date_button,
                       self.clear_button):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(self.count_label)
        layout.addWidget(self.refresh_button)

    def _date_menu(self) -> QMenu:
        menu = QMenu(self)
        for text, days in (("Any date", None), ("Today", 0), ("Last 7 days", 6), ("Last 30 days", 29)):
            menu.addAction(text, lambda days=days: self.set_last_days(days))
        menu.addSeparator()
        box = QWidget(menu)
        grid = QGridLayout(box)
        grid.setContentsMargins(12, 4, 12, 6)
        grid.addWidget(self.from_check, 0, 0)
        grid.addWidget(self.from_date, 0, 1)
        grid.addWidget(self.to_check, 1, 0)
        grid.addWidget(self.to_date, 1, 1)
        range_action = QWidgetAction(menu)
        range_action.setDefaultWidget(box)
        menu.addAction(range_action)
        return menu

    def set_last_days(self, days: int | None) -> None:
        """A preset: today and the `days` before it (None: any date)."""
        self._quiet = True
        try:
            self.from_check.setChecked(days is not None)
            if days is not None:
                self.from_date.setDate(QDate.currentDate().addDays(-days))
            self.to_check.setChecked(False)
        finally:
            self._quiet = False
        self._dates_changed()

    def _dates_changed(self, *_args) -> None:
        if self._quiet:
            return
        self._show_dates()
        self.changed.emit()

    def _show_dates(self) -> None:
        since = self.from_date.date().toString("yyyy-MM-dd") if self.from_check.isChecked() else None
        until = self.to_date.date().toString("yyyy-MM-dd") if self.to_check.isChecked() else None
        today = QDate.currentDate()
        if since and until:
            text = since if since == until else f"{since} – {until}"
        elif since:
            days = self.from_date.date().daysTo(today)
            text = {0: "Today", 6: "Last 7 days", 29: "Last 30 days"}.get(days, f"Since {since}")
        elif until:
            text = f"Until {until}"
        else:
            text = "Any date"
        self.date_button.setText(text)

    def filters(self) -> dict:
        """The choices as `RecordingService.find` arguments (dates: whole local days)."""
        found: dict = {"tag_name": self.tag_box.currentData(), "source_id": self.source_box.currentData(),
                       "status": self.status_box.currentData()}
        if self.from_check.isChecked():
            found["begin_from"] = datetime.combine(self.from_date.date().toPython(), time()).astimezone()
        if self.to_check.isChecked():
            day = self.to_date.date().toPython() + timedelta(days=1)
            found["begin_to"] = datetime.combine(day, time()).astimezone()
        return found

    def clear(self) -> None:
        widgets = (self.tag_box, self.source_box, self.status_box, self.from_check, self.to_check)
        for widget in widgets:
            widget.blockSignals(True)
        for box in (self.tag_box, self.source_box, self.status_box):
            box.setCurrentIndex(0)
        for check, edit in ((self.from_check, self.from_date), (self.to_check, self.to_date)):
            check.setChecked(False)
            edit.setEnabled(False)
        for widget in widgets:
            widget.blockSignals(False)
        self._show_dates()
        self.changed.emit()

    def set_choices(self, tags: list[str], sources: list[tuple[int, str]]) -> None:
        """New tags and sources from the catalog; the current choices stay chosen."""
        self._fill(self.tag_box, [(t, t) for t in tags])
        self._fill(self.source_box, [(name, sid) for sid, name in sources])

    def tags(self) -> list[str]:
        return [self.tag_box.itemText(i) for i in range(1, self.tag_box.count())]

    def set_count(self, count: int, limit: int | None = None) -> None:
        """How many records are listed; at the query's limit, that there may be more."""
        more = limit is not None and count >= limit
        self.count_label.setText(f"{count}{'+' if more else ''} record{'s' if count != 1 else ''}")
        self.count_label.setToolTip("The newest ones: narrow the filters to see older records"
                                    if more else "")

    def _fill(self, box: QComboBox, items: list[tuple[str, object]]) -> None:
        if [(box.itemText(i), box.itemData(i)) for i in range(1, box.count())] == items:
            return
        current = box.currentData()
        box.blockSignals(True)
        while box.count() > 1:
            box.removeItem(1)
        for text, data in items:
            box.addItem(text, data)
        index = box.findData(current) if current is not None else 0
        box.setCurrentIndex(max(0, index))
        box.blockSignals(False)
        if current is not None and index < 0:
            self.changed.emit()  # the chosen tag or source is gone: show them all
