"""The camera wall: a grid of tiles that re-flows for 1, 4, 9, 16, 25 ... sources, a
selection (click, Ctrl+click), and a focused view (double-click a tile; Esc returns).

What is decoded follows what is seen: tiles in the grid ask their source for keyframes
only (every frame of its preview stream when it has one: `ui.tile`), the focused tile for
every frame of the main stream, and tiles hidden behind the focused one for nothing.
One frame clock for the whole wall (`FRAME_TICK_MS`) hands every shown tile its newest
picture at once, so the tiles with a new picture repaint together: one paint pass and one
flush to the screen per tick, not one per tile per picture.
Tiles are kept across catalog changes (added, renamed, removed one by one), so a change to
one source never restarts the pictures of the others; a tile whose source's streams changed
takes the new slots.

"Update on motion" (`set_update_on_motion`, a per-wall option the window keeps in
`ui.wall_prefs`): the grid's tiles whose source has no motion rest (`CameraTile.set_resting`:
no pictures made, taken or painted, the last one marked "no motion"); the window tells the
wall which sources move (`set_motion`, from the core's `MotionChanged` through the one
event bridge). A focused tile never rests: the operator is looking at it.

Layouts (#27 item 1): with none chosen the wall picks the grid that shows the most picture
for its sources in its size (`app.layouts.auto_grid.best_grid`: two 16:9 cameras side by side
on a wide window, five on 3x2, not a square with black bands and empty cells), planning for
the cameras' own ratio once their pictures tell it (16:9 before), again when either changes. `set_layout(shape, cells)` places the sources in a named layout's cells
(`app.layouts.shapes`), big cells spanning several grid squares, cells left empty on
purpose shown as drop targets (`ui.wall_cells`); a source dropped on a cell (from the tree
or another cell) is announced (`cells_changed`), the window stores the change. Each tile
draws its picture whole and undistorted in its cell (its own ratio, 16:9 before the first).
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from app.layouts.auto_grid import best_grid
from app.layouts.fitting import DEFAULT_RATIO
from app.layouts.shapes import shape as layout_shape
from app.live import Demand, FrameSlot
from app.schemas import SourceOut
from ui.tile import CameraTile, StatsProvider
from ui.wall_cells import EmptyCell

SlotProvider = Callable[[int, bool], "FrameSlot | None"]  # (source id, preview) -> slot
MARGIN, GAP = 4, 4  # around the wall, between its cells (pixels)
CELL_MIN = (64, 36)  # the smallest a cell may be: 6 columns fit a 420-pixel-wide wall
FRAME_TICK_MS = 20  # twice a 25 fps camera's rate: no picture waits more than a tick


class CameraWall(QWidget):
    selection_changed = Signal(list)   # selected source ids
    focus_changed = Signal(int)        # focused source id, 0 when back to the grid
    menu_requested = Signal(int, QPoint)  # a tile's context menu: source id, global position
    cells_changed = Signal(list)       # a layout's cells after a drop (source id or None each)
    escaped = Signal()                 # Esc with no tile maximised: leave full screen

    def __init__(self, slots: SlotProvider, stats: StatsProvider, parent: QWidget | None = None):
        super().__init__(parent)
        self._slots, self._stats = slots, stats
        self.setObjectName("wall")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.tiles: dict[int, CameraTile] = {}
        self.order: list[int] = []
        self.visible_ids: list[int] | None = None  # None: every source
        self.selected: set[int] = set()
        self.focused: int | None = None
        self.update_on_motion = False
        self.moving: set[int] = set()  # sources with motion now (update on motion)
        self._streams: dict[int, tuple] = {}  # source id -> what its slots depend on
        self.layout_shape: str | None = None  # a named layout's shape; None: automatic grid
        self.cells: list[int | None] = []      # the layout's cells: a source id or None each
        self.grid_size: tuple[int, int] = (1, 1)  # the automatic grid's (columns, rows)
        self._empty_cells: list[EmptyCell] = []
        # Only the "no sources" text is laid out by Qt; the cells are placed by their grid
        # (`_place`): equal cells whatever their contents' size hints, spans exact.
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(MARGIN, MARGIN, MARGIN, MARGIN)
        self._placed: list[tuple[QWidget, tuple[int, int, int, int]]] = []
        self._rows_cols = (1, 1)
        self._empty = QLabel("No sources yet — add one from the Sources menu.", self)
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setObjectName("wallEmpty")
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, activated=self._escape,
                  context=Qt.ShortcutContext.WindowShortcut)
        self._shown_tiles: list[CameraTile] = []
        self._clock = QTimer(self, interval=FRAME_TICK_MS)
        self._clock.timeout.connect(self._pull_frames)
        self._clock.start()
        self._grid_clock = QTimer(self, interval=1000)
        self._grid_clock.timeout.connect(self.check_grid)
        self._grid_clock.start()
        self._reflow()

    def _pull_frames(self) -> None:
        for tile in self._shown_tiles:
            tile.pull_frame()

    # --- sources -------------------------------------------------------------------
    def set_sources(self, sources: list[SourceOut]) -> None:
        """Add new tiles, rename changed ones, drop deleted ones; keep the rest running."""
        wanted = {s.id: s for s in sources}
        for source_id in [i for i in self.tiles if i not in wanted]:
            tile = self.tiles.pop(source_id)
            self._streams.pop(source_id, None)
            tile.close_tile()
            tile.deleteLater()
            self.selected.discard(source_id)
            if self.focused == source_id:
                self.focused = None
        for source in sources:
            tile = self.tiles.get(source.id)
            streams = (source.uri_rtsp, source.uri_preview, source.uri_http_picture,
                       source.enabled, source.station)
            if tile is None:
                tile = CameraTile(source.id, source.name, self._slots(source.id, False),
                                  preview=self._slots(source.id, True),
                                  demand=Demand.KEYFRAMES, stats=self._stats, parent=self)
                tile.setMinimumSize(*CELL_MIN)  # a 6x6 layout's cells on a laptop's wall
                tile.clicked.connect(self._on_tile_clicked)
                tile.double_clicked.connect(self.toggle_focus)
                tile.menu_requested.connect(self.menu_requested)
                tile.source_dropped.connect(self.drop_source)
                self.tiles[source.id] = tile
            else:
                if tile.name != source.name:
                    tile.set_name(source.name)
                if self._streams.get(source.id) != streams:
                    tile.set_slots(self._slots(source.id, False), self._slots(source.id, True))
            self._streams[source.id] = streams
        self.order = [s.id for s in sources]
        self._reflow()
        self.selection_changed.emit(sorted(self.selected))

    def show_only(self, source_ids: list[int] | None) -> None:
        """Limit the wall to these sources (a group picked in the side panel)."""
        self.visible_ids = None if source_ids is None else list(source_ids)
        self.focused = None
        self._reflow()

    # --- layouts ---------------------------------------------------------------------
    def set_layout(self, shape_name: str | None, cells: list[int | None] | None = None) -> None:
        """Show a named layout's cells (`shape_name` one of `app.layouts.shapes`), or the
        automatic grid again (None). Cells beyond the shape's are dropped, missing ones empty."""
        if shape_name is None:
            self.layout_shape, self.cells = None, []
        else:
            count = len(layout_shape(shape_name).cells)
            given = list(cells or [])[:count]
            self.layout_shape, self.cells = shape_name, given + [None] * (count - len(given))
        self.focused = None
        self._reflow()

    def drop_source(self, cell: int, source_id: int, from_cell: int | None) -> None:
        """A source dropped on a layout's cell: it shows there; from another cell, the two
        cells swap; from the tree, a cell already showing it elsewhere is emptied (a source
        has one tile)."""
        if self.layout_shape is None or not 0 <= cell < len(self.cells):
            return
        cells = list(self.cells)
        if from_cell is not None and 0 <= from_cell < len(cells) and cells[from_cell] == source_id:
            cells[from_cell], cells[cell] = cells[cell], source_id
        else:
            cells = [None if c == source_id else c for c in cells]
            cells[cell] = source_id
        if cells != self.cells:
            self.cells = cells
            self._reflow()
            self.cells_changed.emit(list(cells))

    # --- update on motion ------------------------------------------------------------
    def set_update_on_motion(self, on: bool) -> None:
        self.update_on_motion = on
        self._rest_tiles()

    def set_motion(self, source_id: int, active: bool) -> None:
        """The source has motion now (or no longer): its tile wakes (or rests)."""
        if active:
            self.moving.add(source_id)
        else:
            self.moving.discard(source_id)
        self._rest_tiles()

    def _rest_tiles(self) -> None:
        for source_id, tile in self.tiles.items():
            tile.set_resting(self.update_on_motion and source_id != self.focused
                             and source_id not in self.moving)

    # --- selection and focus -----------------------------------------------------------
    def _on_tile_clicked(self, source_id: int, add: bool) -> None:
        if add:
            self.selected ^= {source_id}
        else:
            self.selected = set() if self.selected == {source_id} else {source_id}
        for sid, tile in self.tiles.items():
            tile.set_selected(sid in self.selected)
        self.selection_changed.emit(sorted(self.selected))

    def toggle_focus(self, source_id: int) -> None:
        if self.focused == source_id:
            self.unfocus()
        else:
            self.focused = source_id
            self._reflow()
            self.focus_changed.emit(source_id)

    def _escape(self) -> None:
        """Esc: a maximised tile back into its cell first, then out of full screen."""
        if self.focused is not None:
            self.unfocus()
        else:
            self.escaped.emit()

    def unfocus(self) -> None:
        if self.focused is not None:
            self.focused = None
            self._reflow()
            self.focus_changed.emit(0)

    def shown_ids(self) -> list[int]:
        if self.layout_shape is not None:
            seen: set[int] = set()
            ids = [i for i in self.cells if i in self.tiles and not (i in seen or seen.add(i))]
        else:
            ids = [i for i in self.order if self.visible_ids is None or i in self.visible_ids]
        return [self.focused] if self.focused in ids else ids

    # --- placing the tiles ------------------------------------------------------------
    def _area(self) -> tuple[int, int]:
        return max(1, self.width() - 2 * MARGIN), max(1, self.height() - 2 * MARGIN)

    def _place(self) -> None:
        """Each cell's widget on its grid squares: the area cut into equal slices (the
        remainder spread a pixel at a time, as `app.layouts.shapes.cell_rects` does), a
        `GAP` between neighbours."""
        (rows, cols), half = self._rows_cols, GAP // 2
        edge = MARGIN - half  # each cell gives up half a gap on every side
        width, height = max(1, self.width() - 2 * edge), max(1, self.height() - 2 * edge)
        xs = [edge + width * i // cols for i in range(cols + 1)]
        ys = [edge + height * i // rows for i in range(rows + 1)]
        for widget, (row, col, row_span, col_span) in self._placed:
            widget.setGeometry(QRect(xs[col], ys[row], xs[col + col_span] - xs[col],
                                     ys[row + row_span] - ys[row]).adjusted(half, half, -half, -half))

    def picture_ratio(self) -> float:
        """The ratio the automatic grid plans for: the shown cameras' own (the median of
        those whose pictures arrived), 16:9 before any."""
        ratios = sorted(w / h for w, h in (t.stream_size for t in self._shown_tiles
                                           if t.stream_size) if w > 0 and h > 0)
        return ratios[len(ratios) // 2] if ratios else DEFAULT_RATIO

    def _auto_grid(self, count: int) -> tuple[int, int]:
        return best_grid(count, *self._area(), self.picture_ratio())

    def check_grid(self) -> None:
        """The automatic grid again if the wall's size or its cameras' ratio now call for
        another (resized; the first pictures told a 4:3 camera): checked once a second."""
        if self.layout_shape is None and self.focused is None:
            if self._auto_grid(len(self.shown_ids())) != self.grid_size:
                self._reflow()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().resizeEvent(event)
        self._place()
        self.check_grid()

    def _placements(self, shown: list[int]) -> tuple[list[tuple[QWidget, tuple]], int, int]:
        """(widget, (row, col, row span, col span)) for each cell, and the grid's rows and
        columns: a layout's cells (empty ones as drop targets), or the automatic grid."""
        for cell in self._empty_cells:
            cell.deleteLater()
        self._empty_cells = []
        for tile in self.tiles.values():
            tile.cell = None
        if self.layout_shape is None or self.focused is not None:
            cols, rows = (1, 1) if self.focused is not None else self._auto_grid(len(shown))
            if self.focused is None:
                self.grid_size = (cols, rows)
            return ([(self.tiles[i], (n // cols, n % cols, 1, 1)) for n, i in enumerate(shown)],
                    rows, cols)
        found, placed = layout_shape(self.layout_shape), []
        for index, (source_id, cell) in enumerate(zip(self.cells, found.cells)):
            tile = self.tiles.get(source_id) if source_id is not None else None
            if tile is not None and tile.cell is None:
                tile.cell = index
                widget: QWidget = tile
            else:
                widget = EmptyCell(index, self)
                widget.source_dropped.connect(self.drop_source)
                self._empty_cells.append(widget)
            placed.append((widget, (cell.row, cell.col, cell.row_span, cell.col_span)))
        return placed, found.rows, found.cols

    def _reflow(self) -> None:
        shown = self.shown_ids()
        if self.focused is not None and self.focused not in shown:
            self.focused = None
            shown = self.shown_ids()
        self._shown_tiles = [self.tiles[source_id] for source_id in shown]
        placed, rows, columns = self._placements(shown)
        self._placed, self._rows_cols = placed, (rows, columns)
        self._place()
        for widget, _where in placed:
            widget.show()
        self._rest_tiles()
        for source_id, tile in self.tiles.items():
            if source_id not in shown:
                tile.hide()
                tile.set_demand(Demand.NONE)
            else:
                tile.show()
                tile.set_demand(Demand.ALL if source_id == self.focused else Demand.KEYFRAMES)
        nothing = not placed
        self._empty.setVisible(nothing)
        if nothing and self._grid.indexOf(self._empty) < 0:
            self._grid.addWidget(self._empty, 0, 0)

    def close_wall(self) -> None:
        self._clock.stop()
        self._grid_clock.stop()
        for tile in self.tiles.values():
            tile.close_tile()
