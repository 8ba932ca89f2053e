"""The "Group" field of Add source and Find cameras (#27 item 7): the group a new source goes
into, so adding a camera and filing it are one step, not a drag in the tree afterwards.

The groups offered are the ones the signed-in user sees (their scope, #26), read off the GUI
thread; "No group" is first. A user whose role may not add sources to groups sees the field
disabled with the reason. `preselect` names a group picked before (the tree's), chosen once
the list is read.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QWidget

from app.accounts.roles import may
from ui.forms import if_alive
from ui.session import refusal
from ui.tasks import TaskRunner

NO_GROUP = "No group"
ACTION = "add source to group"


class GroupField(QComboBox):
    def __init__(self, station, tasks: TaskRunner, preselect: str | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.station, self.tasks, self.preselect = station, tasks, preselect
        self.loaded = False
        self.addItem(NO_GROUP, None)
        if not may(getattr(station, "role", None), ACTION):
            self.setEnabled(False)
            self.setToolTip(refusal(ACTION))

    def load(self) -> None:
        station = self.station

        def read():
            shown = station.scope.groups(getattr(station, "identity", None))
            return [g for g in station.groups.list() if shown is None or g.id in shown]
        self.tasks.run(read, self._fill)

    @if_alive
    def _fill(self, groups, error) -> None:
        self.loaded = True
        if error is not None:
            return  # the field stays at "No group": adding the source still works
        for group in sorted(groups, key=lambda g: g.name.lower()):
            self.addItem(group.name, group.id)
        if self.preselect:
            self.setCurrentIndex(max(0, self.findText(self.preselect)))

    def group_id(self) -> int | None:
        return self.currentData()

    def group_name(self) -> str | None:
        return self.currentText() if self.currentData() is not None else None
