"""The motion GUI (#24) against a real core (offscreen Qt): the zone editor draws a polygon
with mouse clicks and saves it through the motion service, whose detector then ignores a
change inside the exclude mask; the tuner paints what `tune()` answers; a wall that
"updates on motion" rests its tiles (no pictures asked or painted) until MotionChanged."""

from __future__ import annotations

import numpy as np
import pytest
import shiboken6
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor

from app.audited import AuditedStation
from app.events import MotionChanged
from app.live import Demand
from app.schemas import SourceIn
from tests.conftest import TESTSRC
from tests.support.main_window import open_main_window
from tests.ui.test_timeline import browser  # noqa: F401 - the Recordings tab's fixture
from ui.application import ensure_application
from ui.motion.motion_dialog import MotionDialog
from ui.motion.tuner import tuned_picture
from ui.motion.zone_canvas import ZoneCanvas
from ui.motion.zones import EXCLUDE, INCLUDE
from vision.detector import ANALYSIS_WIDTH, MotionDetector

CORNERS = ((0.1, 0.1), (0.5, 0.1), (0.5, 0.5), (0.1, 0.5))


@pytest.fixture
def source_id(station):
    return station.sources.create(SourceIn(name="yard", uri_rtsp=TESTSRC)).id


@pytest.fixture
def dialog(qtbot, station, source_id, tasks):
    ensure_application()
    window = MotionDialog(AuditedStation(station, who="tester"), source_id, "yard", tasks)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.loaded, timeout=5000)
    yield window
    if shiboken6.isValid(window):
        window.close()  # stops polling, lets the stream go (and deletes the dialog)


def _at(canvas: ZoneCanvas, x: float, y: float) -> QPoint:
    rect = canvas.picture_rect()
    return QPoint(round(rect.x() + x * rect.width()), round(rect.y() + y * rect.height()))


def _draw(qtbot, canvas: ZoneCanvas, corners) -> None:
    for x, y in corners[:-1]:
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=_at(canvas, x, y))
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=_at(canvas, *corners[-1]))
    qtbot.mouseDClick(canvas, Qt.MouseButton.LeftButton, pos=_at(canvas, *corners[-1]))


def _scene(height: int = 101) -> np.ndarray:
    """A still grey picture the size the detector analyses, a little texture so the
    contrast stretch has something to stretch."""
    rng = np.random.default_rng(7)
    return (100 + rng.integers(0, 20, (height, ANALYSIS_WIDTH))).astype(np.uint8)


def _feed(detector: MotionDetector, pictures) -> list:
    return [detector.feed(p, t=i * 0.2) for i, p in enumerate(pictures)]


def test_a_polygon_drawn_and_saved_masks_motion_in_the_detector(qtbot, dialog, station, source_id):
    canvas = dialog.canvas
    _draw(qtbot, canvas, CORNERS)
    assert len(canvas.zones.zones) == 1 and canvas.zones.zones[0].kind == EXCLUDE
    assert not canvas.zones.drawing, "the double-click closed the polygon"
    # a second polygon, an include zone closed with Enter, then removed with Delete
    dialog.zone_list.draw_as.setCurrentIndex(dialog.zone_list.draw_as.findData(INCLUDE))
    for x, y in ((0.6, 0.6), (0.9, 0.6), (0.9, 0.9)):
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=_at(canvas, x, y))
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    assert [z.kind for z in canvas.zones.zones] == [EXCLUDE, INCLUDE]
    assert dialog.zone_list.list.count() == 2 and canvas.selected == 1
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert [z.kind for z in canvas.zones.zones] == [EXCLUDE]

    dialog.form.make_time.setValue(0.0)
    saves = dialog.saves
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.saves > saves, timeout=5000)
    assert dialog.banner.property("level") == "success", dialog.banner.text()

    settings = station.motion.settings(source_id)
    assert settings.make_time_s == 0.0
    (zone,) = settings.zones
    assert zone.kind == "exclude" and len(zone.points) == 4
    for (x, y), (ex, ey) in zip(zone.points, CORNERS):
        assert abs(x - ex) < 0.01 and abs(y - ey) < 0.01, zone.points  # normalised 0..1
    qtbot.waitUntil(lambda: any(  # in the audit trail, as the GUI's operator
        e.dialect == "gui" and e.who == "tester" and e.target == f"source yard ({source_id})"
        for e in station.audit.list(action="change motion settings").items), timeout=5000)

    # The saved mask applies: a square changing inside it is no motion, the same outside is.
    still = _scene()
    h, w = still.shape
    inside, outside = still.copy(), still.copy()
    inside[int(0.2 * h):int(0.4 * h), int(0.2 * w):int(0.4 * w)] = 250
    outside[int(0.6 * h):int(0.8 * h), int(0.6 * w):int(0.8 * w)] = 250
    masked = _feed(MotionDetector(settings), [still] * 10 + [inside] * 3)
    assert not any(d.motion for d in masked[10:]), "a change inside the exclude mask counted"
    open_ = _feed(MotionDetector(settings), [still] * 10 + [outside] * 3)
    assert any(d.motion for d in open_[10:]), "the same change outside the mask must count"


def test_a_refused_value_shows_the_services_words(qtbot, dialog):
    canvas = dialog.canvas
    for x, y in CORNERS[:3]:
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=_at(canvas, x, y))
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    dialog.zone_list.kind.setCurrentIndex(dialog.zone_list.kind.findData(INCLUDE))
    dialog.zone_list.name.setText("")
    dialog.zone_list.name.textEdited.emit("")  # an include zone with no name
    saves = dialog.saves
    dialog.save()
    qtbot.waitUntil(lambda: dialog.saves > saves, timeout=5000)
    assert dialog.banner.property("level") == "error" and dialog.banner.isVisible()
    assert "zone" in dialog.banner.text().lower() or "name" in dialog.banner.text().lower()


def test_the_tuner_paints_what_tune_answers(qtbot, dialog, station, source_id):
    # the dialog's poller asks tune(); the moving test pattern gives detections with a mask
    qtbot.waitUntil(lambda: dialog.canvas.tuned is not None
                    and dialog.canvas.tuned.mask is not None, timeout=10000)
    assert dialog.poller.polls > 0
    assert "changed" in dialog.canvas.tuned.summary()

    detection = station.motion.tune(source_id)
    assert detection is not None and detection.changed is not None
    changed = detection.changed.copy()
    changed[:] = 0
    changed[: changed.shape[0] // 2, : changed.shape[1] // 2] = 255  # the top-left quarter
    tuned = tuned_picture(type("D", (), {**{k: getattr(detection, k) for k in (
        "level", "motion", "zones", "boxes", "night", "relearned")}, "changed": changed})())
    canvas = ZoneCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(640, 360)
    canvas.set_tuned(tuned)
    picture = canvas.grab().toImage()
    rect = canvas.picture_rect()

    def colour(x: float, y: float) -> QColor:
        return picture.pixelColor(round(rect.x() + x * rect.width()), round(rect.y() + y * rect.height()))
    red, plain = colour(0.2, 0.2), colour(0.8, 0.4)
    assert red.red() > red.green() + 60, red.name()
    assert abs(plain.red() - plain.green()) < 20, plain.name()


def test_a_wall_that_updates_on_motion_rests_its_tiles_until_motion(qtbot, station, source_id):
    station.motion.change(source_id, {"enabled": False}, "test")  # only the events we send
    with open_main_window(qtbot, station, "http://127.0.0.1:9", tiles=1) as window:
        tile = window.wall.tiles[source_id]
        qtbot.waitUntil(lambda: tile.frames_painted >= 3, timeout=8000)
        window.update_on_motion.setChecked(True)
        assert tile.resting and tile.shown.demand is Demand.NONE
        counters = lambda: station.recorder.counters()[source_id].packets_read  # noqa: E731
        painted, packets = tile.frames_painted, counters()
        qtbot.waitUntil(lambda: counters() >= packets + 25, timeout=5000)  # a second of video
        qtbot.wait(100)  # the wall's clock ticks a few times meanwhile
        assert tile.frames_painted == painted, "a resting tile painted new pictures"
        still = tile.grab().toImage()
        assert still.pixelColor(12, tile.height() - 14) != QColor("#111418")  # the mark

        station.bus.publish(MotionChanged(source_id, True, ("door",)))
        qtbot.waitUntil(lambda: not tile.resting, timeout=2000)
        qtbot.waitUntil(lambda: tile.frames_painted >= painted + 5, timeout=5000)

        station.bus.publish(MotionChanged(source_id, False))
        qtbot.waitUntil(lambda: tile.resting, timeout=2000)
        assert window.wall_prefs.update_on_motion(), "the option is kept for the wall"
        window.update_on_motion.setChecked(False)
        assert not tile.resting


def test_motion_opens_from_the_tiles_context_menu(qtbot, station, source_id):
    with open_main_window(qtbot, station, "http://127.0.0.1:9", tiles=1) as window:
        tile = window.wall.tiles[source_id]
        tile.menu_requested.emit(source_id, tile.mapToGlobal(QPoint(20, 20)))
        (motion,) = [a for a in window.last_tile_menu.actions() if a.text() == "Motion…"]
        motion.trigger()
        dialog = window.motion_dialogs[source_id]
        qtbot.waitUntil(lambda: dialog.loaded, timeout=5000)
        assert dialog.windowTitle() == "Motion — yard" and dialog.isVisible()
        motion.trigger()  # asked again: the same dialog, not a second one
        assert list(window.motion_dialogs) == [source_id]


def test_motion_events_have_their_own_colour_on_the_timeline(qtbot, station, source_id,
                                                              browser):  # noqa: F811
    from datetime import timedelta

    from tests.ui.test_timeline import show
    from ui.recordings.timeline import parse_utc

    motion = station.events.open("motion", source_id=source_id, text="yard: motion in door",
                                 data={"zones": ["door"]})
    show(qtbot, browser, parse_utc(motion.begin) - timedelta(seconds=5), 10.0)
    timeline, view = browser.timeline, browser.timeline.view
    qtbot.waitUntil(lambda: timeline.lane(source_id) is not None
                    and motion.id in [e.id for e in timeline.lane(source_id).spans.events],
                    timeout=5000)
    index = view.lanes.index(timeline.lane(source_id))
    # the live pattern may have opened a motion event of its own: ours begins where it began
    x = view.x_of(parse_utc(motion.begin))
    ((rect, severity),) = [(r, s) for r, s in view.event_marks(index) if abs(r.left() - x) < 1]
    assert severity == "warning"
    colour = view.grab().toImage().pixelColor(int(rect.center().x()), int(rect.center().y()))
    assert colour.green() > 130 and colour.red() < 100, colour.name()  # green, not warning orange


def test_the_events_panel_lists_motion_with_its_zones(qtbot, station, source_id):
    events = station.events
    with open_main_window(qtbot, station, "http://127.0.0.1:9", tiles=1) as window:
        panel = window.events
        motion = events.open("motion", source_id=source_id, text="yard: motion in door",
                             data={"zones": ["door"]})
        qtbot.waitUntil(lambda: panel.row_of(motion.id) >= 0, timeout=5000)
        assert panel.table.item(panel.row_of(motion.id), 3).text() == "yard: motion in door"
        events.close(motion.id, data={"zones": ["door", "path"]})  # it reached the path too
        qtbot.waitUntil(lambda: panel.table.item(panel.row_of(motion.id), 3).text()
                        == "yard: motion in door · zones: door, path", timeout=5000)
        colour = panel.table.item(panel.row_of(motion.id), 1).foreground().color()
        assert colour.name() == "#38a169", colour.name()  # motion's green, not a warning's


def test_a_wall_kept_resting_shows_each_camera_once_then_rests(qtbot, station, source_id):
    from ui.wall_prefs import WallPrefs

    station.motion.change(source_id, {"enabled": False}, "test")
    WallPrefs(station.settings.data_dir).set_update_on_motion(True)  # as a last session left it
    with open_main_window(qtbot, station, "http://127.0.0.1:9", tiles=1) as window:
        assert window.update_on_motion.isChecked()
        tile = window.wall.tiles[source_id]
        # it rests once it has a picture to rest on (the first may come before this line)
        qtbot.waitUntil(lambda: tile.resting, timeout=8000)
        assert tile.image is not None and tile.frames_shown == 1
        assert tile.shown.demand is Demand.NONE


def test_the_sliders_apply_as_they_move(qtbot, dialog, station, source_id):
    saves = dialog.saves
    dialog.form.sensitivity.setValue(80)
    dialog.form.algorithm.setCurrentIndex(dialog.form.algorithm.findData("mog2"))
    qtbot.waitUntil(lambda: dialog.saves > saves, timeout=5000)  # once, after the last move
    settings = station.motion.settings(source_id)
    assert settings.sensitivity == 80 and settings.algorithm == "mog2"
    assert dialog.saves == saves + 1
    assert station.motion.status(source_id).settings.sensitivity == 80  # the running detector's
