"""Motion search in the GUI (#28 items 3 and 4), offscreen Qt on a real in-process station:
motion grids written through the station's own grid store (`station.motion_grids`, as the
analysers write them) beside records placed with real small files. The operator drags a
rectangle on the paused player's frame, picks the range and a second camera of the group in
the dialog; the hits land as marks on each camera's timeline lane at their instants and as
rows in the list; a double-click plays a hit from its begin; "Export hits" writes files that
decode; the heat map is drawn over the picture where motion was. On the live wall the tile
menu enters the same mode over the tile and shows the heat map over it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import av
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QWidget

from app.audited import AuditedStation
from app.schemas import GroupIn
from tests.support.main_window import open_main_window
from tests.support.placed_records import place_record, quiet_source
from ui.application import ensure_application
from ui.bridge import EventBridge
from ui.motion_search.controller import MotionSearchGui
from ui.motion_search.overlays import in_scene
from ui.motion_search.picking import (
    heat_rgba,
    hit_span_x,
    picture_rect,
    region_of,
)
from ui.motion_search.timeline_marks import HIT_COLOUR
from ui.recordings.recordings import RecordingsBrowser
from ui.tasks import TaskRunner

H, W = 180, 320                       # the analysers' picture size (any size maps to the grid)
LEFT_BOX = (slice(60, 120), slice(40, 120))    # grid cells x 4..11, y 6..11
RIGHT_BOX = (slice(60, 120), slice(200, 280))  # grid cells x 20..27, y 6..11
LEFT_REGION_POINTS = ((0.05, 0.2), (0.45, 0.8))  # dragged, in shares of the picture


def changed(box) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    mask[box] = 255
    return mask


def test_pure_geometry_of_regions_hits_and_heat():
    # a 4:3 picture in a 16:9 widget: letterboxed left and right
    assert picture_rect(320, 180, 160, 120) == (40.0, 0.0, 240.0, 180.0)
    picture = (40.0, 0.0, 240.0, 180.0)
    # dragged from bottom-right to top-left, partly off the picture: cut to it
    assert region_of((400, 90), (100, -10), picture) == (0.25, 0.0, 1.0, 0.5)
    assert region_of((100, 10), (102, 80), picture) is None  # 2 px wide: a slip
    assert region_of((1, 1), (50, 50), None) is None         # no picture yet
    zoomed = type("Z", (), {"left": 0.5, "top": 0.25, "span": 0.5})()
    assert in_scene((0.0, 0.0, 1.0, 0.5), zoomed) == (0.5, 0.25, 1.0, 0.5)
    begin = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)
    x_of = lambda t: 100 + (t - begin).total_seconds()  # noqa: E731 - a second a pixel
    assert hit_span_x(begin + timedelta(seconds=10), begin + timedelta(seconds=30), x_of,
                      100, 500) == (110, 20)
    assert hit_span_x(begin + timedelta(seconds=10), begin + timedelta(seconds=11), x_of,
                      100, 500) == (109.0, 3.0)  # a one-second hit still shows
    assert hit_span_x(begin + timedelta(seconds=500), begin + timedelta(seconds=501), x_of,
                      100, 500) is None
    rgba = heat_rgba([[0, 1], [4, 0]])
    assert rgba[0, 0, 3] == 0 and rgba[1, 1, 3] == 0          # nothing moved: see-through
    assert tuple(rgba[1, 0, :3]) == (255, 0, 0)               # the busiest cell: red
    assert 0 < rgba[0, 1, 3] < rgba[1, 0, 3]                  # rarer motion: fainter


def test_hits_go_to_the_stations_exports_folder(tmp_path):
    from types import SimpleNamespace

    from ui.motion_search.hits_panel import exports_folder

    assert exports_folder(SimpleNamespace(export_dir=None, data_dir=tmp_path)) \
        == tmp_path / "exports"
    chosen = tmp_path / "evidence"
    assert exports_folder(SimpleNamespace(export_dir=chosen, data_dir=tmp_path)) == chosen


@pytest.fixture
def scene(station, tmp_path):
    """Two cameras of one group. `door`: a record at t0 with motion in the left half in its
    second second, a record at t0+60 with motion in the right half for two seconds. `yard`:
    a record at t0+30 with motion in the left half."""
    folder = tmp_path / "placed"
    folder.mkdir()
    door, yard = quiet_source(station, "door"), quiet_source(station, "yard")
    group = station.groups.create(GroupIn(name="site"))
    for source_id in (door, yard):
        station.groups.add_source(group.id, source_id)
    t0 = datetime.now(timezone.utc).replace(second=5, microsecond=0) - timedelta(minutes=20)
    records = {"door": place_record(station, folder, door, "watch", t0),
               "door2": place_record(station, folder, door, "watch", t0 + timedelta(seconds=60)),
               "yard": place_record(station, folder, yard, "watch", t0 + timedelta(seconds=30))}
    grids = station.motion_grids
    ts = t0.timestamp()
    grids.add(door, ts + 1.3, changed(LEFT_BOX))
    grids.add(door, ts + 60.2, changed(RIGHT_BOX))
    grids.add(door, ts + 61.2, changed(RIGHT_BOX))
    grids.add(yard, ts + 30.5, changed(LEFT_BOX))
    assert grids.flush() == 3  # door's two minutes, yard's one: stored in the catalog
    return {"door": door, "yard": yard, "t0": t0, "records": records}


@pytest.fixture
def gui(qtbot, station, scene):
    ensure_application()
    bridge, tasks = EventBridge(station.bus), TaskRunner()
    audited = AuditedStation(station, who="tester")
    browser = RecordingsBrowser(audited, bridge, tasks)
    reports: list[tuple[str, bool]] = []
    search = MotionSearchGui(audited, tasks, browser,
                             report=lambda text, error=False: reports.append((text, error)))
    search.reports = reports  # what it told the operator (tests read it)
    qtbot.addWidget(browser)
    browser.resize(1300, 860)
    browser.show()
    qtbot.waitUntil(lambda: browser.loads > 0, timeout=5000)
    yield browser, search
    search.shutdown()
    browser.shutdown()
    tasks.shutdown()
    bridge.close()


def drag(qtbot, widget: QWidget, picture, points) -> None:
    """A left-button drag between two points given in shares of the picture."""
    (fx0, fy0), (fx1, fy1) = points
    left, top, width, height = picture
    start = QPoint(round(left + fx0 * width), round(top + fy0 * height))
    end = QPoint(round(left + fx1 * width), round(top + fy1 * height))
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(widget, QPoint((start.x() + end.x()) // 2, (start.y() + end.y()) // 2))
    qtbot.mouseMove(widget, end)
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=end)


def overlay_alone(widget: QWidget) -> QImage:
    """What an overlay paints, without the picture under it."""
    image = QImage(widget.size(), QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    widget.render(painter, QPoint(), renderFlags=QWidget.RenderFlag.DrawChildren)
    painter.end()
    return image


def cell_centre(picture, col: int, row: int) -> QPoint:
    left, top, width, height = picture
    return QPoint(round(left + (col + 0.5) / 32 * width), round(top + (row + 0.5) / 18 * height))


def test_search_here_on_the_player_marks_the_timeline_lists_plays_and_exports(
        qtbot, station, scene, gui, tmp_path):
    browser, search = gui
    door, yard, t0 = scene["door"], scene["yard"], scene["t0"]
    player, timeline = browser.player, browser.timeline
    timeline.play_moment(door, t0 + timedelta(seconds=0.5))
    qtbot.waitUntil(lambda: player.view.image is not None and player.playing, timeout=5000)

    picker = search.pick_on_player()
    assert picker is not None and picker.parent() is player.view
    qtbot.waitUntil(lambda: not player.playing, timeout=5000)  # the frame is paused
    picture = picker.picture()
    drag(qtbot, picker, picture, LEFT_REGION_POINTS)
    dialog = search.dialog
    assert dialog is not None and dialog.source_id == door and search.picker is None
    x0, y0, x1, y1 = dialog.region
    assert abs(x0 - 0.05) < 0.01 and abs(y0 - 0.2) < 0.01 and abs(x1 - 0.45) < 0.01 \
        and abs(y1 - 0.8) < 0.01
    qtbot.waitUntil(lambda: dialog.cameras.count() == 2, timeout=5000)  # the group's yard
    assert dialog.camera_ids() == [door]
    dialog.check_camera(yard)
    dialog.range_box.setCurrentText("Last hour")
    with qtbot.waitSignal(search.searched, timeout=5000):
        dialog.search_button.click()

    # one hit per camera, left half only: door's right-half motion is not a hit
    hits = search.panel.hits
    assert [(h.source_id, h.begin, h.end) for h in hits] == [
        (door, t0 + timedelta(seconds=1), t0 + timedelta(seconds=2)),
        (yard, t0 + timedelta(seconds=30), t0 + timedelta(seconds=31))]
    assert hits[0].record_ids == (scene["records"]["door"],)
    table = search.panel.table
    model = search.panel.model
    rows = [[model.text(r, c) for c in range(4)] for r in range(model.rowCount())]
    assert [row[0] for row in rows] == ["door", "yard"]
    assert rows[0][1] == (t0 + timedelta(seconds=1)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert rows[0][2] == "1 s" and rows[0][3] == f"{hits[0].peak * 100:.0f} %"
    assert search.panel.isVisible()

    # each camera's lane carries its mark where its hit is, in the mark's colour
    view = timeline.view
    qtbot.waitUntil(lambda: timeline.lane(door) is not None and not timeline.loading,
                    timeout=5000)
    image = view.grab().toImage()
    for source_id, hit in ((door, hits[0]), (yard, hits[1])):
        (mark,) = search.marks.marks(source_id)
        middle = view.x_of(hit.begin + (hit.end - hit.begin) / 2)
        assert abs(mark.center().x() - middle) <= 2
        lane_index = [lane.source_id for lane in view.lanes].index(source_id)
        assert view.lanes[lane_index].source_id == source_id
        assert mark.top() > 22 + lane_index * 30 and mark.bottom() < 22 + (lane_index + 1) * 30
        centre = mark.center().toPoint()
        assert image.pixelColor(centre).name() == HIT_COLOUR.name()
    # the legend names the mark while hits are drawn, and no longer once they are cleared
    assert "motion search hit" in timeline.legend.entries()
    assert HIT_COLOUR.name() in timeline.legend.text()

    # a double-click on yard's row plays yard's record from the hit's begin
    positions = []
    player.position_changed.connect(positions.append)
    where = table.visualRect(model.index(1, 0)).center()
    # (an item view takes a double-click where the press before it was)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton,
                     pos=where)
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton,
                      pos=where)
    yard_record = station.recordings.get(scene["records"]["yard"])
    qtbot.waitUntil(lambda: str(player.path) == yard_record.location and bool(positions),
                    timeout=5000)
    assert abs(positions[0] - 0.0) <= 0.15

    # Export hits: one file per hit, each decodes
    out = tmp_path / "exports"
    with qtbot.waitSignal(search.panel.exported, timeout=20000) as done:
        search.panel.export_hits(out)
    written = done.args[0]
    assert len(written) == 2 and all(p.parent == out and p.suffix == ".mp4" for p in written)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)
    for path in written:
        with av.open(str(path)) as container:
            assert sum(1 for _ in container.decode(video=0)) >= 10
    assert search.panel.message.text() == f"Exported: 2 file(s) written to {out}."

    # Cancel export, asked as the second hit is about to be cut: the first file stays, no second
    panel, elsewhere = search.panel, tmp_path / "cancelled"
    panel.signals.progress.connect(lambda n, _total: n == 1 and panel.cancel_export(),
                                   Qt.ConnectionType.DirectConnection)  # on the export thread
    with qtbot.waitSignal(panel.exported, timeout=20000) as done:
        panel.export_hits(elsewhere)
        assert panel.cancel_button.isVisible() and not panel.export_button.isEnabled()
    (kept,) = done.args[0]
    assert [p.name for p in elsewhere.iterdir()] == [kept.name]
    assert panel.message.text() == f"Export cancelled (1 file(s) written to {elsewhere})."
    assert not panel.cancel_button.isVisible() and panel.export_button.isEnabled()

    # a custom range the service refuses (over a year): told, the hits shown stay
    dialog = search.ask(door, "door", (0.1, 0.1, 0.2, 0.2))
    dialog.range_box.setCurrentText("Custom…")
    dialog.begin_edit.setText("2024-01-01 00:00:00")
    dialog.end_edit.setText("2025-06-01 00:00:00")
    dialog.search_button.click()
    qtbot.waitUntil(lambda: search.reports[-1][1], timeout=5000)
    assert search.reports[-1] == ("Motion search: the range may span 366 days at most", True)
    assert len(search.panel.hits) == 2 and len(search.marks.hits) == 2
    search.panel.clear_button.click()  # Clear: the marks, the list and the legend's entry go
    assert not search.marks.hits and "motion search hit" not in timeline.legend.entries()


def test_heat_map_over_the_player_picture(qtbot, station, scene, gui):
    browser, search = gui
    door, t0 = scene["door"], scene["t0"]
    player = browser.player
    browser.timeline.play_moment(door, t0 + timedelta(seconds=0.5))
    qtbot.waitUntil(lambda: player.view.image is not None, timeout=5000)
    player.pause()
    with qtbot.waitSignal(search.heatmap_shown, timeout=5000):
        search.heat_button.setChecked(True)
    overlay = search.heatmaps[player.view]
    picture = overlay.picture()
    drawn = overlay_alone(overlay)
    right = drawn.pixelColor(cell_centre(picture, 24, 9))   # two seconds: the busiest
    left = drawn.pixelColor(cell_centre(picture, 8, 9))     # one second
    quiet = drawn.pixelColor(cell_centre(picture, 16, 2))   # nothing moved
    assert right.red() > 200 and right.blue() < 60 and right.alpha() > 0
    assert 0 < left.alpha() and left.green() > left.blue()  # fainter, yellower
    assert quiet.alpha() == 0
    search.heat_button.setChecked(False)
    assert player.view not in search.heatmaps


def test_tile_menu_searches_on_the_focused_tile_and_shows_its_heat_map(qtbot, station, scene):
    door = scene["door"]
    with open_main_window(qtbot, station, "http://127.0.0.1:9/", size=(1200, 800)) as window:
        qtbot.waitUntil(lambda: door in window.wall.tiles, timeout=5000)
        tile = window.wall.tiles[door]
        still = QImage(QSize(320, 180), QImage.Format.Format_RGB32)
        still.fill(QColor("#808080"))
        tile.set_still(still)
        window._tile_menu(door, QPoint(10, 10))
        menu = window.last_tile_menu
        entry = next(a for a in menu.actions() if a.text() == "Search motion here…")
        entry.trigger()
        menu.close()
        search = window.motion_search
        picker = search.picker
        assert picker is not None and picker.parent() is tile and window.wall.focused == door
        qtbot.keyClick(picker, Qt.Key.Key_Escape)  # leaves the mode; the tile stays focused
        assert search.picker is None or not search.picker.isVisible()
        assert window.wall.focused == door
        picker = search.pick_on_tile(door)
        drag(qtbot, picker, picker.picture(), ((0.6, 0.3), (0.9, 0.7)))
        assert search.dialog.source_id == door and search.dialog.region[0] > 0.55
        search.dialog.reject()
        # zoomed in 2x on the picture's right half: the rectangle is taken in the part shown
        tile.zoom.state.zoom_at(1.0, 0.5, 2.0)
        picker = search.pick_on_tile(door)
        drag(qtbot, picker, picker.picture(), ((0.0, 0.0), (1.0, 1.0)))
        assert tuple(round(v, 2) for v in search.dialog.region) == (0.5, 0.25, 1.0, 0.75)
        search.dialog.reject()
        tile.zoom.reset()

        window._tile_menu(door, QPoint(10, 10))
        heat = next(a for a in window.last_tile_menu.actions()
                    if a.text() == "Show motion heat map")
        with qtbot.waitSignal(search.heatmap_shown, timeout=5000):
            heat.trigger()
        window.last_tile_menu.close()
        picture = search.heatmaps[tile].picture()
        shown = tile.grab().toImage()
        over_motion = shown.pixelColor(cell_centre(picture, 24, 9))
        quiet = shown.pixelColor(cell_centre(picture, 16, 15))
        assert quiet.name() == "#808080"                     # the still, untouched
        assert over_motion.red() > over_motion.blue() + 40   # tinted red over the motion
