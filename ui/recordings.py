"""The recordings browser: every record of the catalog, filtered by tag, source, status and
begin date, with a thumbnail, duration, size and MD5 state; the selected one plays in the
in-app player, and can be opened in the file manager, deleted (after a confirmation) or
synced with its tag to a folder or another station, with a progress bar.

All it does goes through the station's services on the task runner, so the GUI never waits
on the catalog or the disk; and it reloads on the core's events, so a recording started, a
file deleted or a copy synced by a remote tool shows up here at once.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

from PySide6.QtCore import QDate, QItemSelectionModel, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.schemas import RecordOut, RecordStatus
from app.station import Station
from ui.bridge import EventBridge
from ui.icons import icon
from ui.player import PlayerWidget
from ui.recordings_model import (
    COL_BEGIN,
    COL_DURATION,
    COL_MD5,
    COL_SIZE,
    COL_SOURCE,
    COL_STATUS,
    COL_SYNC,
    COL_TAG,
    COL_THUMB,
    RECORD_ROLE,
    THUMB,
    RecordRow,
    RecordsModel,
    Thumbnails,
    human_size,
)
from ui.sync_panel import SyncDialog, SyncProgress
from ui.tasks import TaskRunner

RELOAD_DELAY_MS = 80  # a burst of events (a group of ten starting) costs one query


class RecordingsBrowser(QWidget):
    def __init__(self, station: Station, bridge: EventBridge, tasks: TaskRunner,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.station, self.bridge, self.tasks = station, bridge, tasks
        self.open_url = QDesktopServices.openUrl  # the file manager (tests replace it)
        self.confirm_box: QMessageBox | None = None
        self.sync_dialog: SyncDialog | None = None
        self.loads = 0  # catalog queries answered (tests tell a reload from a stale view)
        self._loading = self._load_again = self._restoring = False
        self._shown: tuple[str, str, str] | None = None  # (id, location, status) in the player
        self._last_sync_location = ""
        self.thumbnails = Thumbnails(tasks, parent=self)
        self.model = RecordsModel(self.thumbnails, self)
        self._build()
        self._reload_timer = QTimer(self, singleShot=True, interval=RELOAD_DELAY_MS)
        self._reload_timer.timeout.connect(self.reload)
        self._tick = QTimer(self, interval=1000)
        self._tick.timeout.connect(self._on_tick)
        self._tick.start()
        for signal in (bridge.recording_started, bridge.recording_stopped, bridge.catalog_changed,
                       bridge.record_changed):
            signal.connect(self.schedule_reload)
        self.reload()

    # --- building ------------------------------------------------------------------
    def _build(self) -> None:
        self.tag_box, self.source_box, self.status_box = QComboBox(), QComboBox(), QComboBox()
        self.tag_box.addItem("All tags", None)
        self.source_box.addItem("All sources", None)
        self.status_box.addItem("Any status", None)
        for status in RecordStatus:
            self.status_box.addItem(status.value, status.value)
        for box in (self.tag_box, self.source_box):
            box.setMinimumContentsLength(12)
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.from_check, self.to_check = QCheckBox("From"), QCheckBox("To")
        self.from_date, self.to_date = QDateEdit(QDate.currentDate()), QDateEdit(QDate.currentDate())
        for check, edit in ((self.from_check, self.from_date), (self.to_check, self.to_date)):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
            check.toggled.connect(edit.setEnabled)
            check.toggled.connect(self.schedule_reload)
            edit.dateChanged.connect(self.schedule_reload)
        for box in (self.tag_box, self.source_box, self.status_box):
            box.currentIndexChanged.connect(self.schedule_reload)
        self.clear_button = QToolButton(text="Clear filters", autoRaise=True)
        self.clear_button.clicked.connect(self.clear_filters)
        self.count_label = QLabel()
        self.refresh_button = QToolButton(icon=icon("refresh"), autoRaise=True, toolTip="Reload")
        self.refresh_button.clicked.connect(self.reload)

        filters = QHBoxLayout()
        filters.setSpacing(6)
        for widget in (QLabel("Tag"), self.tag_box, QLabel("Source"), self.source_box,
                       QLabel("Status"), self.status_box, self.from_check, self.from_date,
                       self.to_check, self.to_date, self.clear_button):
            filters.addWidget(widget)
        filters.addStretch(1)
        filters.addWidget(self.count_label)
        filters.addWidget(self.refresh_button)

        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setIconSize(THUMB)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(THUMB.height() + 8)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(COL_SYNC, QHeaderView.ResizeMode.Stretch)
        for col, width in ((COL_THUMB, THUMB.width() + 12), (COL_TAG, 130), (COL_SOURCE, 110),
                           (COL_BEGIN, 145), (COL_DURATION, 70), (COL_SIZE, 75),
                           (COL_STATUS, 100), (COL_MD5, 95)):
            self.table.setColumnWidth(col, width)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._on_selection())
        self.table.doubleClicked.connect(lambda *_: self.play_selected())

        self.player = PlayerWidget(self)
        self.player.setMinimumWidth(380)
        self.details = QFormLayout()
        self.details.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self._detail_labels: dict[str, QLabel] = {}
        for name in ("Record", "File", "MD5", "Synced to", "Note"):
            label = QLabel("—")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            self._detail_labels[name] = label
            self.details.addRow(name, label)

        self.act_play = self._action("play", "Play", self.play_selected, "Return")
        self.act_folder = self._action("folder", "Open folder", self.open_folder)
        self.act_delete = self._action("trash", "Delete file…", self.delete_selected, "Delete")
        self.act_sync = self._action("sync", "Sync tag…", self.sync_selected)
        self.act_stop = self._action("stop", "Stop recording", self.stop_selected)
        self.act_copy_md5 = self._action("copy", "Copy MD5", self.copy_md5)
        self.act_copy_path = self._action("copy", "Copy file path", self.copy_path)
        actions = QHBoxLayout()
        actions.setSpacing(2)
        for action in (self.act_play, self.act_folder, self.act_delete, self.act_sync, self.act_stop):
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setAutoRaise(True)
            actions.addWidget(button)
        actions.addStretch(1)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for action in (self.act_play, self.act_folder, self.act_sync, self.act_stop,
                       self.act_copy_md5, self.act_copy_path, self.act_delete):
            self.table.addAction(action)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sync_progress = SyncProgress(self.station, self.tasks, self)
        self.sync_progress.finished.connect(lambda _job: self._update_actions())

        side = QWidget(self)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(6, 0, 0, 0)
        side_layout.addWidget(self.player, 1)
        side_layout.addLayout(actions)
        side_layout.addLayout(self.details)
        side_layout.addWidget(self.message)
        side_layout.addWidget(self.sync_progress)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(side)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(filters)
        layout.addWidget(self.splitter, 1)
        self._update_actions()

    def _action(self, icon_name: str, text: str, slot, keys: str | None = None) -> QAction:
        action = QAction(icon(icon_name), text, self)
        action.triggered.connect(slot)
        if keys:
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # on the table
        return action

    # --- loading -------------------------------------------------------------------
    def filters(self) -> dict:
        """The filter bar as `RecordingService.find` arguments (dates: local whole days)."""
        found: dict = {"tag_name": self.tag_box.currentData(), "source_id": self.source_box.currentData(),
                       "status": self.status_box.currentData()}
        if self.from_check.isChecked():
            found["begin_from"] = datetime.combine(self.from_date.date().toPython(), time()).astimezone()
        if self.to_check.isChecked():
            day = self.to_date.date().toPython() + timedelta(days=1)
            found["begin_to"] = datetime.combine(day, time()).astimezone()
        return found

    def clear_filters(self) -> None:
        for widget in (self.tag_box, self.source_box, self.status_box, self.from_check, self.to_check):
            widget.blockSignals(True)
        self.tag_box.setCurrentIndex(0)
        self.source_box.setCurrentIndex(0)
        self.status_box.setCurrentIndex(0)
        self.from_check.setChecked(False)
        self.to_check.setChecked(False)
        for widget in (self.tag_box, self.source_box, self.status_box, self.from_check, self.to_check):
            widget.blockSignals(False)
        self.from_date.setEnabled(False)
        self.to_date.setEnabled(False)
        self.reload()

    def schedule_reload(self, *_args) -> None:
        self._reload_timer.start()

    def reload(self) -> None:
        if self._loading:
            self._load_again = True
            return
        self._loading, self._load_again = True, False
        filters = self.filters()
        station = self.station

        def fetch():
            records = station.recordings.find(**filters)
            return ([RecordRow.of(r) for r in records], station.recordings.tag_names(),
                    [(s.id, s.name) for s in station.sources.list()])

        self.tasks.run(fetch, self._on_loaded)

    def _on_loaded(self, result, error: BaseException | None) -> None:
        self._loading = False
        if error is not None:
            self.say(f"Could not read the recordings: {error}", error=True)
        else:
            rows, tags, sources = result
            self.loads += 1
            self._fill_box(self.tag_box, [(t, t) for t in tags])
            self._fill_box(self.source_box, [(name, sid) for sid, name in sources])
            selected = self.selected_record()
            self._restoring = True  # the reset drops the selection: not a new choice
            try:
                self.model.set_rows(rows)
                if selected is not None:
                    self.select(selected.id)
            finally:
                self._restoring = False
            self.count_label.setText(f"{len(rows)} record{'s' if len(rows) != 1 else ''}")
            self._on_selection()
        if self._load_again:
            self.reload()

    @staticmethod
    def _fill_box(box: QComboBox, items: list[tuple[str, object]]) -> None:
        """Replace a filter's choices, keeping the current one (and its first 'all' entry)."""
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
            box.currentIndexChanged.emit(0)  # the chosen tag or source is gone: show all

    def _on_tick(self) -> None:
        self.model.tick()

    # --- selection -----------------------------------------------------------------
    def selected_record(self) -> RecordOut | None:
        index = self.table.selectionModel().currentIndex()
        if not index.isValid() or not self.table.selectionModel().isRowSelected(index.row()):
            return None
        return self.model.data(index, RECORD_ROLE)

    def select(self, record_id: str) -> bool:
        row = self.model.row_of(record_id)
        if row < 0:
            return False
        flags = (QItemSelectionModel.SelectionFlag.ClearAndSelect
                 | QItemSelectionModel.SelectionFlag.Rows)
        self.table.selectionModel().setCurrentIndex(self.model.index(row, 0), flags)
        self.table.scrollTo(self.model.index(row, 0))
        return True

    def _on_selection(self) -> None:
        if self._restoring:
            return
        record = self.selected_record()
        self._show_details(record)
        self._update_actions()
        shown = (record.id, record.location or "", record.status.value) if record else None
        if shown == self._shown:
            return
        was = self._shown
        self._shown = shown
        if record is None:
            self.player.clear()
        elif record.status.value == "deleted" or not record.location:
            self.player.clear("The file of this record was deleted")
        elif was is not None and was[:2] == shown[:2] and self.player.path is not None:
            self.player.set_live(record.status.value == "recording")  # it just stopped
        else:
            source = record.source.name if record.source else "deleted source"
            self.player.open(record.location, live=record.status.value == "recording",
                             caption=f"{record.tag_name} · {source}")

    def _show_details(self, record: RecordOut | None) -> None:
        labels = self._detail_labels
        if record is None:
            for label in labels.values():
                label.setText("—")
            return
        labels["Record"].setText(record.id)
        labels["File"].setText(record.location or "—")
        row = self.model.rows[self.model.row_of(record.id)]
        labels["MD5"].setText(f"{record.hash_md5 or 'none'} ({row.md5_state})")
        labels["Synced to"].setText(record.sync_location or "not synced")
        labels["Note"].setText(record.error or "—")

    def _update_actions(self) -> None:
        record = self.selected_record()
        status = record.status.value if record else None
        has_file = record is not None and status != "deleted" and bool(record.location)
        self.act_play.setEnabled(has_file)
        self.act_folder.setEnabled(record is not None and bool(record.location))
        self.act_delete.setEnabled(has_file and status != "recording")
        self.act_sync.setEnabled(record is not None and not self.sync_progress.running)
        self.act_stop.setEnabled(status == "recording")
        self.act_stop.setVisible(status == "recording")
        self.act_copy_md5.setEnabled(bool(record and record.hash_md5))
        self.act_copy_path.setEnabled(bool(record and record.location))

    # --- actions -------------------------------------------------------------------
    def say(self, text: str, *, error: bool = False) -> None:
        """The outcome of the last action, under the details."""
        self.message.setStyleSheet("color: #e53e3e;" if error else "")
        self.message.setText(text)

    def _report(self, done: str):
        def on_done(_result, error: BaseException | None) -> None:
            if error is not None:
                self.say(getattr(error, "message", None) or str(error), error=True)
            else:
                self.say(done)
            self.schedule_reload()
        return on_done

    def play_selected(self) -> None:
        record = self.selected_record()
        if record is None or record.status.value == "deleted" or not record.location:
            return
        if self.player.path != Path(record.location):
            self._shown = None
            self._on_selection()
        self.player.play()

    def open_folder(self) -> None:
        record = self.selected_record()
        if record is None or not record.location:
            return
        folder = Path(record.location).parent
        if not folder.is_dir():
            self.say(f"The folder {folder} does not exist any more", error=True)
            return
        self.open_url(QUrl.fromLocalFile(str(folder)))

    def delete_selected(self) -> None:
        """Ask first; the file goes, the record stays in the catalog marked deleted."""
        record = self.selected_record()
        if record is None or record.status.value in ("recording", "deleted"):
            return
        source = record.source.name if record.source else "a deleted source"
        box = QMessageBox(QMessageBox.Icon.Warning, "Delete recording file",
                          f"Delete the file of “{record.tag_name}” from {source} "
                          f"({human_size(record.size_bytes)})?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setInformativeText(f"{record.location}\n\nThe record stays in the catalog, marked "
                               "deleted. This cannot be undone.")
        box.button(QMessageBox.StandardButton.Yes).setText("Delete file")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda result: self._delete_answered(record, result))
        self.confirm_box = box
        box.open()

    def _delete_answered(self, record: RecordOut, result: int) -> None:
        self.confirm_box = None
        if result != QMessageBox.StandardButton.Yes:
            self.say("Nothing deleted.")
            return
        if self.player.path == Path(record.location or ""):
            self.player.clear("Deleting…")
            self._shown = None
        recordings = self.station.recordings
        self.tasks.run(lambda: recordings.delete_file(record.id, record.location or ""),
                       self._report(f"Deleted {Path(record.location or '').name}."))

    def sync_selected(self) -> None:
        record = self.selected_record()
        tags = [self.tag_box.itemText(i) for i in range(1, self.tag_box.count())]
        dialog = SyncDialog(tags, record.tag_name if record else None, self._last_sync_location, self)
        dialog.finished.connect(lambda result: self._sync_answered(dialog, result))
        self.sync_dialog = dialog
        dialog.open()

    def _sync_answered(self, dialog: SyncDialog, result: int) -> None:
        self.sync_dialog = None
        dialog.deleteLater()
        if result != SyncDialog.DialogCode.Accepted:
            return
        tag, location = dialog.values()
        self._last_sync_location = location
        sync = self.station.sync

        def started(job_id, error: BaseException | None) -> None:
            if error is not None:
                self.say(getattr(error, "message", None) or str(error), error=True)
                return
            self.say("")
            self.sync_progress.watch(job_id, tag, location)
            self._update_actions()

        self.tasks.run(lambda: sync.create(tag, location), started)

    def stop_selected(self) -> None:
        record = self.selected_record()
        if record is None or record.status.value != "recording" or not record.tag_name:
            return
        tag, recordings = record.tag_name, self.station.recordings
        self.tasks.run(lambda: recordings.stop(tag, origin="gui"), self._report(f"Stopped “{tag}”."))

    def copy_md5(self) -> None:
        record = self.selected_record()
        if record is not None and record.hash_md5:
            QGuiApplication.clipboard().setText(record.hash_md5)

    def copy_path(self) -> None:
        record = self.selected_record()
        if record is not None and record.location:
            QGuiApplication.clipboard().setText(record.location)

    def shutdown(self) -> None:
        """Stop the player's thread and the timers (the window is closing)."""
        self._tick.stop()
        self._reload_timer.stop()
        self.sync_progress.stop()
        self.player.shutdown()
