"""The Recordings tab's list of bookmarks: every moment an operator marked, newest first,
filtered by a search on title and note (the bookmark service's own search, so the GUI and
`GET /api/v1/bookmark?q=` agree). A double-click plays the moment on the timeline (showing it
first when it is out of view, and waiting for its spans: `TimelinePanel.play_moment`, the
path the Events panel's double-click takes too); the context menu, the buttons above the
list (enabled while a bookmark is selected, by a click or the arrow keys) and the keys
(Return plays, Delete deletes) play it, open the Export dialog on the minute around it, or
delete it.

Every read and delete runs on the task runner (the GUI never waits on the catalog); the list
is read again when the catalog says a bookmark (or a source, whose name it shows) changed.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.visibility import in_scope
from app.schemas import BookmarkOut
from ui.session import visible_sources
from ui.bridge import EventBridge
from ui.errors import error_text
from ui.list_keys import KeyActions
from ui.recordings.export_dialog import ExportDialog, export_around_bookmark
from ui.recordings.timeline import TimelinePanel
from ui.recordings.timeline_view import parse_utc
from ui.tasks import CoalescedLoad, TaskRunner

LIST_LIMIT = 1000        # newest first; more is a job for the search
SEARCH_DELAY_MS = 200    # typing a word costs one query
COLUMNS = ("Time", "Source", "Title", "Note")


class BookmarkList(QWidget):
    # "Play from here (all cameras)": the window's synchronised playback (ui.playback)
    play_together_requested = Signal(int, object)  # source id, the moment (aware datetime)

    def __init__(self, station, bridge: EventBridge, tasks: TaskRunner, timeline: TimelinePanel,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.station, self.tasks, self.timeline = station, tasks, timeline
        self.loads = 0  # searches answered (tests wait on it)
        self.export_dialog: ExportDialog | None = None
        self._load = CoalescedLoad(tasks, self._fetch, self._on_loaded,
                                   delay_ms=SEARCH_DELAY_MS, parent=self)

        self.search_edit = QLineEdit(self)
        self.search_edit.setPlaceholderText("Search bookmarks (title or note)")
        self.search_edit.setClearButtonEnabled(True)
        self.count_label = QLabel(self)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        for col, width in ((0, 140), (1, 90), (2, 150)):
            self.table.setColumnWidth(col, width)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.play(self.bookmark_at(row)))
        # What a selected bookmark can do: buttons enabled from the selection model's own
        # signal (after Qt has made the selection, mouse or keyboard), and keys on the list.
        self.play_button = QPushButton("Play", self)
        self.play_button.setToolTip("Play the selected bookmark's moment (Return)")
        self.play_button.clicked.connect(lambda: self.play(self.selected()))
        self.export_button = QPushButton("Export…", self)
        self.export_button.setToolTip("Export the minute around the selected bookmark")
        self.export_button.clicked.connect(lambda: self._with_selected(self.export_around))
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.setToolTip("Delete the selected bookmark (Delete)")
        self.delete_button.clicked.connect(lambda: self._with_selected(self.delete))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        play = lambda: self.play(self.selected())  # noqa: E731
        self.keys = KeyActions(self.table, {Qt.Key.Key_Return: play, Qt.Key.Key_Enter: play,
                                            Qt.Key.Key_Delete: lambda: self._with_selected(self.delete)})

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.search_edit, 1)
        bar.addWidget(self.count_label)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for button in (self.play_button, self.export_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)

        self.search_edit.textChanged.connect(lambda _text: self._load.schedule())
        bridge.catalog_changed.connect(self._on_catalog_changed)
        timeline.bookmark_clicked.connect(self.select)  # a click on its flag selects it here
        self._update_buttons()
        self.reload()

    # --- reading -----------------------------------------------------------------------
    def reload(self) -> None:
        self._load.run()

    @property
    def loading(self) -> bool:
        return self._load.running or self._load.pending

    def _on_catalog_changed(self, entity: str, _entity_id: int, _action: str) -> None:
        if entity in ("bookmark", "source"):
            self._load.schedule()

    def _fetch(self):
        text, bookmarks = self.search_edit.text().strip() or None, self.station.bookmarks

        station = self.station

        def fetch() -> list[BookmarkOut]:
            found = bookmarks.search(text=text)  # in time order, at most the service's cap
            visible = visible_sources(station)  # the signed-in user's scope (#26)
            return [b for b in found[::-1] if in_scope(b.source_id, visible)][:LIST_LIMIT]
        return fetch

    def _on_loaded(self, marks: list[BookmarkOut] | None, error: BaseException | None) -> None:
        if error is not None:
            self.count_label.setText("Could not read the bookmarks")
            self.count_label.setToolTip(str(error))
            return
        self.loads += 1
        chosen = self.selected()
        self.table.setRowCount(len(marks))
        for row, mark in enumerate(marks):
            when = parse_utc(mark.time_utc).astimezone()
            cells = (f"{when:%Y-%m-%d %H:%M:%S}", mark.source_name, mark.title,
                     (mark.note or "").replace("\n", " "))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(mark.note or mark.title if col == 3 else text)
                if col == 0:
                    item.setData(Qt.ItemDataRole.UserRole, mark)
                self.table.setItem(row, col, item)
        kept = next((row for row, mark in enumerate(marks)
                     if chosen is not None and mark.id == chosen.id), -1)
        if kept >= 0:
            self.table.selectRow(kept)  # a reload keeps the operator's choice
        else:
            self.table.clearSelection()
        self.count_label.setText(f"{len(marks)} bookmark{'s' if len(marks) != 1 else ''}")
        self.count_label.setToolTip("")
        self._update_buttons()

    def bookmark_at(self, row: int) -> BookmarkOut | None:
        item = self.table.item(row, 0)
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def selected(self) -> BookmarkOut | None:
        """The selected bookmark, read from the selection model (None: none selected)."""
        rows = self.table.selectionModel().selectedRows()
        return self.bookmark_at(rows[0].row()) if rows else None

    def select(self, bookmark_id: int) -> bool:
        """Select the bookmark's row (False: not listed, e.g. the search leaves it out)."""
        row = next((row for row in range(self.table.rowCount())
                    if (mark := self.bookmark_at(row)) is not None and mark.id == bookmark_id), -1)
        if row < 0:
            return False
        self.table.selectRow(row)
        self.table.scrollToItem(self.table.item(row, 0))
        return True

    def _update_buttons(self) -> None:
        mark = self.selected()
        for button in (self.play_button, self.export_button):
            button.setEnabled(mark is not None and mark.source_id is not None)
        self.delete_button.setEnabled(mark is not None)

    def _with_selected(self, act) -> None:
        mark = self.selected()
        if mark is not None:
            act(mark)

    # --- acting on one -----------------------------------------------------------------
    def play(self, mark: BookmarkOut | None) -> None:
        """Play the moment on the timeline (shown first when it is out of view)."""
        if mark is None or mark.source_id is None:
            return
        self.timeline.play_moment(mark.source_id, parse_utc(mark.time_utc))

    def export_around(self, mark: BookmarkOut) -> None:
        """The Export dialog on the range the bookmark service puts around the moment
        (`export_dialog` once it is open)."""
        if mark.source_id is None:
            return

        def shown(dialog: ExportDialog) -> None:
            self.export_dialog = dialog

        def failed(text: str) -> None:
            self.count_label.setText(f"Cannot export around “{mark.title}”")
            self.count_label.setToolTip(text)

        export_around_bookmark(self, self.station, self.tasks, mark.id, shown, failed)

    def delete(self, mark: BookmarkOut) -> None:
        """Delete it (the catalog's event reloads the list and the timeline)."""
        bookmarks = self.station.bookmarks

        def deleted(_out, error: BaseException | None) -> None:
            if error is not None:
                self.count_label.setText(f"Could not delete “{mark.title}”")
                self.count_label.setToolTip(error_text(error))
            self.reload()

        self.tasks.run(lambda: bookmarks.delete(mark.id), deleted)

    def _context_menu(self, pos) -> None:
        mark = self.bookmark_at(self.table.rowAt(pos.y()))
        if mark is None:
            return
        menu = QMenu(self)
        menu.aboutToHide.connect(menu.deleteLater)
        for text, slot in (("Play", lambda: self.play(mark)),
                           ("Export around this bookmark…", lambda: self.export_around(mark))):
            menu.addAction(text, slot).setEnabled(mark.source_id is not None)
        menu.addAction("Play from here (all cameras)", lambda: self.play_together_requested.emit(
            mark.source_id, parse_utc(mark.time_utc))).setEnabled(mark.source_id is not None)
        menu.addSeparator()
        menu.addAction("Delete bookmark", lambda: self.delete(mark))
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def shutdown(self) -> None:
        self._load.stop()
