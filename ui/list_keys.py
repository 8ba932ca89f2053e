"""Keys on a list (a table of bookmarks, of events): Return plays the selected row, Delete
deletes it, and so on.

Why an event filter rather than `QShortcut`: a widget-context shortcut fires only while its
widget has the keyboard focus as the window system sees it, so it depends on the window being
active; the filter acts on the key press the list itself receives, the same event that moves
its selection with the arrow keys. Keys it does not map pass through untouched.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QWidget


class KeyActions(QObject):
    """`keys`: Qt key -> what to do; installed on `widget` (and kept alive by it)."""

    def __init__(self, widget: QWidget, keys: dict[Qt.Key, Callable[[], None]]):
        super().__init__(widget)
        self._keys = dict(keys)
        widget.installEventFilter(self)

    def eventFilter(self, _watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt naming
        if event.type() != QEvent.Type.KeyPress or event.modifiers() & ~(
                Qt.KeyboardModifier.KeypadModifier):
            return False
        action = self._keys.get(Qt.Key(event.key()))
        if action is None:
            return False
        action()
        return True
