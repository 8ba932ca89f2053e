"""The side panel: every source, and the groups with their members.

On a site of several stations (one shared catalog), "All sources" holds a row per station:
its name, online or offline (a dot, the reason in its tooltip) and its free disk space, with
its own sources below it; groups stay as they are (they may mix stations). A single station
looks as it always did. The station rows are read again every `SITE_REFRESH_MS`, so a station
that goes away or comes back shows it without any catalog change.

Drag a source (from "All sources" or from another group) onto a group to add it, or onto a
cell of the wall's layout to show it there (`ui.wall_cells`); context
menus rename, delete, remove from a group, start a group. Picking an entry limits the wall
to it. Every change goes through the group service on a worker thread; the panel redraws
when the core says the catalog changed, so an API client's change shows up here too.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QMimeData, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QInputDialog,
    QMenu,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.identity import Identity
from app.visibility import in_scope
from app.schemas import GroupIn, SourceOut
from app.site.stations import StationOut
from app.station import Station
from ui.errors import error_text
from ui.icons import icon
from ui.site_rows import station_icon, station_label, station_tip
from ui.mode_marks import mode_mark, mode_tip
from ui.session import gate_menu
from ui.tasks import Report, TaskRunner
from ui.wall_cells import MIME as CELL_MIME, source_mime

KIND, ID = Qt.ItemDataRole.UserRole, Qt.ItemDataRole.UserRole + 1
ALL, GROUP, SOURCE, STATION = "all", "group", "source", "station"
# The context menus' entries that change the catalog, by the audit action they do.
MENU_ACTIONS = {"Start recording…": "start recording", "Rename…": "rename group",
                "Delete group…": "delete group", "Remove from group": "remove source from group",
                "Edit source…": "update source", "Motion…": "change motion settings",
                "Delete source…": "delete source", "New group…": "create group"}
SITE_REFRESH_MS = 3000  # a station's heartbeat period: online state and disk space


class GroupTree(QTreeWidget):
    """A tree that accepts source items dropped onto group items."""

    source_dropped = Signal(int, int)  # source id, group id

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def group_at(self, pos: QPoint) -> int | None:
        item = self.itemAt(pos)
        while item is not None and item.data(0, KIND) != GROUP:
            item = item.parent()
        return item.data(0, ID) if item is not None else None

    def mimeData(self, items) -> QMimeData:  # noqa: N802 - Qt naming
        """A source dragged out of the tree also says which source, for the wall's cells
        (`ui.wall_cells`): a layout's cell takes it (#27)."""
        data = super().mimeData(items)
        sources = [i for i in items if i.data(0, KIND) == SOURCE]
        if len(sources) == 1 and data is not None:
            data.setData(CELL_MIME, source_mime(sources[0].data(0, ID)).data(CELL_MIME))
        return data

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt naming
        # The tree never rearranges itself: a drop only asks the core to add a member.
        group_id = self.group_at(event.position().toPoint())
        dragged = [i for i in self.selectedItems() if i.data(0, KIND) == SOURCE]
        event.ignore()
        if group_id is not None:
            for item in dragged:
                self.source_dropped.emit(item.data(0, ID), group_id)


class GroupsPanel(QWidget):
    filter_changed = Signal(object)     # list of source ids, or None for every source
    group_picked = Signal(str)          # the group picked, "" for anything else (ui.tags_panel)
    start_group = Signal(str)           # group name
    play_group = Signal(list)           # its source ids: synchronised playback (ui.playback)
    edit_source = Signal(int)
    delete_source = Signal(int)
    motion_source = Signal(int)         # "Motion…": its zones and the motion tuner
    site_read = Signal()  # the station rows were read again, on a site of several

    def __init__(self, station: Station, tasks: TaskRunner, report: Report,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.station, self.tasks, self._report = station, tasks, report
        self.tree = GroupTree(self)
        self.tree.source_dropped.connect(self.add_to_group)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.currentItemChanged.connect(self._on_current)
        self.new_group_button = QPushButton(icon("add"), "New group", self)
        self.new_group_button.clicked.connect(self.ask_new_group)
        # The signed-in user (#26): their scope filters the tree, their role the menus.
        self.identity: Identity | None = getattr(station, "identity", None)  # from the first read
        self.allowed: Callable[[str], bool] = lambda _action: True
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_group_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tree)
        layout.addLayout(buttons)
        self.members: dict[int, list[int]] = {}
        self.group_names: dict[int, str] = {}
        self.stations: dict[str, StationOut] = {}  # by id, when the site has more than one
        self.station_members: dict[str, list[int]] = {}
        self._site_timer = QTimer(self, interval=SITE_REFRESH_MS)
        self._site_timer.timeout.connect(self.refresh_stations)
        self._site_timer.start()

    # --- contents --------------------------------------------------------------------
    def reload(self) -> None:
        self.tasks.run(self._read_catalog, self._fill)

    def _read_catalog(self):
        """The sources and groups the user sees: a scoped user only their groups and the
        sources in them (a source outside scope does not exist for them)."""
        visible = self.station.scope.sources(self.identity)
        shown_groups = self.station.scope.groups(self.identity)
        sources = [s for s in self.station.sources.list() if in_scope(s.id, visible)]
        groups = [self.station.groups.get(g.id) for g in self.station.groups.list()
                  if shown_groups is None or g.id in shown_groups]
        for group in groups:
            group.sources = [s for s in group.sources if in_scope(s.id, visible)]
        return sources, groups, self.station.site.list()

    def _fill(self, result, error) -> None:
        if error is not None:
            self._report(f"Could not read the groups: {error}", error=True)
            return
        sources, groups, stations = result
        current = self.tree.currentItem()
        keep = (current.data(0, KIND), current.data(0, ID)) if current is not None else None
        expanded = {self.tree.topLevelItem(i).data(0, ID)
                    for i in range(self.tree.topLevelItemCount())
                    if self.tree.topLevelItem(i).isExpanded()}
        self.tree.blockSignals(True)
        self.tree.clear()
        everything = self._item(None, ALL, 0, f"All sources ({len(sources)})", "camera")
        self._fill_sources(everything, sources, stations)
        everything.setExpanded(True)
        self.members, self.group_names = {}, {}
        for group in groups:
            node = self._item(None, GROUP, group.id, f"{group.name} ({len(group.sources)})", "group")
            node.setFlags(node.flags() | Qt.ItemFlag.ItemIsDropEnabled)
            self.members[group.id] = [s.id for s in group.sources]
            self.group_names[group.id] = group.name
            for source in group.sources:
                self._source_item(node, source)
            node.setExpanded(group.id in expanded or not expanded)
        self.tree.blockSignals(False)
        if keep is not None:
            for item in self._items():
                if (item.data(0, KIND), item.data(0, ID)) == keep:
                    self.tree.setCurrentItem(item)
                    break

    def _fill_sources(self, everything: QTreeWidgetItem, sources, stations: list[StationOut]) -> None:
        """Every source under "All sources": flat for a station alone, else under its station."""
        self.stations = {s.id: s for s in stations} if len(stations) > 1 else {}
        self.station_members = {sid: [] for sid in self.stations}
        rows = {sid: self._item(everything, STATION, sid, "", "camera") for sid in self.stations}
        for station in self.stations.values():
            self._show_station(rows[station.id], station)
            rows[station.id].setExpanded(True)
        here = self.station.station_id
        for source in sources:
            owner = source.station or here
            item = self._source_item(rows.get(owner, everything), source)
            if owner in self.station_members:
                self.station_members[owner].append(source.id)
                item.setToolTip(0, " — ".join(filter(None, (
                    item.toolTip(0) or source.name, f"on {self.stations[owner].name}"))))

    def _source_item(self, parent: QTreeWidgetItem, source: SourceOut) -> QTreeWidgetItem:
        """A source's row; one whose credentials this station cannot open says so."""
        if not source.credentials_unreadable:  # one that records by itself says so
            item = self._item(parent, SOURCE, source.id,
                              "  ".join(filter(None, (source.name, mode_mark(source)))), "camera")
            if mode_tip(source):
                item.setToolTip(0, f"{source.name}: {mode_tip(source)}")
            return item
        item = self._item(parent, SOURCE, source.id, f"{source.name} · {source.error}", "camera")
        item.setToolTip(0, f"{source.name}: {source.error} (its credentials were encrypted "
                           "with another credentials key): edit it and enter its address again")
        return item

    @staticmethod
    def _show_station(item: QTreeWidgetItem, station: StationOut) -> None:
        item.setText(0, station_label(station))
        item.setToolTip(0, station_tip(station))
        item.setIcon(0, station_icon(station.online))

    def refresh_stations(self) -> None:
        """Online state and disk space of the station rows, read again (every few seconds):
        a station that appears or leaves the site rebuilds the tree."""
        self.tasks.run(self.station.site.list, self._on_stations)

    def _on_stations(self, stations: list[StationOut] | None, error) -> None:
        if error is not None or stations is None:
            return  # the catalog is away: the rows keep their last word, the beat says why
        if {s.id for s in stations} != (set(self.stations) or {self.station.station_id}):
            self.reload()
            return
        fresh = {s.id: s for s in stations}
        if len(fresh) > 1:
            self.site_read.emit()
        for item in self._items():
            if item.data(0, KIND) == STATION and item.data(0, ID) in fresh:
                self.stations[item.data(0, ID)] = fresh[item.data(0, ID)]
                self._show_station(item, fresh[item.data(0, ID)])

    def _item(self, parent, kind: str, item_id: int | str, text: str,
              icon_name: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem([text])
        item.setData(0, KIND, kind)
        item.setData(0, ID, item_id)
        item.setIcon(0, icon(icon_name))
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if kind == SOURCE:
            flags |= Qt.ItemFlag.ItemIsDragEnabled
        item.setFlags(flags)
        if parent is None:
            self.tree.addTopLevelItem(item)
        else:
            parent.addChild(item)
        return item

    def _items(self):
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            item = stack.pop()
            yield item
            stack.extend(item.child(i) for i in range(item.childCount()))

    def _on_current(self, item: QTreeWidgetItem | None, _previous) -> None:
        picked = item is not None and item.data(0, KIND) == GROUP
        self.group_picked.emit(self.group_names.get(item.data(0, ID), "") if picked else "")
        if item is None or item.data(0, KIND) == ALL:
            self.filter_changed.emit(None)
        elif item.data(0, KIND) == GROUP:
            self.filter_changed.emit(self.members.get(item.data(0, ID), []))
        elif item.data(0, KIND) == STATION:
            self.filter_changed.emit(self.station_members.get(item.data(0, ID), []))
        else:
            self.filter_changed.emit([item.data(0, ID)])

    # --- actions ---------------------------------------------------------------------
    def _call(self, fn) -> None:
        """Run a catalog change off the GUI thread; only a failure is worth a word (the
        tree itself shows a change once the catalog event reloads it)."""
        def after(_result, error) -> None:
            if error is not None:
                self._report(error_text(error), error=True)
        self.tasks.run(fn, after)

    def add_to_group(self, source_id: int, group_id: int) -> None:
        self._call(lambda: self.station.groups.add_source(group_id, source_id))

    def remove_from_group(self, source_id: int, group_id: int) -> None:
        self._call(lambda: self.station.groups.remove_source(group_id, source_id))

    def ask_new_group(self) -> None:
        name, ok = QInputDialog.getText(self, "New group", "Group name:")
        if ok and name.strip():
            self._call(lambda: self.station.groups.create(GroupIn(name=name.strip())))

    def ask_rename(self, group_id: int) -> None:
        old = self.group_names.get(group_id, "")
        name, ok = QInputDialog.getText(self, "Rename group", "New name:", text=old)
        if ok and name.strip() and name.strip() != old:
            self._call(lambda: self.station.groups.rename(group_id, name.strip()))

    def ask_delete(self, group_id: int) -> None:
        name = self.group_names.get(group_id, "")
        answer = QMessageBox.question(self, "Delete group",
                                      f"Delete the group “{name}”? Its sources and recordings stay.")
        if answer == QMessageBox.StandardButton.Yes:
            self._call(lambda: self.station.groups.delete(group_id))

    def _context_menu(self, pos: QPoint) -> None:
        item = self.tree.itemAt(pos)
        if item is None:
            return
        menu = QMenu(self)
        kind, item_id = item.data(0, KIND), item.data(0, ID)
        if kind == GROUP:
            name = self.group_names.get(item_id, "")
            menu.addAction(icon("record"), "Start recording…", lambda: self.start_group.emit(name))
            menu.addAction(icon("play"), "Play recordings together…",
                           lambda: self.play_group.emit(list(self.members.get(item_id, []))))
            menu.addAction("Rename…", lambda: self.ask_rename(item_id))
            menu.addAction("Delete group…", lambda: self.ask_delete(item_id))
        elif kind == SOURCE:
            parent = item.parent()
            if parent is not None and parent.data(0, KIND) == GROUP:
                group_id = parent.data(0, ID)
                menu.addAction("Remove from group",
                               lambda: self.remove_from_group(item_id, group_id))
            menu.addAction("Edit source…", lambda: self.edit_source.emit(item_id))
            menu.addAction("Motion…", lambda: self.motion_source.emit(item_id))
            menu.addAction("Delete source…", lambda: self.delete_source.emit(item_id))
            if self.group_names:
                add_menu = menu.addMenu("Add to group")
                for gid, gname in sorted(self.group_names.items(), key=lambda kv: kv[1]):
                    action = add_menu.addAction(gname, lambda g=gid: self.add_to_group(item_id, g))
                    action.setEnabled(item_id not in self.members.get(gid, []))
        else:
            menu.addAction("New group…", self.ask_new_group)
        gate_menu(menu, MENU_ACTIONS, self.allowed)
        menu.popup(self.tree.viewport().mapToGlobal(pos))
        self.last_menu = menu  # tests look at it
