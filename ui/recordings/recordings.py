"""The recordings browser: every record of the catalog, filtered by tag, source, status and
begin date, with a thumbnail, duration, size, gaps and MD5 state; the selected one plays in
the in-app player, and can be opened in the file manager, protected from retention (the
lock column: a click toggles it), deleted (after a confirmation) or synced with its tag to
a folder or another station, with a progress bar.

On a site of several stations the browser lists every station's records (the catalog is
shared) with a Station column; a record on another station's disk is played, thumbnailed and
saved from its owner's API (.remote_records), and what only its owner can do with the file
(open its folder, delete it) is left to that station.

All it does goes through the station's services on the task runner, so the GUI never waits
on the catalog or the disk; and it reloads on the core's events, so a recording started, a
file deleted or a copy synced by a remote tool shows up here at once.
"""

from __future__ import annotations

from datetime import datetime, timezone
from datetime import timedelta
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QSplitter,
    QStyledItemDelegate,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.visibility import in_scope
from app.schemas import RecordOut, RecordStatus
from app.station import Station
from ui.session import visible_sources
from ui.bridge import EventBridge
from ui.errors import error_text
from ui.icons import icon
from ui.recordings.bookmark_list import BookmarkList
from ui.recordings.bookmarks import ask_bookmark
from ui.recordings.export_dialog import ExportDialog
from ui.recordings.player import PlayerWidget
from ui.recordings.record_filters import RecordFilterBar
from ui.recordings.recordings_model import (
    COL_BEGIN,
    COL_DURATION,
    COL_GAPS,
    COL_LOCK,
    COL_MD5,
    COL_SIZE,
    COL_SOURCE,
    COL_STATION,
    COL_STATUS,
    COL_SYNC,
    COL_TAG,
    COL_THUMB,
    RECORD_ROLE,
    THUMB,
    RecordRow,
    RecordsModel,
    Thumbnails,
    can_protect,
    deleted_note,
    gaps_detail,
    human_size,
    is_protected,
)
from ui.recordings.remote_records import RecordFiles
from ui.recordings.sync_panel import SyncDialog, SyncProgress
from ui.recordings.timeline import TimelinePanel
from ui.recordings.timeline_view import parse_utc
from ui.tasks import CoalescedLoad, ReloadsInBackground, TaskRunner

LIST_LIMIT = 2000      # newest first; more than this is a job for the filters
RELOAD_DELAY_MS = 80  # a burst of events (a group of ten starting) costs one query
# Other stations' recordings raise no event here: on a site, the list is read again this often.
SITE_RELOAD_S = 5


class MiddleElided(QStyledItemDelegate):
    """A path or URL cut in the middle, so both the place and the file name stay readable."""

    def initStyleOption(self, option, index) -> None:  # noqa: N802 - Qt naming
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle


class RecordingsBrowser(ReloadsInBackground, QWidget):
    # "Play with its group": the record's camera and its group's in step (ui.playback)
    play_together_requested = Signal(int, object)  # source id, the record's begin

    def __init__(self, station: Station, bridge: EventBridge, tasks: TaskRunner,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.station, self.bridge, self.tasks = station, bridge, tasks
        self.open_url = QDesktopServices.openUrl  # the file manager (tests replace it)
        self.ask_save_path = self._ask_save_path  # where "Save a copy" writes (tests replace it)
        self.files = RecordFiles(station)  # this disk, or another station's API
        self._site_wide = False  # the catalog is shared with other stations
        self._ticks = 0
        self._locating: str | None = None  # a record whose owner's URL is being looked up
        self._play_when_open: str | None = None  # ... and Play was asked meanwhile
        self.confirm_box: QMessageBox | None = None
        self.sync_dialog: SyncDialog | None = None
        self.loads = 0  # catalog queries answered (tests tell a reload from a stale view)
        self._restoring = False
        self._load = CoalescedLoad(self.tasks, self._fetch, self._on_loaded,
                                   delay_ms=RELOAD_DELAY_MS, parent=self)
        self._shown: tuple[str, str, str] | None = None  # (id, location, status) in the player
        self._last_sync_location = ""
        self.thumbnails = Thumbnails(tasks, parent=self)
        self.thumbnails.locate = self.files.target
        self.model = RecordsModel(self.thumbnails, self)
        self._build()
        self._tick = QTimer(self, interval=1000)
        self._tick.timeout.connect(self._on_tick)
        self._tick.start()
        for signal in (bridge.recording_started, bridge.recording_stopped, bridge.catalog_changed,
                       bridge.record_changed):
            signal.connect(self.schedule_reload)
        self.reload()

    # --- building ------------------------------------------------------------------
    def _build(self) -> None:
        self.filter_bar = RecordFilterBar(self)
        self.filter_bar.changed.connect(self.schedule_reload)
        self.filter_bar.refresh_requested.connect(self.reload)
        bar = self.filter_bar  # its widgets, by the names tests and the window use
        self.tag_box, self.source_box, self.status_box = bar.tag_box, bar.source_box, bar.status_box
        self.from_check, self.from_date = bar.from_check, bar.from_date
        self.to_check, self.to_date = bar.to_check, bar.to_date

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
        header.setMinimumSectionSize(40)
        header.setSectionResizeMode(COL_SYNC, QHeaderView.ResizeMode.Stretch)
        self.table.setItemDelegateForColumn(COL_SYNC, MiddleElided(self.table))
        for col, width in ((COL_LOCK, 26), (COL_THUMB, THUMB.width() + 8), (COL_TAG, 110),
                           (COL_SOURCE, 85), (COL_STATION, 85), (COL_BEGIN, 112), (COL_DURATION, 58),
                           (COL_SIZE, 68), (COL_STATUS, 88), (COL_GAPS, 64), (COL_MD5, 84)):
            self.table.setColumnWidth(col, width)
        self.table.clicked.connect(self._on_cell_clicked)
        # The selection is read once Qt has made it: a mouse press moves the current index
        # first and selects the row after (currentRowChanged alone saw no selection yet).
        selection = self.table.selectionModel()
        selection.selectionChanged.connect(lambda *_: self._on_selection())
        selection.currentRowChanged.connect(lambda *_: self._on_selection())
        self.table.doubleClicked.connect(lambda *_: self.play_selected())
        for keys, slot in (("Space", lambda: self.player.toggle()), (".", lambda: self.player.step()),
                           ("B", lambda: self.bookmark_player(self.player.position))):
            QShortcut(QKeySequence(keys), self.table, activated=slot,
                      context=Qt.ShortcutContext.WidgetShortcut)

        self.player = PlayerWidget(self)
        self.player.view.setMinimumSize(288, 162)
        self.player.bookmark_requested.connect(self.bookmark_player)
        # Above the table: the timeline of every source (.timeline); it plays in the player.
        self.timeline = TimelinePanel(self.station, self.bridge, self.tasks, self.player,
                                      self.files, self)
        self.timeline.record_played.connect(self._select_played)
        self.timeline.listed_span = self.listed_span
        self._fitted_filters: dict | None = None  # the filters the timeline was last fitted to
        self._fitted = False  # a fit happened for those filters (something was listed)
        self.bookmark_dialog = None
        self.details = QFormLayout()
        self.details.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.details.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self._detail_labels: dict[str, QLabel] = {}
        for name in ("Record", "File", "MD5", "Synced to", "Gaps", "Note"):
            label = QLabel("—")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            label.setMinimumWidth(120)
            self._detail_labels[name] = label
            self.details.addRow(name, label)

        self.act_play = self._action("play", "Play", self.play_selected, "Return")
        self.act_folder = self._action("folder", "Folder", self.open_folder,
                                       tip="Open the record's folder in the file manager")
        self.act_delete = self._action("trash", "Delete…", self.delete_selected, "Delete",
                                       tip="Delete the record's file (asks first)")
        self.act_sync = self._action("sync", "Sync…", self.sync_selected,
                                     tip="Copy the tag's finished records to a folder or station")
        self.act_stop = self._action("stop", "Stop", self.stop_selected,
                                     tip="Stop the tag's recording")
        self.act_protect = self._action("lock", "Protect", self.toggle_protected,
                                        tip="Keep the file whatever retention says (toggle)")
        self.act_copy_md5 = self._action("copy", "Copy MD5", self.copy_md5)
        self.act_copy_path = self._action("copy", "Copy file path", self.copy_path)
        self.act_save = self._action("film", "Save a copy…", self.save_copy_selected,
                                     tip="Copy the record's file to a place of your choice "
                                         "(from the station that holds it)")
        self.act_together = self._action(
            "play", "Play with its group", self.play_together_selected,
            tip="Play the record's camera and the cameras of its groups in step, from the "
                "record's beginning")
        self.act_export = self._action("film", "Export range…", self.export_range_selected,
                                       tip="Cut any time range of the record's source to a "
                                           "folder (across its files)")
        actions = QHBoxLayout()
        actions.setSpacing(0)
        for action in (self.act_play, self.act_folder, self.act_delete, self.act_sync, self.act_stop):
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setAutoRaise(True)
            actions.addWidget(button)
        actions.addStretch(1)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for action in (self.act_play, self.act_together, self.act_folder, self.act_save,
                       self.act_export,
                       self.act_protect,
                       self.act_sync, self.act_stop, self.act_copy_md5, self.act_copy_path,
                       self.act_delete):
            self.table.addAction(action)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sync_progress = SyncProgress(self.station, self.tasks, self)
        self.sync_progress.finished.connect(lambda _job: self._update_actions())

        # Below the table: the player, and beside it what can be done with the record.
        side = QVBoxLayout()
        side.setContentsMargins(0, 0, 0, 0)
        side.addLayout(actions)
        side.addLayout(self.details)
        side.addWidget(self.message)
        side.addStretch(1)
        side.addWidget(self.sync_progress)
        lower = QWidget(self)
        lower_layout = QHBoxLayout(lower)
        lower_layout.setContentsMargins(0, 4, 0, 0)
        lower_layout.addWidget(self.player, 5)
        lower_layout.addLayout(side, 4)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        # The timeline and, beside it (not instead of it), the bookmarks (.bookmark_list) it
        # plays: both in view at once, the operator sets the share.
        self.bookmarks = BookmarkList(self.station, self.bridge, self.tasks, self.timeline, self)
        self.top_split = QSplitter(Qt.Orientation.Horizontal, self)
        self.top_split.addWidget(self.timeline)
        self.top_split.addWidget(self.bookmarks)
        self.top_split.setStretchFactor(0, 3)
        self.top_split.setStretchFactor(1, 1)
        self.top_split.setChildrenCollapsible(False)
        self.splitter.addWidget(self.top_split)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(lower)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 5)
        self.splitter.setStretchFactor(2, 4)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.splitter, 1)
        self._update_actions()

    def _action(self, icon_name: str, text: str, slot, keys: str | None = None, *,
                tip: str | None = None) -> QAction:
        action = QAction(icon(icon_name), text, self)
        if tip:
            action.setToolTip(tip)
        action.triggered.connect(slot)
        if keys:
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # on the table
        return action

    # --- loading -------------------------------------------------------------------
    def filters(self) -> dict:
        return self.filter_bar.filters()

    def clear_filters(self) -> None:
        self.filter_bar.clear()

    def _fetch(self):
        filters = self.filters()
        station, files = self.station, self.files

        def fetch():
            visible = visible_sources(station)  # the signed-in user's scope (#26)
            records = [r for r in station.recordings.find(**filters, limit=LIST_LIMIT)
                       if in_scope(r.source.id if r.source else None, visible)]
            rows = [RecordRow.of(r, files.station_name(r), files.is_remote(r)) for r in records]
            return (rows, station.recordings.tag_names(),
                    [(s.id, s.name) for s in station.sources.list() if in_scope(s.id, visible)],
                    len(station.site.list()))
        return fetch

    def _on_loaded(self, result, error: BaseException | None) -> None:
        if error is not None:
            self.report(f"Could not read the recordings: {error}", error=True)
        else:
            rows, tags, sources, stations = result
            self.loads += 1
            self._site_wide = stations > 1
            self.table.setColumnHidden(COL_STATION, not self._site_wide)  # alone: as ever
            self.filter_bar.set_choices(tags, sources)
            selected = self.selected_record()
            self._restoring = True  # the reset drops the selection: not a new choice
            try:
                self.model.set_rows(rows)
                if selected is not None:
                    self.select(selected.id)
            finally:
                self._restoring = False
            self.filter_bar.set_count(len(rows), LIST_LIMIT)
            self._on_selection()
            self._fit_timeline()

    def listed_span(self) -> tuple[datetime, datetime] | None:
        """(first begin, last end) of the records listed (one still recording: now)."""
        now, spans = datetime.now(timezone.utc), []
        for row in self.model.rows:
            begin = parse_utc(row.record.begin_utc) if row.record.begin_utc else None
            if begin is not None:
                end = parse_utc(row.record.end_utc) if row.record.end_utc else now
                spans.append((begin, max(begin, end)))
        if not spans:
            return None
        return min(b for b, _ in spans), max(e for _, e in spans)

    def _fit_timeline(self) -> None:
        """The timeline opens on what is listed, and follows a change of the filters (what
        is listed); other reloads (a record started, a file deleted) leave it where it is."""
        filters = self.filters()
        if self._fitted_filters is None:
            self._fitted_filters = filters
            self._fitted = self.timeline.fit_unless_moved()
        elif filters != self._fitted_filters:
            self._fitted_filters = filters
            self._fitted = self.timeline.zoom_to_fit()
        elif not self._fitted:
            # nothing was listed when it opened (a new station): the first records to be
            # listed are fitted to, unless the operator has moved the view meanwhile
            self._fitted = self.timeline.fit_unless_moved()

    def _on_tick(self) -> None:
        self._ticks += 1
        if self._site_wide and self._ticks % SITE_RELOAD_S == 0:
            self.schedule_reload()
        self.model.tick()

    # --- selection -----------------------------------------------------------------
    def play_together_selected(self) -> None:
        record = self.selected_record()
        if record is not None and record.source is not None and record.has_footage:
            self.play_together_requested.emit(
                record.source.id, parse_utc(record.begin_utc or record.created_utc))

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

    def _select_played(self, record_id: str) -> None:
        """The timeline plays a record: its row is selected too (details, actions), without
        opening it again in the player, which already plays it from the clicked instant."""
        row = self.model.row_of(record_id)
        if row < 0:
            return  # not listed (the filters): the selection stays as it was
        record = self.model.rows[row].record
        self._shown = (record.id, record.location or "", record.status.value)
        self.select(record_id)

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
        elif not record.has_footage:
            self.player.clear("The file of this record was deleted")
        elif was is not None and was[:2] == shown[:2] and self.player.path is not None:
            self.player.set_live(record.status == RecordStatus.recording)  # it just stopped
        else:
            source = record.source.name if record.source else "deleted source"
            caption = f"{record.tag_name} · {source}"
            if self.files.is_remote(record):
                self._open_remote(record, caption)
            else:
                self.player.open(record.location, live=record.status == RecordStatus.recording,
                                 caption=caption)

    def _open_remote(self, record: RecordOut, caption: str) -> None:
        """Another station's file: its owner's URL is looked up off the GUI thread, then
        the player reads it from there (as it was when opened, if it still records)."""
        station = self.files.station_name(record)
        self.player.clear(f"Asking station “{station}” for the file…")
        self._shown = (record.id, record.location or "", record.status.value)
        self._locating = record.id

        def opened(target, error: BaseException | None) -> None:
            if self._locating == record.id:
                self._locating = None
            if self._shown is None or self._shown[0] != record.id:
                return  # the operator has moved on
            if error is not None:
                self.player.clear(f"Cannot play this record: {error_text(error)}")
                return
            self.player.open(record.location, caption=f"{caption} · on {station}", remote=target)
            if self._play_when_open == record.id:
                self.player.play()
            self._play_when_open = None

        self.tasks.run(lambda: self.files.target(record), opened)

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
        labels["Gaps"].setText(gaps_detail(record) or "none")
        note = [text for text in (deleted_note(record), record.error) if text]
        if is_protected(record):
            note.insert(0, "Protected: retention keeps this file.")
        labels["Note"].setText("\n".join(note) or "—")

    def _update_actions(self) -> None:
        record = self.selected_record()
        status = record.status if record else None
        has_file = record is not None and record.has_footage
        here = record is not None and not self.files.is_remote(record)  # its file on this disk
        self.act_play.setEnabled(has_file)
        self.act_together.setEnabled(has_file and record.source is not None)
        self.act_save.setEnabled(has_file and status != RecordStatus.recording)
        self.act_folder.setEnabled(here and bool(record.location))
        self.act_delete.setEnabled(here and has_file and status != RecordStatus.recording)
        self.act_sync.setEnabled(record is not None and not self.sync_progress.running)
        self.act_stop.setEnabled(status == RecordStatus.recording)
        self.act_protect.setEnabled(record is not None and can_protect(record))
        self.act_protect.setText("Unprotect" if record is not None and is_protected(record)
                                 else "Protect")
        self.act_copy_md5.setEnabled(bool(record and record.hash_md5))
        self.act_copy_path.setEnabled(here and bool(record.location))

    # --- actions -------------------------------------------------------------------
    def report(self, message: str, error: bool = False) -> None:
        """The outcome of the last action (a `Report`), under the details of the record it
        was about: an error in red."""
        self.message.setProperty("inlineError", error)  # red, from the style sheet
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
        self.message.setText(message)

    def _report_outcome(self, done: str):
        """A task callback: `done` when the call worked, else its error; then a reload."""
        def on_done(_result, error: BaseException | None) -> None:
            if error is not None:
                self.report(error_text(error), error=True)
            else:
                self.report(done)
            self.schedule_reload()
        return on_done

    def _on_cell_clicked(self, index) -> None:
        if index.column() == COL_LOCK:
            record = self.model.data(index, RECORD_ROLE)
            if record is not None:
                self.set_protected(record, not is_protected(record))

    def toggle_protected(self) -> None:
        record = self.selected_record()
        if record is not None:
            self.set_protected(record, not is_protected(record))

    def set_protected(self, record: RecordOut, protected: bool) -> None:
        """The lock: retention never deletes a protected record's file (the service says so
        in the catalog; the row reloads from its answer)."""
        if not can_protect(record):
            return
        recordings = self.station.recordings
        name = Path(record.location or "").name or record.id
        self.tasks.run(lambda: recordings.set_protected(record.id, protected),
                       self._report_outcome(f"{'Protected' if protected else 'Unprotected'} {name}."))

    def play_selected(self) -> None:
        record = self.selected_record()
        if record is None or record.status == RecordStatus.deleted or not record.location:
            return
        if self.files.is_remote(record) and self.player.path != Path(record.location):
            self._play_when_open = record.id  # played once its owner's URL is known
            if self._locating != record.id:
                self._shown = None
                self._on_selection()
            return
        if self.player.path != Path(record.location):
            self._shown = None
            self._on_selection()
        self.player.play()

    def _ask_save_path(self, suggested: str) -> str:
        return QFileDialog.getSaveFileName(self, "Save a copy of the recording", suggested,
                                           "MP4 video (*.mp4)")[0]

    def export_range_selected(self) -> ExportDialog | None:
        """The export dialog for the selected record's source, its begin and end prefilled
        with the record's (the operator may widen them across the source's other records)."""
        record = self.selected_record()
        if record is None or record.source is None or not record.begin_utc:
            return None
        begin = datetime.fromisoformat(record.begin_utc.replace("Z", "+00:00"))
        end = (datetime.fromisoformat(record.end_utc.replace("Z", "+00:00")) if record.end_utc
               else datetime.now(timezone.utc))
        dialog = ExportDialog(self.station, [record.source.id], begin, end, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def save_copy_selected(self) -> None:
        """Copy the selected record's file where the operator says, streamed from the
        station whose disk holds it (off the GUI thread)."""
        record = self.selected_record()
        if record is None or not record.has_footage or record.status == RecordStatus.recording:
            return
        chosen = self.ask_save_path(Path(record.location).name)
        if not chosen:
            return
        recordings, destination = self.station.recordings, Path(chosen)
        self.report(f"Saving a copy to {destination}…")
        # the service copies it (from this disk or the owner's API) and the audit names it
        self.tasks.run(lambda: recordings.save_copy(record.id, destination),
                       lambda size, error: self.report(
                           error_text(error) if error is not None else
                           f"Saved {destination.name} ({human_size(size)}).", error=error is not None))

    def open_folder(self) -> None:
        record = self.selected_record()
        if record is None or not record.location:
            return
        folder = Path(record.location).parent
        if not folder.is_dir():
            self.report(f"The folder {folder} does not exist any more", error=True)
            return
        self.open_url(QUrl.fromLocalFile(str(folder)))

    def delete_selected(self) -> None:
        """Ask first; the file goes, the record stays in the catalog marked deleted."""
        record = self.selected_record()
        if record is None or record.status in (RecordStatus.recording, RecordStatus.deleted):
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
            self.report("Nothing deleted.")
            return
        if self.player.path == Path(record.location or ""):
            self.player.clear("Deleting…")
            self._shown = None
        recordings = self.station.recordings
        self.tasks.run(lambda: recordings.delete_file(record.id, record.location or ""),
                       self._report_outcome(f"Deleted {Path(record.location or '').name}."))

    def sync_selected(self) -> None:
        record = self.selected_record()
        tags = self.filter_bar.tags()
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
                self.report(error_text(error), error=True)
                return
            self.report("")
            self.sync_progress.watch(job_id, tag, location)
            self._update_actions()

        self.tasks.run(lambda: sync.create(tag, location), started)

    def stop_selected(self) -> None:
        record = self.selected_record()
        if record is None or record.status != RecordStatus.recording or not record.tag_name:
            return
        tag, recordings = record.tag_name, self.station.recordings
        self.tasks.run(lambda: recordings.stop(tag, origin="gui"), self._report_outcome(f"Stopped “{tag}”."))

    def copy_md5(self) -> None:
        record = self.selected_record()
        if record is not None and record.hash_md5:
            QGuiApplication.clipboard().setText(record.hash_md5)

    def copy_path(self) -> None:
        record = self.selected_record()
        if record is not None and record.location:
            QGuiApplication.clipboard().setText(record.location)

    def bookmark_player(self, position: float) -> None:
        """`B` in the player: a bookmark at the instant it shows (asks for the title)."""
        shown = self.timeline.playing_instant()
        record = self.selected_record()
        if shown is None and record is not None and record.source is not None \
                and record.begin_utc and self.player.path == Path(record.location or ""):
            moment = parse_utc(record.begin_utc) + timedelta(seconds=position)
            shown = (record.source.id, record.source.name, moment)
        if shown is None:
            return
        source_id, name, moment = shown
        self.bookmark_dialog = ask_bookmark(self, self.station, self.tasks, source_id, name, moment,
                                            self._bookmark_added)

    def _bookmark_added(self, bookmark, error: BaseException | None) -> None:
        if error is not None:
            self.report(error_text(error), error=True)
        else:
            self.report(f"Bookmark “{bookmark.title}” added.")
        self.timeline.schedule_reload()

    def play_moment(self, source_id: int, moment: datetime) -> None:
        """Play `moment` of a source on the timeline (the Events panel's double-click)."""
        self.timeline.play_moment(source_id, moment)

    def shutdown(self) -> None:
        """Stop the player's thread and the timers (the window is closing)."""
        self.timeline.shutdown()
        self.bookmarks.shutdown()
        self._tick.stop()
        self._load.stop()
        self.sync_progress.stop()
        self.player.shutdown()
