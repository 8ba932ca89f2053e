"""Dragging sources onto a wall's cells (#27 item 1): from the source tree into a cell, or
from one cell to another (the two swap). One MIME type carries a source id (and the cell it
left, when it came from the wall), so the tree, the tiles and the empty cells agree on what a
drop is without knowing each other.

An empty cell is a cell of a layout left empty on purpose (or holding a source the user may
not see, or one deleted since): a dark rectangle a source can be dropped on.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData, QPoint, Qt, Signal
from PySide6.QtGui import QColor, QDrag, QPainter
from PySide6.QtWidgets import QApplication, QSizePolicy, QWidget

MIME = "application/x-recording-station-source"
EMPTY_BACKGROUND = QColor("#0b0d10")


def source_mime(source_id: int, from_cell: int | None = None) -> QMimeData:
    data = QMimeData()
    data.setData(MIME, json.dumps({"source": source_id, "cell": from_cell}).encode())
    return data


def dropped(mime: QMimeData) -> tuple[int, int | None] | None:
    """(source id, cell it left or None) from a drop; None for anything else (hostile or
    foreign data: another program may drop anything here)."""
    if not mime.hasFormat(MIME):
        return None
    try:
        value = json.loads(bytes(mime.data(MIME)).decode())
        source, cell = value["source"], value.get("cell")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if type(source) is not int or not (cell is None or type(cell) is int):
        return None
    return source, cell


class DragStart:
    """A press followed by a move beyond the platform's drag distance starts a drag of the
    source: mixed into widgets that already handle the press themselves (a tile's click)."""

    def __init__(self) -> None:
        self.pressed_at: QPoint | None = None

    def press(self, pos: QPoint) -> None:
        self.pressed_at = pos

    def moved(self, widget: QWidget, pos: QPoint, source_id: int, cell: int | None) -> bool:
        if self.pressed_at is None or cell is None:
            return False
        if (pos - self.pressed_at).manhattanLength() < QApplication.startDragDistance():
            return False
        self.pressed_at = None
        drag = QDrag(widget)
        drag.setMimeData(source_mime(source_id, cell))
        drag.exec(Qt.DropAction.MoveAction | Qt.DropAction.CopyAction)
        return True


class EmptyCell(QWidget):
    """A layout's cell with nothing in it: takes a dropped source."""

    source_dropped = Signal(int, int, object)  # this cell, source id, the cell it left or None

    def __init__(self, cell: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.cell = cell
        self.setAcceptDrops(True)
        self.setMinimumSize(64, 36)  # as a tile's on the wall (ui.wall.CELL_MIN)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("An empty cell: drag a source here from the tree or another cell")

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt naming
        painter = QPainter(self)
        painter.fillRect(self.rect(), EMPTY_BACKGROUND)
        painter.setPen(QColor("#3a4048"))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if dropped(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt naming
        found = dropped(event.mimeData())
        if found is not None:
            event.acceptProposedAction()
            self.source_dropped.emit(self.cell, found[0], found[1])
