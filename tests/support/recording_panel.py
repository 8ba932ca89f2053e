"""Driving the Recording panel in GUI tests the way an operator does (#27 item 6): the group is
picked in the sources tree, and a stop is answered in its confirmation box."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from ui.groups_panel import GROUP, ID, KIND


def pick_group(qtbot, window, name: str) -> None:
    """Click the group `name` in the sources tree; the Recording panel follows it."""
    groups, tree = window.groups, window.groups.tree
    qtbot.waitUntil(lambda: name in groups.group_names.values(), timeout=5000)
    group_id = next(gid for gid, gname in groups.group_names.items() if gname == name)
    item = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                if tree.topLevelItem(i).data(0, KIND) == GROUP
                and tree.topLevelItem(i).data(0, ID) == group_id)
    tree.setCurrentItem(item)
    qtbot.waitUntil(lambda: window.tags.group == name, timeout=3000)


def answer_stop(qtbot, panel, yes: bool = True) -> tuple[str, str]:
    """Wait for the panel's stop question, answer it; returns its text and details."""
    qtbot.waitUntil(lambda: panel.confirm_box is not None, timeout=5000)
    box = panel.confirm_box
    said = (box.text(), box.informativeText())
    box.button(QMessageBox.StandardButton.Yes if yes else QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: panel.confirm_box is None, timeout=3000)
    return said
