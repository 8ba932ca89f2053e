"""The Events panel: the station's and the site's events, newest first, with their kind,
source, time, text and state (open or closed, acknowledged by whom); filtered by kind, by
severity (alarm, warning, info), by source, to the unacknowledged or to the open ones (the
event service's own filter, so the panel and `GET /api/v1/event` agree); the status bar's
alarm count opens it on what it counts (`show_waiting_alarms`: the unacknowledged alarms);
one or the selected events (a click, shift/ctrl-click or the arrow keys) acknowledged from
a button or the context menu, or all that the filter selects (after a confirmation); a
double-click, Return or the Play button plays the moment in the Recordings tab's player
(`play_requested`, the timeline's `play_moment`, the bookmark list's path).

Reads and acknowledgements run on the task runner. Every change of an event, from this panel,
the API or the camera watch, reaches the panel through the bridge (`event_changed`) and reads
the list again, so an acknowledgement through the API shows here and the other way round.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.alarms.kinds import KINDS
from app.schemas import EventOut, EventSeverity
from ui.bridge import EventBridge
from ui.errors import error_text
from ui.list_keys import KeyActions
from ui.session import who_of
from ui.tasks import CoalescedLoad, TaskRunner

LIST_LIMIT = 500       # newest first; older ones are a job for the filters
RELOAD_DELAY_MS = 150  # a burst of changes (acknowledge all) costs one read
COLUMNS = ("Time", "Kind", "Source", "Text", "State")
ALARM_COLOUR = QColor("#e53e3e")
WARNING_COLOUR = QColor("#dd8a1e")
MOTION_COLOUR = QColor("#38a169")  # motion (#24): the timeline strip's green, not a warning's


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def event_text(event: EventOut) -> str:
    """The event's words, and the zones a motion touched when they do not say them all: the
    zones grow while the motion lasts, and its data holds them all once it has closed."""
    zones = [str(zone) for zone in (event.data or {}).get("zones") or ()]
    named = ", ".join(zones)
    return f"{event.text} · zones: {named}" if zones and not event.text.endswith(named) \
        else event.text


def state_text(event: EventOut) -> str:
    """'open · unacknowledged', 'closed · acknowledged by ana at 10:02:03'; a moment (an
    instant event) is neither open nor closed: 'unacknowledged'."""
    state = "open · " if event.end is None else "" if event.end == event.begin else "closed · "
    if event.acknowledged_at is None:
        return f"{state}unacknowledged"
    when = parse_utc(event.acknowledged_at).astimezone()
    return f"{state}acknowledged by {event.acknowledged_by} at {when:%H:%M:%S}"


class EventsPanel(QWidget):
    play_requested = Signal(int, object)  # source id, the moment (an aware datetime)
    # "Play from here (all cameras)": the window's synchronised playback (ui.playback)
    play_together_requested = Signal(int, object)

    def __init__(self, station, bridge: EventBridge, tasks: TaskRunner,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.station, self.tasks = station, tasks
        # the signed-in user (#26): only their sources' events are shown, from the first read
        self.identity = getattr(station, "identity", None)
        self.loads = 0  # reads answered (tests wait on it)
        self.events: list[EventOut] = []
        self.source_names: dict[int, str] = {}
        self._load = CoalescedLoad(tasks, self._fetch, self._on_loaded,
                                   delay_ms=RELOAD_DELAY_MS, parent=self)
        self._build()
        bridge.event_changed.connect(lambda *_: self._load.schedule())
        bridge.catalog_changed.connect(
            lambda entity, *_: entity == "source" and self._load.schedule())
        self.reload()

    def _build(self) -> None:
        self.kind_box = QComboBox(self)
        self.kind_box.addItem("All kinds", None)
        for name in sorted(KINDS):
            self.kind_box.addItem(name.replace("_", " "), name)
        self.severity_box = QComboBox(self)
        self.severity_box.addItem("All severities", None)
        for severity in (EventSeverity.alarm, EventSeverity.warning, EventSeverity.info):
            self.severity_box.addItem(severity.value, severity.value)
        self.source_box = QComboBox(self)
        self.source_box.addItem("All sources", None)
        self.unacknowledged_check = QCheckBox("Unacknowledged only", self)
        self.open_check = QCheckBox("Open only", self)
        self.ack_button = QPushButton("Acknowledge", self)
        self.ack_button.setToolTip("Acknowledge the selected events")
        self.play_button = QPushButton("Play", self)
        self.play_button.setToolTip("Play the moment of the selected event (Return)")
        self.ack_all_button = QPushButton("Acknowledge all…", self)
        self.ack_all_button.setToolTip("Acknowledge every unacknowledged event the filter "
                                       "selects (kind, severity, source)")
        self.count_label = QLabel(self)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        for col, width in ((0, 140), (1, 120), (2, 110), (4, 240)):
            self.table.setColumnWidth(col, width)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.play(self.event_at(row)))
        # The buttons follow the selection model's own signal: the selection as Qt has made
        # it, whether by the mouse or the keyboard.
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.keys = KeyActions(self.table, {Qt.Key.Key_Return: self._play_selected,
                                            Qt.Key.Key_Enter: self._play_selected})

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for widget in (self.kind_box, self.severity_box, self.source_box,
                       self.unacknowledged_check, self.open_check):
            bar.addWidget(widget)
        bar.addStretch(1)
        for widget in (self.count_label, self.play_button, self.ack_button, self.ack_all_button):
            bar.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        for box in (self.kind_box, self.severity_box, self.source_box):
            box.currentIndexChanged.connect(lambda _i: self.reload())
        for check in (self.unacknowledged_check, self.open_check):
            check.toggled.connect(lambda _on: self.reload())
        self.ack_button.clicked.connect(lambda: self.acknowledge(self.selected_events()))
        self.play_button.clicked.connect(self._play_selected)
        self.ack_all_button.clicked.connect(self.acknowledge_all)
        self._update_buttons()

    # --- reading -----------------------------------------------------------------------
    def reload(self) -> None:
        self._load.run()

    @property
    def loading(self) -> bool:
        return self._load.running or self._load.pending

    def show_waiting_alarms(self) -> None:
        """The filter on what the status bar counts: the unacknowledged alarms, of every
        kind and source, open or not."""
        boxes = (self.kind_box, self.severity_box, self.source_box, self.unacknowledged_check,
                 self.open_check)
        for widget in boxes:
            widget.blockSignals(True)
        self.kind_box.setCurrentIndex(0)
        self.source_box.setCurrentIndex(0)
        self.severity_box.setCurrentIndex(self.severity_box.findData(EventSeverity.alarm.value))
        self.unacknowledged_check.setChecked(True)
        self.open_check.setChecked(False)
        for widget in boxes:
            widget.blockSignals(False)
        self.reload()

    def filters(self) -> dict:
        """The filter as the event service's arguments (only those set)."""
        chosen = {"kind": self.kind_box.currentData(),
                  "severity": self.severity_box.currentData(),
                  "source_id": self.source_box.currentData(),
                  "unacknowledged": True if self.unacknowledged_check.isChecked() else None,
                  "open": True if self.open_check.isChecked() else None}
        return {key: value for key, value in chosen.items() if value is not None}

    def _fetch(self):
        filters, station, identity = self.filters(), self.station, self.identity

        def fetch():
            visible = station.scope.sources(identity)  # None: every source
            names = {s.id: s.name for s in station.sources.list()
                     if visible is None or s.id in visible}
            return names, station.events.list(limit=LIST_LIMIT, sources=visible, **filters)
        return fetch

    def _on_loaded(self, result, error: BaseException | None) -> None:
        if error is not None:
            self.count_label.setText("Could not read the events")
            self.count_label.setToolTip(error_text(error))
            return
        self.loads += 1
        self.source_names, self.events = result
        self._fill_sources()
        selected = {event.id for event in self.selected_events()}
        self.table.setRowCount(len(self.events))
        for row, event in enumerate(self.events):
            self._fill_row(row, event)
            if event.id in selected:
                self.table.selectRow(row)
        self.count_label.setText(f"{len(self.events)} event{'s' if len(self.events) != 1 else ''}")
        self.count_label.setToolTip("")
        self._update_buttons()

    def _fill_sources(self) -> None:
        """The source filter's choices, keeping the one chosen."""
        chosen = self.source_box.currentData()
        wanted = [(None, "All sources")] + sorted(
            self.source_names.items(), key=lambda item: item[1].lower())
        if [(self.source_box.itemData(i), self.source_box.itemText(i))
                for i in range(self.source_box.count())] == wanted:
            return
        self.source_box.blockSignals(True)
        self.source_box.clear()
        for source_id, name in wanted:
            self.source_box.addItem(name, source_id)
        self.source_box.setCurrentIndex(max(0, self.source_box.findData(chosen)))
        self.source_box.blockSignals(False)

    def _fill_row(self, row: int, event: EventOut) -> None:
        when = parse_utc(event.begin).astimezone()
        source = (self.source_names.get(event.source_id, f"source {event.source_id}")
                  if event.source_id is not None else "station")
        cells = (f"{when:%Y-%m-%d %H:%M:%S}", event.kind.replace("_", " "), source,
                 event_text(event), state_text(event))
        loud = event.acknowledged_at is None and event.severity != EventSeverity.info
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(text if col != 3 else f"{event.text}\n({event.severity}"
                            + (f", caused by {event.caused_by})" if event.caused_by else ")"))
            if col == 0:
                item.setData(Qt.ItemDataRole.UserRole, event)
            if loud:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
                item.setForeground(ALARM_COLOUR if event.severity == EventSeverity.alarm
                                   else MOTION_COLOUR if event.kind == "motion"
                                   else WARNING_COLOUR)
            self.table.setItem(row, col, item)

    def event_at(self, row: int) -> EventOut | None:
        item = self.table.item(row, 0)
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def row_of(self, event_id: int) -> int:
        """The row showing the event, -1 when none does."""
        return next((row for row, event in enumerate(self.events) if event.id == event_id), -1)

    def select_event(self, event_id: int) -> bool:
        """Select the event's row alone (a click on its mark on the timeline); False when the
        filter does not list it."""
        row = self.row_of(event_id)
        if row < 0:
            return False
        self.table.clearSelection()
        self.table.selectRow(row)
        self.table.scrollToItem(self.table.item(row, 0))
        return True

    def selected_events(self) -> list[EventOut]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [event for event in (self.event_at(row) for row in rows) if event is not None]

    def _update_buttons(self) -> None:
        selected = self.selected_events()
        self.ack_button.setEnabled(any(e.acknowledged_at is None for e in selected))
        self.play_button.setEnabled(len(selected) == 1 and selected[0].source_id is not None)

    def _play_selected(self) -> None:
        """Return or Play: the moment of the one selected event (the current one of several)."""
        selected = self.selected_events()
        if len(selected) > 1:
            selected = [self.event_at(self.table.currentRow())]
        if selected:
            self.play(selected[0])

    # --- acting ------------------------------------------------------------------------
    def acknowledge(self, events: list[EventOut]) -> None:
        """Acknowledge these events as the operator (the list follows the bridge's events)."""
        service, ids = self.station.events, [e.id for e in events if e.acknowledged_at is None]
        if ids:
            who = who_of(self.station)
            self.tasks.run(lambda: [service.acknowledge(i, who) for i in ids], self._acted)

    def ask_acknowledge_all(self) -> bool:
        """The confirmation of Acknowledge all (a test answers it instead)."""
        answer = QMessageBox.question(
            self, "Acknowledge all",
            "Acknowledge every unacknowledged event the filter selects"
            f"{' (' + self._filter_words() + ')' if self._filter_words() else ''}?")
        return answer == QMessageBox.StandardButton.Yes

    def _filter_words(self) -> str:
        words = [self.kind_box.currentText() if self.kind_box.currentData() else "",
                 self.severity_box.currentText() if self.severity_box.currentData() else "",
                 self.source_box.currentText() if self.source_box.currentData() else ""]
        return ", ".join(word for word in words if word)

    def acknowledge_all(self) -> None:
        if not self.ask_acknowledge_all():
            return
        filters = {k: v for k, v in self.filters().items()
                   if k in ("kind", "severity", "source_id", "open")}
        service, who = self.station.events, who_of(self.station)
        scope, identity = self.station.scope, self.identity

        def acknowledge_all() -> int:  # a scoped user's "all": the events they can see
            return service.acknowledge_all(who, sources=scope.sources(identity), **filters)
        self.tasks.run(acknowledge_all, self._acted)

    def _acted(self, _result, error: BaseException | None) -> None:
        if error is not None:
            self.count_label.setText("Could not acknowledge")
            self.count_label.setToolTip(error_text(error))
        self._load.schedule()

    def play(self, event: EventOut | None) -> None:
        """Ask the window to play the moment the event began."""
        if event is not None and event.source_id is not None:
            self.play_requested.emit(event.source_id, parse_utc(event.begin))

    def _context_menu(self, pos) -> None:
        event = self.event_at(self.table.rowAt(pos.y()))
        if event is None:
            return
        menu = QMenu(self)
        menu.aboutToHide.connect(menu.deleteLater)
        menu.addAction("Play this moment", lambda: self.play(event)).setEnabled(
            event.source_id is not None)
        menu.addAction("Play from here (all cameras)", lambda: self.play_together_requested.emit(
            event.source_id, parse_utc(event.begin))).setEnabled(event.source_id is not None)
        menu.addAction("Acknowledge", lambda: self.acknowledge([event])).setEnabled(
            event.acknowledged_at is None)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def shutdown(self) -> None:
        self._load.stop()
