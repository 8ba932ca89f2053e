"""#27 items 1 and 2 in the GUI, on a real station (offscreen Qt): the automatic grid's
choice, a named layout on the wall (big cell, cells left empty, a source dropped into a cell
stored in the catalog and audited), hotkeys, the layout remembered per screen across a
restart, the tour (running again after a restart), full screen with F11 and Esc, and a
layout's window on another screen brought back on the main screen when its screen is gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest

from app.layouts.auto_grid import best_grid, covered
from app.layouts.schemas import LayoutChange, LayoutIn
from app.schemas import SourceIn
from tests.conftest import TESTSRC_5FPS
from tests.support.main_window import open_main_window
from ui.groups_panel import ID, KIND, SOURCE
from ui.layout_window import LayoutWindow, place
from ui.wall_cells import EmptyCell
from ui.wall_prefs import WallPrefs

API = "http://127.0.0.1:9/"  # the window only shows it
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def three(station) -> list[int]:
    return [station.sources.create(SourceIn(name=n, uri_rtsp=TESTSRC_5FPS)).id
            for n in ("gate", "yard", "dock")]


def _tree_item(tree, source_id: int):
    """The source's row under "All sources" in the side panel's tree."""
    for top in range(tree.topLevelItemCount()):
        stack = [tree.topLevelItem(top)]
        while stack:
            item = stack.pop()
            if item.data(0, KIND) == SOURCE and item.data(0, ID) == source_id:
                return item
            stack.extend(item.child(i) for i in range(item.childCount()))
    return None


def test_automatic_grid_wastes_least_for_16_9_tiles():
    # two cameras on the wall of a 1200x800 window (the docks take the rest): the old grid
    # put them side by side, 58 % black; one above the other shows 59 % picture
    assert covered(2, 1, 2, 1200, 800) == pytest.approx(0.42, abs=0.01)
    assert best_grid(2, 1200, 800) == (1, 2)
    assert covered(1, 2, 2, 1200, 800) == pytest.approx(0.59, abs=0.01)
    assert best_grid(2, 1600, 900) == (2, 1)
    # five and seven: no grid with more empty cells than it must have, and more picture
    for count in (5, 7):
        cols, rows = best_grid(count, 1600, 900)
        assert cols * rows - count < cols and covered(cols, rows, count, 1600, 900) \
            >= covered(3, 3, count, 1600, 900)
    assert best_grid(5, 1600, 900) == (3, 2)
    assert best_grid(2, 900, 1600) == (1, 2)  # a portrait screen stacks them


def test_windows_go_back_to_their_screens_or_the_main_one():
    wanted = [(3, "HDMI-2"), (4, "DP-1"), (5, "HDMI-1")]
    assert place(wanted, ["HDMI-1", "HDMI-2"], "HDMI-1") == [(3, "HDMI-2"), (4, "HDMI-1"),
                                                             (5, "HDMI-1")]


def test_layout_cells_drop_hotkeys_and_restart(qtbot, station, three):
    gate, yard, dock = three
    layouts = station.layouts
    entrances = layouts.create(LayoutIn(name="Entrances", shape="1+5",
                                        cells=[gate, None, yard, None, None, None]))
    layouts.create(LayoutIn(name="Pair", shape="2x1", cells=[dock, gate]))
    with open_main_window(qtbot, station, API, tiles=3, size=(1200, 760)) as window:
        wall = window.wall
        # the automatic grid plans for the cameras' own ratio once their pictures tell it
        # (these are 4:3), checked once a second
        qtbot.waitUntil(lambda: wall.picture_ratio() == pytest.approx(4 / 3), timeout=10000)
        qtbot.waitUntil(lambda: wall.grid_size == best_grid(3, *wall._area(), 4 / 3),
                        timeout=3000)
        assert wall.layout_shape is None
        qtbot.waitUntil(lambda: len(window.layouts.layouts) == 2, timeout=15000)
        QTest.keyClick(window, Qt.Key.Key_1)  # "Entrances": first by name
        assert wall.layout_shape == "1+5" and wall.shown_ids() == [gate, yard]
        qtbot.waitUntil(lambda: wall.tiles[gate].width() > 0 and all(
            c.width() > 0 for c in wall._empty_cells), timeout=3000)
        big, small = wall.tiles[gate], wall.tiles[yard]
        assert big.width() > 1.8 * small.width() and big.height() > 1.8 * small.height()
        assert len(wall._empty_cells) == 4 and wall.tiles[dock].isHidden()
        # dock dragged from the tree into cell 3 (empty): the tree's own drag data, dropped
        target = next(c for c in wall._empty_cells if c.cell == 3)
        tree = window.groups.tree
        qtbot.waitUntil(lambda: _tree_item(tree, dock) is not None, timeout=15000)
        tree.setCurrentItem(_tree_item(tree, dock))  # the press that starts the drag
        assert wall.layout_shape == "1+5"  # a drag is no pick: the layout stays
        mime = tree.mimeData([_tree_item(tree, dock)])  # held: the event does not own it
        drop = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime,
                          Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        target.dropEvent(drop)
        assert wall.cells == [gate, None, yard, dock, None, None]
        qtbot.waitUntil(lambda: layouts.get(entrances.id).cells == wall.cells, timeout=15000)
        # gate dragged from its big cell onto yard's: the two swap
        wall.drop_source(2, gate, 0)
        assert wall.cells[:3] == [yard, None, gate]
        qtbot.waitUntil(lambda: layouts.get(entrances.id).cells[:3] == [yard, None, gate],
                        timeout=15000)
        station.audit.flush()
        entry = station.audit.list(action="update layout").items[0]
        assert entry.target == f"layout {entrances.id}" and entry.dialect == "gui"
        QTest.keyClick(window, Qt.Key.Key_2)
        assert wall.layout_shape == "2x1" and wall.shown_ids() == [dock, gate]
        screen = window.layouts.screen_name()
    assert WallPrefs(station.settings.data_dir).layout_for(screen) is not None
    with open_main_window(qtbot, station, API, tiles=3) as again:  # the next start
        qtbot.waitUntil(lambda: _tree_item(again.groups.tree, gate) is not None, timeout=15000)
        qtbot.waitUntil(lambda: again.wall.layout_shape == "2x1", timeout=15000)
        # a catalog change rebuilds the tree (its current item moves): the layout stays
        station.sources.create(SourceIn(name="roof", uri_rtsp=TESTSRC_5FPS))
        qtbot.waitUntil(lambda: len(again.wall.tiles) == 4, timeout=15000)
        assert again.wall.layout_shape == "2x1"
        tree = again.groups.tree
        tree.itemClicked.emit(_tree_item(tree, gate), 0)  # picked in the tree: automatic grid
        assert again.wall.layout_shape is None and again.layouts.current is None
        # an API client's change to a layout shows on the wall that shows it
        again.layouts.choose(entrances.id)
        layouts.update(entrances.id, LayoutChange(shape="2x2", cells=[dock, None, None, None]))
        qtbot.waitUntil(lambda: again.wall.layout_shape == "2x2"
                        and again.wall.shown_ids() == [dock], timeout=15000)


def test_tour_full_screen_and_other_screens(qtbot, station, three):
    gate, yard, _dock = three
    first = station.layouts.create(LayoutIn(name="A", shape="1x1", cells=[gate]))
    second = station.layouts.create(LayoutIn(name="B", shape="2x2", cells=[yard, None, None, None]))
    WallPrefs(station.settings.data_dir).set_layout_windows([(second.id, "no-such-screen")])
    with open_main_window(qtbot, station, API, tiles=3) as window:
        control = window.layouts
        # the window saved on a screen that is gone opens on the main screen
        qtbot.waitUntil(lambda: len(control.windows) == 1, timeout=15000)
        other = control.windows[0]
        assert isinstance(other, LayoutWindow) and other.wall.layout_shape == "2x2"
        assert other.screen() is window.screen() and other.isVisible()
        qtbot.waitUntil(lambda: yard in other.wall.tiles and other.wall.shown_ids() == [yard],
                        timeout=15000)
        other.activateWindow()
        qtbot.waitUntil(other.isActiveWindow, timeout=3000)
        QTest.keyClick(other, Qt.Key.Key_1)  # 1 on that screen: layout A there
        assert other.wall.layout_shape == "1x1" and other.wall.shown_ids() == [gate]
        assert WallPrefs(station.settings.data_dir).layout_windows()[0][0] == first.id
        # the tour: A, B, A ... each step on the frame of the tour's own timer
        control.start_tour([first.id, second.id], 2)
        assert control.current == first.id and control.tour_timer.interval() == 2000
        control._tour_step()
        assert control.current == second.id and window.wall.layout_shape == "2x2"
        control._tour_step()
        assert control.current == first.id
        window.activateWindow()  # the keys go to the window in front: the main one again
        qtbot.waitUntil(window.isActiveWindow, timeout=3000)
        assert WallPrefs(station.settings.data_dir).tour_running()
        QTest.keyClick(window, Qt.Key.Key_2)  # choosing by hand ends the tour
        assert not control.tour_timer.isActive() and control.current == second.id
        assert not WallPrefs(station.settings.data_dir).tour_running()
        # F11: the wall alone on the screen; Esc leaves (a maximised tile first goes back)
        QTest.keyClick(window, Qt.Key.Key_F11)
        qtbot.waitUntil(window.isFullScreen, timeout=3000)
        assert window.menuBar().isHidden() and window.statusBar().isHidden()
        QTest.mouseDClick(window.wall.tiles[yard], Qt.MouseButton.LeftButton)
        assert window.wall.focused == yard
        QTest.keyClick(window, Qt.Key.Key_Escape)
        assert window.wall.focused is None and window.isFullScreen()
        QTest.keyClick(window, Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=3000)
        assert not window.menuBar().isHidden()
        # the window's lock hides the other screens' windows with it, and shows them again
        window.access.lock.locked_changed.emit(True)
        assert not other.isVisible()
        window.access.lock.locked_changed.emit(False)
        assert other.isVisible()
        # a second window opened by hand; closing the station remembers both, and the tour
        # left running
        control.open_on_screen(first.id, window.screen().name())
        assert len(control.windows) == 2
        control.start_tour([second.id, first.id], 3)
        control._tour_step()
        assert control.current == first.id
    prefs = WallPrefs(station.settings.data_dir)
    saved = prefs.layout_windows()
    assert sorted(i for i, _ in saved) == [first.id, first.id]
    assert prefs.tour_running() and prefs.tour() == ([second.id, first.id], 3)
    assert isinstance(EmptyCell(0), EmptyCell)
    with open_main_window(qtbot, station, API, tiles=3) as again:  # the next start
        control = again.layouts
        qtbot.waitUntil(lambda: control.tour_timer.isActive(), timeout=15000)
        assert control.tour_timer.interval() == 3000 and control.tour_ids == [second.id, first.id]
        assert control.current == first.id  # it goes on from where the wall was left
        assert again.wall.layout_shape == "1x1" and len(control.windows) == 2
        control._tour_step()
        assert again.wall.layout_shape == "2x2"


def test_windows_come_back_on_their_screens_of_two(tmp_path):
    """Two screens (a process of its own: Qt knows its screens from its start): a layout's
    window saved on RIGHT opens frameless over all of RIGHT; one saved on a screen that is
    gone opens on the main screen, LEFT."""
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    done = subprocess.run([sys.executable, "-m", "tests.support.two_screens", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["screens"] == ["LEFT", "RIGHT"]
    windows = {w["layout"]: w for w in found["windows"]}
    assert windows["A"]["screen"] == "RIGHT" and windows["A"]["frameless"]
    assert windows["A"]["geometry"] == [1280, 0, 1920, 1080]
    assert windows["B"]["screen"] == "LEFT" and windows["B"]["geometry"] == [0, 0, 1280, 720]


def test_new_layout_from_the_wall_and_delete(qtbot, station, three, monkeypatch):
    """New layout: filled with the tiles shown now, shown at once, audited; the tour dialog
    lists the layouts; Delete asks, then the wall goes back to the automatic grid."""
    from PySide6.QtWidgets import QMessageBox

    from ui.layout_dialogs import NewLayoutDialog, TourDialog

    with open_main_window(qtbot, station, API, tiles=3) as window:
        control = window.layouts
        control.create("Three up", "2x2")
        qtbot.waitUntil(lambda: window.wall.layout_shape == "2x2", timeout=15000)
        (made,) = station.layouts.list()
        assert made.name == "Three up" and made.cells == three + [None]
        assert control.current == made.id and window.wall.cells == made.cells
        station.audit.flush()
        assert station.audit.list(action="create layout").items[0].target == f"layout {made.id}"
        dialog = NewLayoutDialog(window)
        assert dialog.shape.currentText() == "1+5" and dialog.shape.count() == 40
        tour = TourDialog(window, control.layouts, [], 20)
        assert tour.chosen() == [made.id] and tour.seconds.value() == 20
        monkeypatch.setattr(QMessageBox, "question",
                            lambda *_a, **_k: QMessageBox.StandardButton.Yes)
        control.ask_delete()
        qtbot.waitUntil(lambda: window.wall.layout_shape is None, timeout=15000)
        assert station.layouts.list() == [] and control.current is None


def test_six_by_six_and_one_plus_twelve_fill_a_small_wall(qtbot, station, three):
    """36 cells on an 800x500 window: every cell the same size give or take the pixel the
    division leaves, none overflowing the wall; 1+12's big cell in the middle."""
    gate, yard, dock = three
    grid = station.layouts.create(LayoutIn(name="All", shape="6x6", cells=[gate, yard] + [None] * 34))
    ring = station.layouts.create(LayoutIn(name="Ring", shape="1+12", cells=[dock] + [None] * 12))
    with open_main_window(qtbot, station, API, tiles=3, size=(800, 500)) as window:
        wall = window.wall
        qtbot.waitUntil(lambda: len(window.layouts.layouts) == 2, timeout=15000)
        window.layouts.choose(grid.id)
        qtbot.waitUntil(lambda: len(wall._empty_cells) == 34
                        and all(c.width() > 0 for c in wall._empty_cells), timeout=15000)
        cells = [wall.tiles[gate], wall.tiles[yard], *wall._empty_cells]
        widths, heights = {c.width() for c in cells}, {c.height() for c in cells}
        assert max(widths) - min(widths) <= 1 and max(heights) - min(heights) <= 1
        assert all(wall.rect().contains(c.geometry()) for c in cells)
        window.layouts.choose(ring.id)
        qtbot.waitUntil(lambda: len(wall._empty_cells) == 12
                        and all(c.width() > 0 for c in wall._empty_cells), timeout=15000)
        big = wall.tiles[dock].geometry()
        assert abs(big.center().x() - wall.rect().center().x()) <= 4
        assert abs(big.center().y() - wall.rect().center().y()) <= 4
