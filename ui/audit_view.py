"""The audit tab: the newest state changes and footage handed out, through any door (API
dialects, the GUI), with who, from where, on what (names beside ids) and with what result;
filtered by dialect, who, action, source and time, searched, and saved as CSV.

Entries are read on the task runner, a page at a time (`AuditService.list`); the tab reloads
by itself when the audit writer reports new entries (`AuditWritten`, at most every half
second, and only while the tab is shown — a hidden tab reloads when it is shown again).
Save CSV writes every entry the filters select (`AuditService.entries`, `audit_csv`: the same
file `GET /api/v1/audit?format=csv` answers), on the task runner too.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.events import AuditWritten, Event
from app.services.audit import AuditEntryOut, AuditPage
from app.services.audit_csv import to_csv
from ui.audit_filters import DIALECTS, AuditFilterBar
from ui.icons import icon
from ui.tasks import TaskRunner

PAGE_SIZE = 200
RELOAD_DELAY_MS = 500
CHOICES_EVERY_S = 60.0  # the callers and sources offered are read again at most this often
ACTION_WIDTH = 240
COLUMNS = ("Time", "Dialect", "Address", "Who", "Action", "Target", "Result", "Detail")
ACTION = COLUMNS.index("Action")  # its tooltip adds the method and route an API entry asked
__all__ = ["COLUMNS", "DIALECTS", "AuditView"]
FAILED = QColor("#c53030")


def local_time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone().strftime(
            "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def failed(result: str) -> bool:
    return result.startswith("failed") or (result.isdigit() and int(result) >= 400)


class AuditModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.entries: list[AuditEntryOut] = []

    def set_entries(self, entries: list[AuditEntryOut], append: bool = False) -> None:
        if append:
            first = len(self.entries)
            self.beginInsertRows(QModelIndex(), first, first + len(entries) - 1)
            self.entries.extend(entries)
            self.endInsertRows()
            return
        self.beginResetModel()
        self.entries = list(entries)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt naming
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt naming
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def text(self, row: int, column: int) -> str:
        e = self.entries[row]
        values = (local_time(e.time), e.dialect, e.address, e.who, e.action, e.target or "",
                  e.result, e.detail or "")
        return values[column]

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == ACTION:
            detail = self.entries[index.row()].detail  # what the API was asked, if it was
            action = self.text(index.row(), index.column())
            return f"{action}\n{detail}" if detail else action
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.text(index.row(), index.column())
        if role == Qt.ItemDataRole.ForegroundRole and failed(self.entries[index.row()].result):
            return FAILED
        return None


class AuditView(QWidget):
    """Newest first; filters and a search (`AuditFilterBar`), Refresh, Save CSV, and Older
    entries (a cursor below the last row shown, so new entries arriving meanwhile do not
    shift the pages)."""

    written = Signal()  # AuditWritten heard on the writer thread, delivered queued

    def __init__(self, station, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.station, self.tasks = station, tasks
        self.total = 0
        self.loads = 0  # pages answered (tests tell a reload from a stale view)
        self.saved: Path | None = None  # the last CSV written (tests, the status text)
        self._choices_read_at: float | None = None
        self._loading = self._load_again = self._stale = False
        self._older_again = False  # "Older" clicked while a page was being read
        self.model = AuditModel(self)
        self._build()
        self._reload_timer = QTimer(self, singleShot=True, interval=RELOAD_DELAY_MS)
        self._reload_timer.timeout.connect(self.reload)
        self.written.connect(self._on_written)
        self._unsubscribe = station.bus.subscribe(self._heard)
        self.reload()

    def _build(self) -> None:
        self.filter_bar = AuditFilterBar(self)
        self.dialect_box = self.filter_bar.dialect_box
        self.filter_bar.changed.connect(self.reload)
        self.refresh_button = QPushButton(icon("refresh"), "Refresh", self)
        self.refresh_button.clicked.connect(self.reload)
        self.csv_button = QPushButton(icon("save"), "Save CSV…", self,
                                      toolTip="Save every entry the filters select as a CSV file")
        self.csv_button.clicked.connect(self.ask_csv_path)
        self.older_button = QPushButton("Older entries", self)
        self.older_button.clicked.connect(self.load_older)
        self.older_button.setEnabled(False)
        self.count_label = QLabel(self)
        bar = QHBoxLayout()
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.csv_button)
        bar.addStretch(1)
        bar.addWidget(self.count_label)
        bar.addWidget(self.older_button)

        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Target"), QHeaderView.ResizeMode.Stretch)
        # a route pattern can be long: a fixed, resizable width leaves the target room (the
        # full text of every cell is its tooltip)
        header.setSectionResizeMode(COLUMNS.index("Action"), QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(COLUMNS.index("Action"), ACTION_WIDTH)

        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_bar)
        layout.addLayout(bar)
        layout.addWidget(self.table)

    # --- loading -------------------------------------------------------------------------
    def _query(self, before_id: int | None = None):
        audit, filters = self.station.audit, self.filter_bar.filters()
        return lambda: audit.list(page_size=PAGE_SIZE, before_id=before_id, **filters)

    def reload(self) -> None:
        """The newest page again (on the task runner); a reload asked while one runs follows it.
        The choices the filters offer (callers, sources) are read again with it."""
        self._stale = False
        if self._loading:
            self._load_again = True
            return
        self._loading = True
        self.tasks.run(self._query(), lambda page, error: self._loaded(page, error, False))
        self._offer_choices()

    def _offer_choices(self) -> None:
        """The callers and sources the filters offer: read with the first page, then at most
        once a minute (the callers are a DISTINCT over the whole trail; new entries arriving
        every half second must not scan it each time)."""
        now = time.monotonic()
        if self._choices_read_at is not None and now - self._choices_read_at < CHOICES_EVERY_S:
            return
        self._choices_read_at = now
        station = self.station

        def read() -> tuple[list[str], list[tuple[int, str]], list[str]]:
            return (station.audit.callers(), [(s.id, s.name) for s in station.sources.list()],
                    [u.name for u in station.accounts.list()])

        def offer(choices, error) -> None:
            if error is None and choices is not None:
                self.filter_bar.offer_callers(choices[0])
                self.filter_bar.offer_sources(choices[1])
                self.filter_bar.offer_users(choices[2])
        self.tasks.run(read, offer)

    # --- CSV -----------------------------------------------------------------------------
    def ask_csv_path(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the audit trail as CSV",
                                              str(Path.home() / "audit.csv"),
                                              "CSV files (*.csv)")
        if path:
            self.save_csv(Path(path))

    def save_csv(self, path: Path) -> None:
        """Every entry the filters select into `path` (on the task runner)."""
        audit, filters = self.station.audit, self.filter_bar.filters()
        self.csv_button.setEnabled(False)

        def write() -> int:
            entries = audit.entries(**filters)
            path.write_text(to_csv(entries), encoding="utf-8", newline="")
            return len(entries)

        def done(count, error) -> None:
            self.csv_button.setEnabled(True)
            if error is not None:
                self.count_label.setText(f"Could not save {path.name}: {error}")
                return
            self.saved = path
            self.count_label.setText(f"{count} entries saved to {path}")
        self.tasks.run(write, done)

    def load_older(self) -> None:
        """The page before the oldest shown; clicked while a page is being read (a reload
        the writer's news started), it follows that read rather than being lost."""
        if self._loading:
            self._older_again = True
            return
        if not self.model.entries:
            return
        self._loading = True
        before = self.model.entries[-1].id
        self.tasks.run(self._query(before), lambda page, error: self._loaded(page, error, True))

    def _loaded(self, page: AuditPage | None, error: BaseException | None, append: bool) -> None:
        self._loading = False
        self.loads += 1
        if error is not None or page is None:
            self.count_label.setText(f"Could not read the audit trail: {error}")
        else:
            self.model.set_entries(page.items, append=append)
            if not append:
                self.total = page.total
            shown = len(self.model.entries)
            self.count_label.setText(f"{shown} of {self.total} entries (kept 90 days)")
            self.older_button.setEnabled(shown < self.total and len(page.items) == PAGE_SIZE)
        if self._load_again:
            self._load_again = False
            self.reload()
        elif self._older_again:
            self._older_again = False
            self.load_older()

    # --- live updates --------------------------------------------------------------------
    def _heard(self, event: Event) -> None:
        """On the audit writer's thread: only hand the news to the GUI thread."""
        if isinstance(event, AuditWritten):
            try:
                self.written.emit()
            except RuntimeError:  # the widget is gone; shutdown() unsubscribes
                pass

    def _on_written(self) -> None:
        if self.isVisible():
            if not self._reload_timer.isActive():
                self._reload_timer.start()
        else:
            self._stale = True

    def showEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().showEvent(event)
        if self._stale:
            self.reload()

    def shutdown(self) -> None:
        self._reload_timer.stop()
        self._unsubscribe()
