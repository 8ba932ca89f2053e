"""The Recordings tab's timeline against a real running core (offscreen Qt): real records of
a test pattern drawn as bars in their tag's colour, the hole between them left empty, a
bookmark drawn; a click plays that very instant in the player; a drag along a lane scrubs
(thumbnails on the way, played from where it is let go) while the ruler, the middle button
and shift+wheel pan; rolled-over files of a source play on as one, also when they are read
from their owner's API; `B` in the player and a shift-drag range. Checked on the player's
own position and files, not only on the widgets."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from app.models import Record
from app.schemas import BookmarkIn, SourceIn
from tests.conftest import TESTSRC
from tests.support.main_window import open_main_window
from ui.application import ensure_application
from ui.bridge import EventBridge
from ui.recordings.recordings import RecordingsBrowser
from ui.recordings.remote_records import RecordFiles
from ui.recordings.timeline_view import LANE_H, RULER_H, parse_utc, tag_colour
from ui.tasks import TaskRunner


def online_source(station, name: str = "cam") -> int:
    src = station.sources.create(SourceIn(name=name, uri_rtsp=TESTSRC)).id
    deadline = time.monotonic() + 15
    while station.sources.get(src).status.value != "online":
        assert time.monotonic() < deadline, "the source never came online"
        time.sleep(0.05)
    time.sleep(1.0)  # pre-roll
    return src


def record(qtbot, station, src: int, tag: str, seconds: float):
    station.recordings.start_sources(tag, [src], origin="test")
    qtbot.wait(int(seconds * 1000))
    return station.recordings.stop(tag)


@pytest.fixture
def browser(qtbot, station):
    ensure_application()
    bridge = EventBridge(station.bus)
    tasks = TaskRunner()
    widget = RecordingsBrowser(station, bridge, tasks)
    qtbot.addWidget(widget)
    widget.resize(1300, 800)
    widget.show()
    yield widget
    widget.shutdown()
    tasks.shutdown()
    bridge.close()


def show(qtbot, browser, begin, seconds: float) -> None:
    """The view on [begin, begin + seconds), its spans read."""
    timeline = browser.timeline
    loads = timeline.loads
    timeline.view.show_range(begin, seconds)
    qtbot.waitUntil(lambda: timeline.loads > loads and not timeline.loading, timeout=5000)


def lane_y(index: int) -> int:
    return RULER_H + index * LANE_H + LANE_H // 2


def test_the_timeline_shows_spans_and_a_click_plays_that_instant(qtbot, station, browser):
    src = online_source(station)
    (a,) = record(qtbot, station, src, "alpha", 2.0)
    qtbot.wait(2500)  # more than the pre-roll: a hole between the two records
    (b,) = record(qtbot, station, src, "beta", 1.5)
    a_begin, a_end, b_begin = parse_utc(a.begin_utc), parse_utc(a.end_utc), parse_utc(b.begin_utc)
    station.bookmarks.create(BookmarkIn(source_id=src, time_utc=b_begin + timedelta(seconds=0.5),
                                        title="here"))
    timeline, view = browser.timeline, browser.timeline.view
    show(qtbot, browser, a_begin - timedelta(seconds=1), 10.0)
    lane = timeline.lane(src)
    assert [r.id for r in lane.spans.records] == [a.id, b.id]
    assert [m.title for m in lane.spans.bookmarks] == ["here"] and not lane.spans.truncated

    image = view.grab().toImage()
    y = lane_y(view.lanes.index(lane))
    in_a = view.x_of(a_begin + (a_end - a_begin) / 2)
    in_hole = view.x_of(a_end + (b_begin - a_end) / 2)
    in_b = view.x_of(b_begin + timedelta(seconds=0.2))
    assert image.pixelColor(int(in_a), y).name() == tag_colour("alpha").name()
    assert image.pixelColor(int(in_b), y).name() == tag_colour("beta").name()
    assert image.pixelColor(int(in_hole), y).name() not in (tag_colour("alpha").name(),
                                                             tag_colour("beta").name())

    # hovering shows a thumbnail of that instant; off the records, none
    qtbot.mouseMove(view, QPoint(round(in_a), y))
    qtbot.waitUntil(lambda: timeline.thumb.isVisible(), timeout=5000)
    thumb = timeline.thumb.pixmap()
    assert 0 < thumb.width() <= 192 and 0 < thumb.height() <= 108
    qtbot.mouseMove(view, QPoint(round(in_hole), y))
    qtbot.waitUntil(lambda: not timeline.thumb.isVisible(), timeout=5000)

    # a click 1.2 s into `alpha` plays from there, not from its start
    positions = []
    browser.player.position_changed.connect(positions.append)
    moment = a_begin + timedelta(seconds=1.2)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(round(view.x_of(moment)), y))
    qtbot.waitUntil(lambda: browser.player.playing and len(positions) >= 3, timeout=5000)
    assert str(browser.player.path) == a.location
    clicked = (view.time_at(round(view.x_of(moment))) - a_begin).total_seconds()
    assert abs(positions[0] - clicked) <= 0.05, (positions[0], clicked)  # gop=1: that frame
    assert positions[1] > positions[0]  # and on from there

    # a click in the hole plays what comes next: `beta` from its start
    positions.clear()
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(round(in_hole), y))
    qtbot.waitUntil(lambda: str(browser.player.path) == b.location and len(positions) >= 2,
                    timeout=5000)
    assert positions[0] < 0.1


def test_an_interrupted_record_plays_from_the_timeline(qtbot, station, browser):
    """A record a crash left open is closed `interrupted` with its file, which plays (README):
    the timeline asks the service's `has_footage`, as the table and the API do."""
    src = online_source(station)
    (a,) = record(qtbot, station, src, "crashed", 2.0)
    with station.catalog.session() as s:  # as recover_interrupted leaves it
        row = s.get(Record, a.id)
        row.status = "interrupted"
        s.add(row)
    assert station.recordings.get(a.id).has_footage
    timeline, view = browser.timeline, browser.timeline.view
    show(qtbot, browser, parse_utc(a.begin_utc) - timedelta(seconds=1), 6.0)
    (span,) = timeline.lane(src).spans.records
    assert (span.status, span.has_footage) == ("interrupted", True)

    positions = []
    browser.player.position_changed.connect(positions.append)
    moment = parse_utc(a.begin_utc) + timedelta(seconds=1.0)
    y = lane_y(view.lanes.index(timeline.lane(src)))
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(round(view.x_of(moment)), y))
    qtbot.waitUntil(lambda: browser.player.playing and len(positions) >= 2, timeout=5000)
    assert str(browser.player.path) == a.location and timeline.current[1].id == a.id
    assert abs(positions[0] - 1.0) <= 0.1, positions


def test_a_drag_scrubs_with_thumbnails_and_plays_where_let_go(qtbot, station, browser):
    src = online_source(station)
    (a,) = record(qtbot, station, src, "scrub", 3.0)
    a_begin, a_end = parse_utc(a.begin_utc), parse_utc(a.end_utc)
    timeline, view, player = browser.timeline, browser.timeline.view, browser.player
    show(qtbot, browser, a_begin - timedelta(seconds=1), 6.0)
    y = lane_y(view.lanes.index(timeline.lane(src)))
    begin = view.begin

    # along the lane: the scrub cursor and a thumbnail of each instant under the pointer
    tips = []
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(round(view.x_of(a_begin)) + 2, y))
    for seconds in (0.3, 1.5, 2.7):
        x = round(view.x_of(a_begin + timedelta(seconds=seconds)))
        qtbot.mouseMove(view, QPoint(x, y))
        moment = view.time_at(x)
        assert view.scrub == moment
        tip = f"scrub · {moment.astimezone():%H:%M:%S}"
        qtbot.waitUntil(lambda: timeline.thumb.isVisible() and timeline.thumb.toolTip() == tip,
                        timeout=5000)
        tips.append(tip)
    assert len(set(tips)) == 3 and player.path is None  # nothing played while dragging
    # off the lanes (over the ruler): no thumbnail, no cursor; back on the record: both again
    qtbot.mouseMove(view, QPoint(round(view.x_of(a_begin + timedelta(seconds=2))), RULER_H // 2))
    qtbot.waitUntil(lambda: not timeline.thumb.isVisible(), timeout=5000)
    assert view.scrub is None
    end_x = round(view.x_of(a_begin + timedelta(seconds=2.2)))
    qtbot.mouseMove(view, QPoint(end_x, y))
    qtbot.waitUntil(lambda: timeline.thumb.isVisible(), timeout=5000)
    assert view.begin == begin  # a drag on a lane no longer pans

    # let go: the player plays from that instant
    positions = []
    player.position_changed.connect(positions.append)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(end_x, y))
    assert view.scrub is None
    qtbot.waitUntil(lambda: player.playing and len(positions) >= 2, timeout=5000)
    assert str(player.path) == a.location
    released = (view.time_at(end_x) - a_begin).total_seconds()
    assert abs(positions[0] - released) < 0.5, (positions[0], released)
    assert released > 2.0 and view.begin == begin
    assert a_end > a_begin + timedelta(seconds=released)


def test_the_ruler_the_middle_button_and_shift_wheel_pan(qtbot, station, browser):
    src = online_source(station)
    (a,) = record(qtbot, station, src, "pan", 1.5)
    timeline, view, player = browser.timeline, browser.timeline.view, browser.player
    show(qtbot, browser, parse_utc(a.begin_utc) - timedelta(seconds=1), 8.0)
    y = lane_y(view.lanes.index(timeline.lane(src)))
    x0 = round(view.x_of(parse_utc(a.begin_utc) + timedelta(seconds=0.5)))
    per_px = view.span_s / view.lanes_width()

    def drag(button, y_at: int, dx: int) -> float:
        """Seconds the view moved by a drag of `dx` pixels."""
        begin = view.begin
        qtbot.mousePress(view, button, pos=QPoint(x0, y_at))
        for x in range(x0, x0 + dx + 1, 20):
            qtbot.mouseMove(view, QPoint(x, y_at))
        qtbot.mouseMove(view, QPoint(x0 + dx, y_at))
        qtbot.mouseRelease(view, button, pos=QPoint(x0 + dx, y_at))
        return (view.begin - begin).total_seconds()

    # dragging the ruler to the right shows earlier times, and plays nothing
    assert abs(drag(Qt.MouseButton.LeftButton, RULER_H // 2, 200) + 200 * per_px) < 0.05
    # the middle button pans over a lane too, where the left one would scrub
    assert abs(drag(Qt.MouseButton.MiddleButton, y, 100) + 100 * per_px) < 0.05
    qtbot.wait(300)
    assert player.path is None and view.scrub is None and not player.playing

    def wheel(angle: QPoint, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
        at = QPointF(x0, y)
        QApplication.sendEvent(view, QWheelEvent(
            at, view.mapToGlobal(at), QPoint(), angle, Qt.MouseButton.NoButton, modifiers,
            Qt.ScrollPhase.NoScrollPhase, False))

    span, begin = view.span_s, view.begin
    wheel(QPoint(0, -120), Qt.KeyboardModifier.ShiftModifier)  # shift+wheel back: later
    assert view.span_s == span and abs((view.begin - begin).total_seconds() - span / 10) < 1e-3
    wheel(QPoint(120, 0))  # a horizontal wheel: earlier again
    assert view.span_s == span and abs((view.begin - begin).total_seconds()) < 1e-3
    wheel(QPoint(0, -120))  # the plain wheel still zooms (out)
    assert view.span_s > span


def rolled_over(qtbot, station, tag: str):
    """A source recorded 3.2 s under `tag` in 1 s files: (source id, its first three records)."""
    station.recorder.set_segment_s(1.0)
    src = online_source(station)
    record(qtbot, station, src, tag, 3.2)
    records = sorted(station.recordings.find(tag_name=tag), key=lambda r: r.begin_utc)
    assert len(records) >= 3, [r.begin_utc for r in records]
    return src, records[:3]


def test_rolled_over_files_play_on_as_one(qtbot, station, browser):
    src, (first, second, third) = rolled_over(qtbot, station, "rolled")
    timeline, view, player = browser.timeline, browser.timeline.view, browser.player
    show(qtbot, browser, parse_utc(first.begin_utc) - timedelta(seconds=1), 8.0)
    assert timeline.following(src, timeline.record_at(src, parse_utc(first.begin_utc))).id == second.id

    paths, ends = [], []
    player.advanced.connect(paths.append)
    player._relay.message.connect(lambda m: ends.append(m) if m[0] == "ended" else None)
    start = parse_utc(first.begin_utc) + timedelta(seconds=0.5)
    assert timeline.play_at(src, start)
    qtbot.waitUntil(lambda: paths[:2] == [second.location, third.location], timeout=8000)
    assert player.playing and not ends  # no stop at either file boundary
    assert timeline.current[1].id == third.id
    # the playhead follows into the third file
    qtbot.waitUntil(lambda: view.playhead is not None
                    and view.playhead >= parse_utc(third.begin_utc), timeout=3000)


class Elsewhere(RecordFiles):
    """This station's own records taken for another station's: read through the real
    `RecordFiles.target` from the owner's API (this station's own server), as a site's
    second station's would be."""

    def is_remote(self, record) -> bool:
        return True


def test_another_stations_rolled_over_files_play_on_from_its_api(qtbot, station, api_server,
                                                                  browser):
    station.site.announce(api_server.url.rstrip("/"))
    src, (first, second, third) = rolled_over(qtbot, station, "away")
    timeline, view, player = browser.timeline, browser.timeline.view, browser.player
    timeline.files = Elsewhere(station)
    show(qtbot, browser, parse_utc(first.begin_utc) - timedelta(seconds=1), 8.0)
    y = lane_y(view.lanes.index(timeline.lane(src)))

    # a thumbnail read over HTTP
    qtbot.mouseMove(view, QPoint(round(view.x_of(parse_utc(second.begin_utc)
                                                 + timedelta(seconds=0.5))), y))
    qtbot.waitUntil(lambda: timeline.thumb.isVisible(), timeout=8000)

    paths, ends = [], []
    player.advanced.connect(paths.append)
    player._relay.message.connect(lambda m: ends.append(m) if m[0] == "ended" else None)
    assert timeline.play_at(src, parse_utc(first.begin_utc) + timedelta(seconds=0.5))
    qtbot.waitUntil(lambda: player.remote is not None and player.playing, timeout=8000)
    assert player.remote.url == f"{api_server.url.rstrip('/')}/api/v1/record/{first.id}/video"
    assert str(player.path) == first.location and "on " in player.view.caption
    # the next files, located on the task runner, queued and gone on into without a stop
    qtbot.waitUntil(lambda: paths[:2] == [second.location, third.location], timeout=10000)
    assert player.playing and not ends
    assert timeline.current[1].id == third.id and str(player.path) == third.location
    # the player says where the file it went on into is read from
    assert player.remote.url == f"{api_server.url.rstrip('/')}/api/v1/record/{third.id}/video"
    qtbot.waitUntil(lambda: view.playhead is not None
                    and view.playhead >= parse_utc(third.begin_utc), timeout=3000)


def test_b_in_the_player_bookmarks_the_instant_and_a_shift_drag_selects(qtbot, station, browser):
    src = online_source(station)
    (a,) = record(qtbot, station, src, "t", 2.0)
    a_begin = parse_utc(a.begin_utc)
    timeline, view, player = browser.timeline, browser.timeline.view, browser.player
    show(qtbot, browser, a_begin - timedelta(seconds=1), 6.0)
    assert timeline.play_at(src, a_begin + timedelta(seconds=0.8))
    qtbot.waitUntil(lambda: player.frames_shown > 0, timeout=5000)
    player.pause()
    qtbot.waitUntil(lambda: not player.playing, timeout=3000)
    position = player.position
    player.bookmark_requested.emit(position)  # what `B` in the player does
    dialog = browser.bookmark_dialog
    assert dialog is not None and dialog.title_edit.text() == "Bookmark"
    dialog.title_edit.setText("door opens")
    dialog.accept()
    qtbot.waitUntil(lambda: station.bookmarks.search(source_id=src) != [], timeout=5000)
    (mark,) = station.bookmarks.search(source_id=src)
    assert mark.title == "door opens"
    at = parse_utc(mark.time_utc)
    assert abs((at - (a_begin + timedelta(seconds=position))).total_seconds()) < 0.002
    qtbot.waitUntil(lambda: [m.title for m in timeline.lane(src).spans.bookmarks] == ["door opens"],
                    timeout=5000)

    chosen = []
    timeline.range_selected.connect(lambda ids, begin, end: chosen.append((ids, begin, end)))
    y = lane_y(view.lanes.index(timeline.lane(src)))
    x0, x1 = round(view.x_of(a_begin)), round(view.x_of(a_begin + timedelta(seconds=1.5)))
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, QPoint(x0, y))
    for x in range(x0, x1 + 1, max(1, (x1 - x0) // 5)):
        qtbot.mouseMove(view, QPoint(x, y))
    qtbot.mouseMove(view, QPoint(x1, y))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, QPoint(x1, y))
    assert len(chosen) == 1
    ids, begin, end = chosen[0]
    assert ids == [src]
    assert abs((begin - view.time_at(x0)).total_seconds()) < 1e-3
    assert abs((end - view.time_at(x1)).total_seconds()) < 1e-3


def test_b_on_a_focused_live_tile_bookmarks_now(qtbot, station, api_server):
    ensure_application()
    for name in ("left", "right"):
        station.sources.create(SourceIn(name=name, uri_rtsp=TESTSRC))
    with open_main_window(qtbot, station, api_server.url, tiles=2) as window:
        right = next(s.id for s in station.sources.list() if s.name == "right")
        tile = window.wall.tiles[right]
        qtbot.mouseDClick(tile, Qt.MouseButton.LeftButton)
        assert window.wall.focused == right
        before = datetime.now(timezone.utc)
        qtbot.keyClick(window, Qt.Key.Key_B)
        dialog = window.bookmark_dialog
        assert dialog is not None and dialog.title_edit.text() == "Bookmark"
        dialog.note_edit.setPlainText("someone at the door")
        dialog.accept()
        qtbot.waitUntil(lambda: station.bookmarks.search() != [], timeout=5000)
        (mark,) = station.bookmarks.search()
        assert (mark.source_id, mark.source_name, mark.title, mark.note) == (
            right, "right", "Bookmark", "someone at the door")
        assert before <= parse_utc(mark.time_utc) + timedelta(milliseconds=1) <= datetime.now(timezone.utc)
        qtbot.waitUntil(lambda: any(  # the GUI's change is in the audit trail (written queued)
            e.action == "create bookmark" and e.target.startswith(f"bookmark Bookmark ({mark.id})")
            for e in station.audit.list(dialect="gui").items), timeout=5000)
