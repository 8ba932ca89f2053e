"""The week grid of the source dialog: 7 days × 48 half-hours, painted off / continuous /
motion with a small palette, read and written as the source's `record_schedule` (the cells
and the slots are converted in ui.sources.schedule_cells; the service checks the result).

Click a cell to paint it with the chosen mode; drag to paint the rectangle between the cell
pressed and the cell under the pointer (Monday to Friday, 08:00 to 18:00, in one stroke). The
rectangle is previewed over what was there when the button went down, so dragging back
restores the cells it leaves.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.record_modes import DAYS, SlotMode
from ui.forms import hint_label
from ui.sources.schedule_cells import (
    OFF,
    PER_DAY,
    Cells,
    cells_from_schedule,
    empty_cells,
    schedule_from_cells,
)

COLOURS = {SlotMode.continuous.value: "#d64545", SlotMode.motion.value: "#d69e2e"}
LABELS = {OFF: "Off", SlotMode.continuous.value: "Continuous", SlotMode.motion.value: "Motion"}
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
LEFT, TOP, ROW_H, MIN_CELL_W = 34, 16, 18, 7


class ScheduleGrid(QWidget):
    """The painted cells; `changed` after every stroke."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.cells: Cells = empty_cells()
        self.brush = SlotMode.continuous.value
        self._before: Cells | None = None  # the cells when the button went down
        self._anchor: tuple[int, int] | None = None
        self.setMouseTracking(False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumSize(self.minimumSizeHint())
        self.setAccessibleName("Week schedule")

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(LEFT + PER_DAY * MIN_CELL_W + 1, TOP + 7 * ROW_H + 1)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(LEFT + PER_DAY * 11 + 1, TOP + 7 * ROW_H + 1)

    # --- geometry --------------------------------------------------------------------------
    @property
    def cell_w(self) -> float:
        return (self.width() - LEFT - 1) / PER_DAY

    def cell_rect(self, day: int, cell: int) -> QRect:
        """Where a cell is drawn (tests click its centre)."""
        x0 = LEFT + round(cell * self.cell_w)
        x1 = LEFT + round((cell + 1) * self.cell_w)
        return QRect(x0, TOP + day * ROW_H, x1 - x0, ROW_H)

    def cell_at(self, point: QPoint) -> tuple[int, int]:
        """The cell under `point`, clamped to the grid (a drag may leave it)."""
        day = min(6, max(0, (point.y() - TOP) // ROW_H))
        cell = min(PER_DAY - 1, max(0, int((point.x() - LEFT) // self.cell_w)))
        return day, cell

    # --- painting cells --------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if event.button() != Qt.MouseButton.LeftButton:
            return
        self._before = [row[:] for row in self.cells]
        self._anchor = self.cell_at(event.position().toPoint())
        self._paint_to(self._anchor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._anchor is not None:
            self._paint_to(self.cell_at(event.position().toPoint()))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._anchor is not None and event.button() == Qt.MouseButton.LeftButton:
            self._paint_to(self.cell_at(event.position().toPoint()))
            self._anchor = self._before = None
            self.changed.emit()

    def _paint_to(self, corner: tuple[int, int]) -> None:
        (d0, c0), (d1, c1) = self._anchor, corner
        self.cells = [row[:] for row in self._before]
        for day in range(min(d0, d1), max(d0, d1) + 1):
            for cell in range(min(c0, c1), max(c0, c1) + 1):
                self.cells[day][cell] = self.brush
        self.update()

    def set_cells(self, cells: Cells) -> None:
        self.cells = [row[:] for row in cells]
        self.update()

    # --- drawing ---------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        grid = palette.color(QPalette.ColorRole.Mid)
        base = palette.color(QPalette.ColorRole.Base)
        if not self.isEnabled():
            text = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
        font = painter.font()
        font.setPointSizeF(max(6.5, font.pointSizeF() - 2))
        painter.setFont(font)
        painter.setPen(text)
        for hour in range(0, 24, 3):
            x = self.cell_rect(0, hour * 2).left()
            painter.drawText(QRect(x - 1, 0, 40, TOP - 2), Qt.AlignmentFlag.AlignLeft
                             | Qt.AlignmentFlag.AlignBottom, f"{hour:02d}")
        for day, name in enumerate(DAY_NAMES):
            painter.setPen(text)
            painter.drawText(QRect(0, TOP + day * ROW_H, LEFT - 6, ROW_H),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)
            for cell in range(PER_DAY):
                mode = self.cells[day][cell]
                rect = self.cell_rect(day, cell)
                painter.fillRect(rect, QColor(COLOURS[mode]) if mode in COLOURS else base)
        painter.setPen(grid)
        right = self.cell_rect(0, PER_DAY - 1).right() + 1
        for day in range(8):
            y = TOP + day * ROW_H
            painter.drawLine(LEFT, y, right, y)
        half = palette.color(QPalette.ColorRole.Midlight)
        for cell in range(PER_DAY + 1):  # half-hours faint, hours plain, every six strong
            x = LEFT + round(cell * self.cell_w)
            painter.setPen(text if cell % 12 == 0 else grid if cell % 2 == 0 else half)
            painter.drawLine(x, TOP, x, TOP + 7 * ROW_H)
        painter.end()


class ScheduleEditor(QWidget):
    """The palette (off / continuous / motion, a Clear button) over the grid, and a note when
    the stored schedule had times the grid cannot show exactly."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.grid = ScheduleGrid()
        self.touched = False  # painted since loaded: only then is the schedule rewritten
        self.loaded: list[dict] = []
        self.brushes = QButtonGroup(self)
        palette_row = QHBoxLayout()
        palette_row.setContentsMargins(0, 0, 0, 0)
        palette_row.setSpacing(4)
        self.brush_buttons: dict[str, QPushButton] = {}
        for mode in (SlotMode.continuous.value, SlotMode.motion.value, OFF):
            button = QPushButton(f"■ {LABELS[mode]}" if mode in COLOURS else f"□ {LABELS[mode]}")
            button.setCheckable(True)
            button.setAutoDefault(False)
            if mode in COLOURS:
                button.setStyleSheet(f"QPushButton {{ color: {COLOURS[mode]}; }}")
            button.setToolTip(f"Paint cells {LABELS[mode].lower()}: click, or drag a rectangle")
            button.clicked.connect(lambda _=False, m=mode: self.set_brush(m))
            self.brushes.addButton(button)
            self.brush_buttons[mode] = button
            palette_row.addWidget(button)
        palette_row.addStretch(1)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setAutoDefault(False)
        self.clear_button.setToolTip("Every cell off")
        self.clear_button.clicked.connect(self.clear)
        palette_row.addWidget(self.clear_button)
        self.note = hint_label("")
        self.note.hide()
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        column.addLayout(palette_row)
        column.addWidget(self.grid)
        column.addWidget(self.note)
        self.grid.changed.connect(self._on_changed)
        self.set_brush(SlotMode.continuous.value)

    def set_brush(self, mode: str) -> None:
        self.grid.brush = mode
        self.brush_buttons[mode].setChecked(True)

    def clear(self) -> None:
        self.grid.set_cells(empty_cells())
        self._on_changed()

    def _on_changed(self) -> None:
        self.touched = True
        self.note.hide()

    def load(self, slots: list[dict] | None) -> None:
        """Show a stored schedule; one with times off the half-hour says so (it is kept as
        it is unless painted)."""
        self.loaded = list(slots or [])
        cells, exact = cells_from_schedule(self.loaded)
        self.grid.set_cells(cells)
        self.touched = False
        self.note.setText("" if exact else "Some times are not on the half-hour: shown "
                          "widened, and kept as they are unless you paint the grid.")
        self.note.setVisible(not exact)

    def schedule(self) -> list[dict]:
        """The schedule to save: the painted grid's slots, or the stored ones if untouched."""
        return schedule_from_cells(self.grid.cells) if self.touched else self.loaded
