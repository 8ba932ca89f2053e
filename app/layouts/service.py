"""Named layouts in the catalog (#27 item 1): shared by the stations of a site, chosen per
screen by the GUI, read and changed through the API.

The rules live here, not in the front ends:

- a name is 1-64 printable characters, unique; the shape one of `app.layouts.shapes`; as
  many cells as the shape has, each a source that exists or None (left empty on purpose);
- a deleted source leaves its cells empty: cleared when the deletion is published on this
  station's bus, and masked on every read too (another station of the site may have deleted
  it, or the id may come back as a new source's: SQLite reuses the highest id);
- a user with a scope (`visible`: the source ids they see, None for all) sees the cells of
  sources outside it as empty, may not put such a source in a cell (the very refusal an
  unknown id gets), keeps the hidden cells of a layout they change (a cell they see empty
  and send empty keeps what it holds), and may not delete a layout holding hidden cells.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from app.catalog import Catalog
from app.errors import Conflict, InvalidInput, NotFound
from app.events import CatalogChanged, EventBus
from app.layouts.schemas import CellOut, LayoutChange, LayoutIn, LayoutOut, ShapeOut
from app.layouts.shapes import SHAPE_NAMES, cell_count, shape
from app.models import Layout, Source, utcnow
from app.schemas import iso_utc
from app.visibility import in_scope

Visible = frozenset[int] | None


def shapes_out() -> list[ShapeOut]:
    """Every shape with its cells, in picker order (`SHAPE_NAMES`)."""
    out = []
    for name in SHAPE_NAMES:
        found = shape(name)
        out.append(ShapeOut(name=name, rows=found.rows, cols=found.cols,
                            cells=[CellOut(**cell._asdict()) for cell in found.cells]))
    return out


def _checked_shape(name: str) -> str:
    try:
        shape(name)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="shape") from None
    return name


class LayoutService:
    def __init__(self, catalog: Catalog, bus: EventBus):
        self.catalog, self.bus = catalog, bus
        # A source deleted here empties its cells at once (other stations' deletions: on read).
        # For the station's life: the bus is the station's own and goes with it.
        bus.subscribe(self._on_event)

    # --- reads ------------------------------------------------------------------------
    def list(self, visible: Visible = None) -> list[LayoutOut]:
        with self.catalog.session() as s:
            rows = s.exec(select(Layout).order_by(Layout.name, Layout.id)).all()
            existing = self._existing(s)
            return [self._out(row, existing, visible) for row in rows]

    def get(self, layout_id: int, visible: Visible = None) -> LayoutOut:
        with self.catalog.session() as s:
            return self._out(self._row(s, layout_id), self._existing(s), visible)

    # --- changes ----------------------------------------------------------------------
    def create(self, data: LayoutIn, visible: Visible = None) -> LayoutOut:
        name, shape_name = data.name, _checked_shape(data.shape)
        count = cell_count(shape_name)
        cells = list(data.cells) if data.cells is not None else [None] * count
        self._check_count(cells, count)
        with self.catalog.session() as s:
            self._check_name(s, name)
            self._check_sources(s, cells, visible)
            row = Layout(name=name, shape=shape_name, cells=cells)
            s.add(row)
            self._flush(s, name)
            s.refresh(row)
            out = self._out(row, self._existing(s), visible)
        self.bus.publish(CatalogChanged("layout", out.id, "created"))
        return out

    def update(self, layout_id: int, data: LayoutChange, visible: Visible = None) -> LayoutOut:
        with self.catalog.session() as s:
            row = self._row(s, layout_id)
            stored = list(row.cells or [])
            shape_name = _checked_shape(data.shape) if data.shape is not None else row.shape
            count = cell_count(shape_name)
            if data.cells is not None:
                cells = list(data.cells)
                self._check_count(cells, count)
                self._check_sources(s, cells, visible)
                if visible is not None:  # what the user could not see stays where it was
                    cells = [stored[i] if cell is None and i < len(stored)
                             and not in_scope(stored[i], visible) else cell
                             for i, cell in enumerate(cells)]
            else:
                cells = (stored + [None] * count)[:count]
            if data.name is not None and data.name != row.name:
                self._check_name(s, data.name, layout_id)
                row.name = data.name
            row.shape, row.cells, row.updated_utc = shape_name, cells, utcnow()
            s.add(row)
            self._flush(s, row.name)
            out = self._out(row, self._existing(s), visible)
        self.bus.publish(CatalogChanged("layout", layout_id, "updated"))
        return out

    def delete(self, layout_id: int, visible: Visible = None) -> LayoutOut:
        """A user with a scope may not delete a layout that shows sources they cannot see:
        deleting it would take away cameras they do not know of (it says no more than the
        empty cells they read already)."""
        with self.catalog.session() as s:
            row = self._row(s, layout_id)
            existing = self._existing(s)
            if any(cell in existing and not in_scope(cell, visible) for cell in row.cells or []):
                raise Conflict("this layout also shows sources outside your scope: a user who "
                               "sees them all may delete it", field="layout_id")
            out = self._out(row, existing, visible)
            s.delete(row)
        self.bus.publish(CatalogChanged("layout", layout_id, "deleted"))
        return out

    def forget_source(self, source_id: int) -> int:
        """Empty every cell showing `source_id` (deleted); the number of layouts changed."""
        changed = []
        with self.catalog.session() as s:
            for row in s.exec(select(Layout)).all():
                if source_id in (row.cells or []):
                    row.cells = [None if cell == source_id else cell for cell in row.cells]
                    row.updated_utc = utcnow()
                    s.add(row)
                    changed.append(row.id)
        for layout_id in changed:
            self.bus.publish(CatalogChanged("layout", layout_id, "updated"))
        return len(changed)

    # --- helpers ----------------------------------------------------------------------
    def _on_event(self, event: object) -> None:
        if (isinstance(event, CatalogChanged) and event.entity == "source"
                and event.action == "deleted"):
            self.forget_source(event.entity_id)

    @staticmethod
    def _row(s, layout_id: int) -> Layout:
        row = s.get(Layout, layout_id) if -(2**31) <= layout_id < 2**31 else None
        if row is None:
            raise NotFound("layout", layout_id, field="layout_id")
        return row

    @staticmethod
    def _existing(s) -> set[int]:
        return set(s.exec(select(Source.id)).all())

    @staticmethod
    def _out(row: Layout, existing: set[int], visible: Visible) -> LayoutOut:
        cells = [cell if isinstance(cell, int) and cell in existing and in_scope(cell, visible)
                 else None for cell in (row.cells or [])]
        return LayoutOut(id=row.id, name=row.name, shape=row.shape, cells=cells,
                         created_utc=iso_utc(row.created_utc),
                         updated_utc=iso_utc(row.updated_utc))

    @staticmethod
    def _check_count(cells: list, count: int) -> None:
        if len(cells) != count:
            raise InvalidInput(f"the shape has {count} cells: send {count} (a source id or "
                               f"null each), not {len(cells)}", field="cells")

    def _check_sources(self, s, cells: list, visible: Visible) -> None:
        """Each cell a source that exists and the user sees: one outside their scope is
        refused exactly as an unknown id is (it does not exist for them)."""
        existing = self._existing(s)
        for cell in cells:
            if cell is not None and (cell not in existing or not in_scope(cell, visible)):
                raise InvalidInput(f"source {cell} not found", field="cells")

    @staticmethod
    def _check_name(s, name: str, layout_id: int | None = None) -> None:
        clash = s.exec(select(Layout).where(Layout.name == name)).first()
        if clash is not None and clash.id != layout_id:
            raise Conflict(f"a layout named {name!r} already exists", field="name")

    @staticmethod
    def _flush(s, name: str) -> None:
        try:
            s.flush()
        except IntegrityError:  # another station took the name meanwhile
            raise Conflict(f"a layout named {name!r} already exists", field="name") from None
