"""Recording controls: start a group (or the selected tiles) under a tag, and the list of
tags recording now with their elapsed time and size, each stoppable.

No traps (#27 item 6): the group is the one picked in the sources tree, never a second
choice of its own (`follow`); "Start selected" counts and names only the selected tiles the
tree's filter shows, since a hidden tile recording would surprise; "Start recording…" opens a
dialog (ui.start_dialog), and Stop tag / Stop all ask first, naming what stops and which
recording modes go on (ui.recording_confirm).

The tag name is suggested as `<group>-<date-time>` until the operator types one. The list
is re-read once a second off the GUI thread (sizes come from the files on disk), and at once
when any recording starts or stops, whoever started it.
"""

from __future__ import annotations

from datetime import datetime, timezone

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.schemas import RecordStatus
from app.station import Station
from ui.errors import error_text
from ui.icons import icon
from ui.recording_confirm import ask, names, stop_all_question, stop_tag_question
from ui.recordings.recordings_model import human_size
from ui.start_dialog import StartRecordingDialog
from ui.tasks import Report, TaskRunner

NO_GROUP = "pick a group in the sources tree"


def elapsed_text(since: datetime, now: datetime | None = None) -> str:
    seconds = max(0, int(((now or datetime.now(timezone.utc)) - since).total_seconds()))
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class TagsPanel(QWidget):
    def __init__(self, station: Station, tasks: TaskRunner, report: Report,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.station, self.tasks, self._report = station, tasks, report
        self.selected_sources: list[int] = []  # every selected tile, shown or not
        self.visible_ids: list[int] | None = None  # the tree's filter (None: every source)
        self.group = ""  # the group picked in the tree ("" when none is)
        self.groups_panel = None  # the tree's panel and the wall, once `follow` is called
        self.wall = None
        self.group_label = QLabel(NO_GROUP, self)
        self.group_label.setObjectName("recordingGroup")
        self.group_label.setToolTip("The group picked in the “Sources and groups” tree")
        self.tag_edit = QLineEdit(self)
        self.tag_edit.setPlaceholderText("tag name")
        self.tag_edit.setClearButtonEnabled(True)
        self.start_group_button = QPushButton(icon("record"), "Start group", self)
        self.start_group_button.setObjectName("startButton")
        self.start_group_button.setToolTip("Record every source of the group under the tag (Ctrl+R)")
        self.start_group_button.clicked.connect(self.start_group)
        self.start_selected_button = QPushButton(icon("record"), "Start selected", self)
        self.start_selected_button.setToolTip("Record the selected tiles under the tag")
        self.start_selected_button.clicked.connect(self.start_selected)
        self.start_selected_button.setEnabled(False)
        self.selection_label = QLabel(self)  # the tiles "Start selected" would record
        self.selection_label.setWordWrap(True)
        self.start_dialog: StartRecordingDialog | None = None
        self.confirm_box = None  # the stop question open now (tests answer it)
        self.running = QTreeWidget(self)
        self.running.setHeaderLabels(["Tag", "Elapsed", "Sources", "Size"])
        self.running.setRootIsDecorated(False)
        header = self.running.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.running.setHeaderLabels(["Tag", "Elapsed", "Src", "Size"])
        self.stop_button = QPushButton(icon("stop"), "Stop tag", self)
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setToolTip("Stop the selected tag, or the tag typed above (Ctrl+Shift+R)")
        self.stop_button.clicked.connect(self.stop_selected)
        self.stop_all_button = QPushButton("Stop all", self)
        self.stop_all_button.clicked.connect(self.stop_all)

        form = QFormLayout()
        form.addRow("Group", self.group_label)
        form.addRow("Tag", self.tag_edit)
        starts = QHBoxLayout()
        starts.addWidget(self.start_group_button)
        starts.addWidget(self.start_selected_button)
        stops = QHBoxLayout()
        stops.addWidget(self.stop_button)
        stops.addWidget(self.stop_all_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(form)
        layout.addLayout(starts)
        layout.addWidget(self.selection_label)
        title = QLabel("Recording now", self)
        title.setObjectName("panelTitle")
        layout.addWidget(title)
        layout.addWidget(self.running, 1)
        layout.addLayout(stops)
        self.summary: list = []
        self._reading = False
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh)
        self._timer.start(1000)

    # --- inputs ----------------------------------------------------------------------
    def follow(self, groups_panel, wall) -> None:
        """Work on what the tree and the wall show: the tree's group, its filter, the wall's
        selection, and the tree's "Start recording…" (which asks first)."""
        self.groups_panel, self.wall = groups_panel, wall
        wall.selection_changed.connect(self.set_selection)
        groups_panel.filter_changed.connect(self.set_visible)
        groups_panel.group_picked.connect(self.follow_group)
        groups_panel.start_group.connect(self.ask_start_group)

    def follow_group(self, name: str) -> None:
        """The tree's group ("" when the tree shows all sources, a station or one source)."""
        changed = name != self.group
        self.group = name
        self.group_label.setText(name or NO_GROUP)
        self.group_label.setEnabled(bool(name))
        self._update_buttons()
        if changed:
            self._suggest(name)

    def set_groups(self, names: list[str]) -> None:
        """The groups the user sees now: a followed group that is gone is followed no more."""
        if self.group and self.group not in names:
            self.follow_group("")

    def set_visible(self, source_ids: list[int] | None) -> None:
        self.visible_ids = None if source_ids is None else list(source_ids)
        self.set_selection(self.selected_sources)

    def set_selection(self, source_ids: list[int]) -> None:
        self.selected_sources = list(source_ids)
        shown = self.shown_selection()
        self.start_selected_button.setText(
            f"Start selected ({len(shown)})" if shown else "Start selected")
        hidden = len(self.selected_sources) - len(shown)
        text = f"Selected: {names([self.source_name(i) for i in shown])}" if shown else ""
        if hidden:
            text += f"{'; ' if text else ''}{hidden} selected tile(s) hidden by the filter not counted"
        self.selection_label.setText(text)
        self.selection_label.setVisible(bool(text))
        self._update_buttons()

    def shown_selection(self) -> list[int]:
        """The selected tiles the tree's filter shows: the only ones "Start selected" records."""
        return [i for i in self.selected_sources
                if self.visible_ids is None or i in self.visible_ids]

    def source_name(self, source_id: int) -> str:
        tile = self.wall.tiles.get(source_id) if self.wall is not None else None
        return tile.name if tile is not None else f"source {source_id}"

    def _update_buttons(self) -> None:
        self.start_group_button.setEnabled(bool(self.group))
        self.start_selected_button.setEnabled(bool(self.shown_selection()))

    def _suggest(self, group: str = "") -> None:
        if not self.tag_edit.isModified():
            self.tag_edit.setText(f"{group or 'rec'}-{datetime.now():%Y%m%d-%H%M%S}")

    def tag(self) -> str:
        return self.tag_edit.text().strip()

    # --- start / stop ------------------------------------------------------------------
    def start_group(self) -> None:
        group, tag = self.group, self.tag()
        if not group or not tag:
            self._report("Pick a group in the sources tree and enter a tag name first.", error=True)
            return
        self._start(lambda: self.station.recordings.start(tag, group, origin="gui"))

    def ask_start_group(self, group: str) -> None:
        """"Start recording…" on a group of the tree: its sources and the tag in a dialog;
        only its Start button starts them."""
        panel = self.groups_panel
        ids = next((panel.members.get(gid, []) for gid, name in panel.group_names.items()
                    if name == group), []) if panel is not None else []
        tag = self.tag() if self.tag_edit.isModified() and self.tag() else \
            f"{group}-{datetime.now():%Y%m%d-%H%M%S}"
        dialog = StartRecordingDialog(group, [self.source_name(i) for i in ids], tag, self)
        dialog.finished.connect(lambda result: self._start_answered(dialog, result))
        self.start_dialog = dialog
        dialog.open()

    def _start_answered(self, dialog: StartRecordingDialog, result: int) -> None:
        self.start_dialog = None
        dialog.deleteLater()
        if result != StartRecordingDialog.DialogCode.Accepted:
            return
        group, tag = dialog.group, dialog.tag()
        self._start(lambda: self.station.recordings.start(tag, group, origin="gui"))

    def start_selected(self) -> None:
        ids, tag = self.shown_selection(), self.tag()
        if not ids or not tag:
            self._report("Select tiles and enter a tag name first.", error=True)
            return
        self._start(lambda: self.station.recordings.start_sources(tag, ids, origin="gui"))

    def _start(self, fn) -> None:
        self.start_group_button.setEnabled(False)
        self.start_selected_button.setEnabled(False)

        def after(_records, error) -> None:
            self._update_buttons()
            if error is not None:
                self._report(error_text(error), error=True)
                return
            self.refresh()
        self.tasks.run(fn, after)

    def stop_tag(self, tag: str) -> None:
        def after(records, error) -> None:
            if error is not None:
                self._report(error_text(error), error=True)
                return
            self._report(f"Stopped {len(records)} recording(s) of “{tag}”.")
            if tag == self.tag():
                self.tag_edit.setModified(False)
                self._suggest(self.group)
            self.refresh()
        self.tasks.run(lambda: self.station.recordings.stop(tag, origin="gui"), after)

    def stop_selected(self) -> None:
        item = self.running.currentItem()
        tag = item.text(0) if item is not None else self.tag()
        if not tag:
            self._report("Pick a running tag to stop.", error=True)
            return
        self.ask_stop_tag(tag)

    def ask_stop_tag(self, tag: str) -> None:
        """Stop `tag` once the operator has seen what stops and what keeps recording."""
        self._ask(lambda running: stop_tag_question(tag, running), f"Stop “{tag}”",
                  lambda: self.stop_tag(tag))

    def stop_all(self) -> None:
        """Every running tag stops, but what the sources' recording modes record goes on
        (the service's rule: RecordingService.stop_all_tags); asked first."""
        self._ask(stop_all_question, "Stop all", self._stop_all_now)

    def _stop_all_now(self) -> None:
        def after(records, error) -> None:
            if error is not None:
                self._report(error_text(error), error=True)
                return
            self._report(f"Stopped {len(records)} recording(s).")
            self.refresh()
        self.tasks.run(lambda: self.station.recordings.stop_all_tags(origin="gui"), after)

    def _ask(self, question_of, yes_text: str, go) -> None:
        """Read what records now (off the GUI thread), then ask; only Yes goes ahead."""
        recordings = self.station.recordings

        def answered(box, result: int) -> None:
            if self.confirm_box is box:
                self.confirm_box = None
            if result == box.StandardButton.Yes:
                go()
            else:
                self._report("Nothing stopped.")

        def show(running, error) -> None:
            if error is not None:
                self._report(error_text(error), error=True)
                return
            box = ask(self, question_of(running), yes_text)
            box.finished.connect(lambda result: answered(box, result))
            self.confirm_box = box
        self.tasks.run(lambda: recordings.list(status=RecordStatus.recording), show)

    def toggle(self) -> None:
        """The global shortcut: stop the typed tag when it records (asked first), else start
        the group."""
        tag = self.tag()
        if tag and any(r.name == tag for r in self.summary):
            self.ask_stop_tag(tag)
        else:
            self.start_group()

    # --- the running list ----------------------------------------------------------------
    def refresh(self) -> None:
        if self._reading:
            return
        self._reading = True
        self.tasks.run(self.station.recordings.running_summary, self._fill)

    def _fill(self, summary, error) -> None:
        self._reading = False
        if error is not None:
            return
        self.summary = summary
        current = self.running.currentItem().text(0) if self.running.currentItem() else None
        now = datetime.now(timezone.utc)
        self.running.clear()
        for running in summary:
            item = QTreeWidgetItem([running.name, elapsed_text(running.since, now),
                                    str(running.records), human_size(running.size_bytes)])
            item.setToolTip(0, running.name)
            item.setIcon(0, icon("record"))
            for column in (1, 2, 3):
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.running.addTopLevelItem(item)
            if running.name == current:
                self.running.setCurrentItem(item)
        self.stop_all_button.setEnabled(bool(summary))

    def close_panel(self) -> None:
        self._timer.stop()
