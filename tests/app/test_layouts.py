"""Layouts (#27 item 1): the shapes' geometry and the picture fitting as pure functions, and
the layout service on SQLite and PostgreSQL (tests/app/conftest.py) on a real station: names,
shapes and cells checked, a deleted source's cells emptied, a scope's hidden cells masked and
kept."""

from __future__ import annotations

import pytest

from app.errors import Conflict, InvalidInput, NotFound
from app.layouts.fitting import DEFAULT_RATIO, fit, picture_ratio
from app.layouts.schemas import LayoutChange, LayoutIn
from app.layouts.service import shapes_out
from app.models import Layout
from app.layouts.shapes import SHAPE_NAMES, Rect, cell_count, cell_rects, is_shape, shape
from app.schemas import SourceIn
from tests.conftest import TESTSRC


def _covered(name: str) -> list[tuple[int, int]]:
    found = shape(name)
    return sorted((c.row + r, c.col + k) for c in found.cells
                  for r in range(c.row_span) for k in range(c.col_span))


@pytest.mark.parametrize("name", SHAPE_NAMES)
def test_every_shape_covers_its_grid_once(name):
    found = shape(name)
    assert _covered(name) == [(r, c) for r in range(found.rows) for c in range(found.cols)]


def test_the_named_shapes_and_their_big_cells():
    assert [cell_count(n) for n in ("1x1", "3x3", "6x6", "3x2", "1+5", "1+7", "2+8", "1+12")] \
        == [1, 9, 36, 6, 6, 8, 10, 13]
    assert (shape("3x2").cols, shape("3x2").rows) == (3, 2)  # columns first, as 640x360
    assert shape("1+5").cells[0] == (0, 0, 2, 2)
    assert shape("1+7").cells[0] == (0, 0, 3, 3)
    assert shape("2+8").cells[:2] == ((0, 0, 2, 2), (0, 2, 2, 2))
    assert shape("1+12").cells[0] == (1, 1, 2, 2)  # centred
    # after the big ones, the small ones in reading order
    assert [(c.row, c.col) for c in shape("1+5").cells[1:]] == [(0, 2), (1, 2), (2, 0), (2, 1), (2, 2)]
    assert len(SHAPE_NAMES) == len(set(SHAPE_NAMES)) == 36 + 4


@pytest.mark.parametrize("name", ["", "0x3", "7x7", "3x7", "1+6", "3X3", " 3x3", "3x3\n", "x",
                                  "99999999999x1", None, 3])
def test_a_hostile_shape_name_is_refused(name):
    assert not is_shape(name)
    with pytest.raises(ValueError):
        shape(name)


@pytest.mark.parametrize("name", ["1+12", "2+8", "5x5", "3x2"])
def test_cell_rectangles_tile_the_area_exactly(name):
    width, height = 1917, 1079  # not divisible: the remainder is spread, nothing unused
    rects = cell_rects(name, width, height)
    assert len(rects) == cell_count(name)
    assert sum(r.w * r.h for r in rects) == width * height
    assert all(r.x >= 0 and r.y >= 0 and r.x + r.w <= width and r.y + r.h <= height for r in rects)
    assert len({(r.x, r.y) for r in rects}) == len(rects)


def test_1_plus_5_on_a_full_hd_screen():
    assert cell_rects("1+5", 1920, 1080)[:2] == [Rect(0, 0, 1280, 720), Rect(1280, 0, 640, 360)]


def test_fitting_letterboxes_and_pillarboxes_only_as_the_ratio_forces():
    assert fit(Rect(0, 0, 640, 360)) == Rect(0, 0, 640, 360)  # 16:9 in 16:9: no bar
    assert fit(Rect(10, 20, 400, 400), 16 / 9) == Rect(10, 20 + 87, 400, 225)  # letterbox
    assert fit(Rect(0, 0, 800, 300), 4 / 3) == Rect(200, 0, 400, 300)  # pillarbox
    assert fit(Rect(0, 0, 1000, 1000), 9 / 16) == Rect(219, 0, 562, 1000)  # a portrait camera
    assert fit(Rect(5, 5, 0, 50)) == Rect(5, 30, 0, 0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        assert fit(Rect(0, 0, 400, 400), bad) == fit(Rect(0, 0, 400, 400), DEFAULT_RATIO)
    for cell in (Rect(0, 0, 333, 77), Rect(0, 0, 77, 333), Rect(3, 4, 1001, 999)):
        got = fit(cell, 4 / 3)
        assert got.w == cell.w or got.h == cell.h  # as large as the cell allows
        assert abs(got.w / got.h - 4 / 3) < 0.02
        assert abs((got.x - cell.x) - (cell.x + cell.w - got.x - got.w)) <= 1  # centred


def test_the_picture_ratio_of_a_camera_and_the_default():
    assert picture_ratio(640, 480) == 4 / 3
    assert picture_ratio(720, 576, 64 / 45) == pytest.approx(16 / 9)  # anamorphic PAL
    assert picture_ratio(None, 480) == picture_ratio(0, 0) == picture_ratio(-4, 3) == 16 / 9


def test_the_shapes_for_clients_match_the_geometry():
    out = {s.name: s for s in shapes_out()}
    assert list(out) == list(SHAPE_NAMES)
    assert [tuple(c.model_dump().values()) for c in out["2+8"].cells] == list(shape("2+8").cells)


# --- the service on a real station, SQLite and PostgreSQL ---------------------------------
def _sources(station, *names: str) -> list[int]:
    return [station.sources.create(SourceIn(name=n, uri_rtsp=TESTSRC, enabled=False)).id
            for n in names]


def test_create_read_update_delete(station):
    a, b = _sources(station, "a", "b")
    layouts = station.layouts
    made = layouts.create(LayoutIn(name="  Entrances ", shape="1+5", cells=[b, None, a, None, None, None]))
    assert (made.name, made.shape, made.cells) == ("Entrances", "1+5", [b, None, a, None, None, None])
    empty = layouts.create(LayoutIn(name="Blank", shape="2x2"))
    assert empty.cells == [None] * 4
    assert [x.name for x in layouts.list()] == ["Blank", "Entrances"]
    assert layouts.get(made.id) == made
    # a new shape without cells keeps them in order: fewer cells drop the tail
    changed = layouts.update(made.id, LayoutChange(shape="2x1"))
    assert changed.cells == [b, None] and changed.name == "Entrances"
    changed = layouts.update(made.id, LayoutChange(shape="2x2", name="Doors"))
    assert changed.cells == [b, None, None, None] and changed.name == "Doors"
    assert layouts.update(made.id, LayoutChange(cells=[None, a, b, a])).cells == [None, a, b, a]
    assert layouts.delete(empty.id).name == "Blank"
    with pytest.raises(NotFound):
        layouts.get(empty.id)
    assert [x.id for x in layouts.list()] == [made.id]


def test_hostile_or_inconsistent_input_is_refused(station):
    [a] = _sources(station, "a")
    layouts = station.layouts
    layouts.create(LayoutIn(name="One", shape="1x1", cells=[a]))
    with pytest.raises(Conflict):
        layouts.create(LayoutIn(name="One", shape="2x2"))
    for bad in (dict(name="x", shape="7x7"), dict(name="x", shape="2x2", cells=[a]),
                dict(name="x", shape="1x1", cells=[a + 1000]),
                dict(name="x", shape="1x1", cells=[2**31 - 1])):
        with pytest.raises(InvalidInput):
            layouts.create(LayoutIn(**bad))
    for bad in (dict(name="\u202eevil"), dict(name=""), dict(name="x" * 65),
                dict(name="x", cells=[True]), dict(name="x", cells=["1"]),
                dict(name="x", cells=[0]), dict(name="x", cells=[2**63]),
                dict(name="x", cells=[None] * 37)):
        with pytest.raises(ValueError):  # pydantic's ValidationError: the API's 422
            LayoutIn(shape="1x1", **bad)
    two = layouts.create(LayoutIn(name="Two", shape="1x1"))
    with pytest.raises(Conflict):
        layouts.update(two.id, LayoutChange(name="One"))
    with pytest.raises(InvalidInput):
        layouts.update(two.id, LayoutChange(cells=[a, a]))
    with pytest.raises(NotFound):
        layouts.update(2**40, LayoutChange(name="Three"))
    assert layouts.get(two.id).name == "Two"


def test_a_deleted_sources_cells_are_left_empty(station):
    a, b = _sources(station, "a", "b")
    made = station.layouts.create(LayoutIn(name="Wall", shape="2x1", cells=[a, b]))
    station.sources.delete(a)
    assert station.layouts.get(made.id).cells == [None, b]
    with station.catalog.session() as s:  # emptied in the catalog, not only masked
        assert s.get(Layout, made.id).cells == [None, b]
    # the id coming back as a new source's (SQLite reuses the highest) shows nothing
    _sources(station, "c")
    assert station.layouts.get(made.id).cells == [None, b]


def test_a_scoped_user_sees_and_keeps_hidden_cells(station):
    mine, hidden = _sources(station, "mine", "hidden")
    visible = frozenset({mine})
    layouts = station.layouts
    made = layouts.create(LayoutIn(name="Mixed", shape="3x1", cells=[hidden, mine, None]))
    assert layouts.get(made.id, visible).cells == [None, mine, None]
    assert layouts.list(visible)[0].cells == [None, mine, None]
    with pytest.raises(InvalidInput, match="not found"):  # as if it did not exist
        layouts.create(LayoutIn(name="Mine", shape="1x1", cells=[hidden]), visible)
    with pytest.raises(InvalidInput, match="not found"):
        layouts.update(made.id, LayoutChange(cells=[None, hidden, None]), visible)
    # the user moves their camera; the hidden one stays where it was
    out = layouts.update(made.id, LayoutChange(cells=[None, None, mine]), visible)
    assert out.cells == [None, None, mine]
    assert layouts.get(made.id).cells == [hidden, None, mine]
    with pytest.raises(Conflict):  # it would take away a camera they do not know of
        layouts.delete(made.id, visible)
    own = layouts.create(LayoutIn(name="Own", shape="1x1", cells=[mine]), visible)
    assert layouts.delete(own.id, visible).cells == [mine]
    assert layouts.delete(made.id).cells == [hidden, None, mine]  # the unscoped may
