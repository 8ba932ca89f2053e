"""A timeline that explains itself (#25 item 3), offscreen Qt against a real in-process station
with records placed hours apart (real small files): it opens on the span of what the table
lists (zoom to fit, with timeline_view.fit_range's margin), the Fit button and the key F fit
again, a change of the filters fits what is then listed; the legend names each tag present and
the marks; the hover thumbnail stands beside the pointer and is hidden while a context menu is
open; a selected range is let go once exported (and by Escape); the bookmarks are beside the
timeline, both in view; the Tag column's tool tip names the whole tag."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication

from app.audited import AuditedStation
from tests.support.placed_records import place_record, quiet_source
from ui.application import ensure_application
from ui.bridge import EventBridge
from ui.recordings.recordings import RecordingsBrowser
from ui.recordings.recordings_model import COL_TAG
from ui.recordings.timeline_thumb import GAP_PX
from ui.recordings.timeline_view import (
    FIT_MARGIN,
    FIT_MARGIN_MIN_S,
    LANE_H,
    MIN_SPAN_S,
    RULER_H,
    parse_utc,
    tag_colour,
)
from ui.tasks import TaskRunner

LONG_TAG = "motion-front-door-automatic-night"


@pytest.fixture
def spread(station, tmp_path):
    """Records of two sources over three hours: far wider than the timeline's old default
    (the last hour), the oldest outside it."""
    folder = tmp_path / "spread"
    folder.mkdir()
    front, back = quiet_source(station, "front"), quiet_source(station, "back")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    ids = {"alpha": place_record(station, folder, front, "alpha", now - timedelta(hours=3)),
           "beta": place_record(station, folder, back, "beta", now - timedelta(minutes=70)),
           LONG_TAG: place_record(station, folder, front, LONG_TAG, now - timedelta(minutes=9))}
    return {"sources": (front, back), "ids": ids}


@pytest.fixture
def browser(qtbot, station, spread):
    ensure_application()
    bridge, tasks = EventBridge(station.bus), TaskRunner()
    widget = RecordingsBrowser(AuditedStation(station, who="tester"), bridge, tasks)
    qtbot.addWidget(widget)
    widget.resize(1300, 860)
    widget.show()
    qtbot.waitUntil(lambda: widget.loads > 0, timeout=5000)
    yield widget
    widget.shutdown()
    tasks.shutdown()
    bridge.close()


def expected_fit(station, record_ids) -> tuple[datetime, datetime]:
    records = [station.recordings.get(i) for i in record_ids]
    first = min(parse_utc(r.begin_utc) for r in records)
    last = max(parse_utc(r.end_utc) for r in records)
    margin = timedelta(seconds=max(FIT_MARGIN_MIN_S, (last - first).total_seconds() * FIT_MARGIN))
    return first - margin, last + margin


def assert_view(view, begin: datetime, end: datetime, tolerance_s: float = 0.01) -> None:
    assert abs((view.begin - begin).total_seconds()) <= tolerance_s, (view.begin, begin)
    assert abs((view.end - end).total_seconds()) <= tolerance_s, (view.end, end)


def wait_spans(qtbot, timeline) -> None:
    qtbot.waitUntil(lambda: not timeline.loading and timeline.view.lanes
                    and all(lane.spans is not None for lane in timeline.view.lanes), timeout=5000)


def test_opens_on_what_is_listed_and_fits_again_on_f_the_button_and_a_filter(
        qtbot, station, spread, browser):
    timeline, view = browser.timeline, browser.timeline.view
    ids = spread["ids"]
    begin, end = expected_fit(station, ids.values())
    assert_view(view, begin, end)  # opened on the three hours, not on the last hour
    assert (end - begin) > timedelta(hours=3)

    view.zoom(0.05)  # the operator zooms in a long way ...
    assert view.span_s < 3600
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_F)  # ... and F shows everything listed again
    assert_view(view, begin, end)
    view.pan_by(0.5)
    timeline.fit_button.click()
    assert_view(view, begin, end)

    # a filter lists one record of two seconds: the closest zoom, centred on it
    loads = browser.loads
    browser.tag_box.setCurrentIndex(browser.tag_box.findData("beta"))
    qtbot.waitUntil(lambda: browser.loads > loads and not browser.loading, timeout=5000)
    beta = station.recordings.get(ids["beta"])
    middle = parse_utc(beta.begin_utc) + (parse_utc(beta.end_utc) - parse_utc(beta.begin_utc)) / 2
    assert view.span_s == MIN_SPAN_S
    assert_view(view, middle - timedelta(seconds=MIN_SPAN_S / 2),
                middle + timedelta(seconds=MIN_SPAN_S / 2))


def test_the_legend_names_each_tag_present_and_the_marks(qtbot, station, spread, browser):
    timeline = browser.timeline
    wait_spans(qtbot, timeline)
    qtbot.waitUntil(lambda: len(timeline.legend.tags) == 3, timeout=5000)
    entries = timeline.legend.entries()
    assert entries[:3] == sorted(["alpha", "beta", LONG_TAG])
    for mark in ("no recording (gap)", "bookmark", "alarm", "warning", "info", "motion",
                 "constant motion"):
        assert mark in entries
    text = timeline.legend.text()
    for tag in ("alpha", "beta", LONG_TAG):  # each in the colour its bars are painted in
        assert f"color:{tag_colour(tag).name()}'>■</span>&nbsp;{tag}" in text
    assert timeline.legend.isVisible()

    # only the tags of what was read: zoomed on beta's record, the legend says beta alone
    beta = station.recordings.get(spread["ids"]["beta"])
    loads = timeline.loads
    timeline.view.show_range(parse_utc(beta.begin_utc) - timedelta(seconds=5), 12.0)
    qtbot.waitUntil(lambda: timeline.loads > loads and not timeline.loading, timeout=5000)
    assert timeline.legend.tags == ["beta"]


def test_the_thumbnail_stands_beside_the_pointer_and_never_under_a_menu(qtbot, station, spread,
                                                                         browser):
    timeline, view = browser.timeline, browser.timeline.view
    record = station.recordings.get(spread["ids"]["beta"])
    loads = timeline.loads
    view.show_range(parse_utc(record.begin_utc) - timedelta(seconds=1), 4.0)
    qtbot.waitUntil(lambda: timeline.loads > loads and not timeline.loading, timeout=5000)
    lane = view.lanes.index(timeline.lane(record.source.id))
    pointer = QPoint(round(view.x_of(parse_utc(record.begin_utc) + timedelta(seconds=1))),
                     RULER_H + lane * LANE_H + LANE_H // 2)
    thumb = timeline.thumb
    qtbot.mouseMove(view, pointer)
    qtbot.waitUntil(thumb.isVisible, timeout=5000)
    at = view.mapToGlobal(pointer)
    box = thumb.frameGeometry()
    assert not box.contains(at)  # never under the pointer ...
    assert box.left() >= at.x() + GAP_PX or box.right() <= at.x() - GAP_PX  # ... beside it
    assert box.top() <= at.y() <= box.bottom() or box.top() == view.screen().availableGeometry().top()

    # a context menu: the thumbnail goes, and hovering asks for none while it is open
    QApplication.sendEvent(view, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pointer, at))
    qtbot.waitUntil(lambda: timeline.menu is not None and timeline.menu.isVisible(), timeout=3000)
    assert not thumb.isVisible()
    qtbot.mouseMove(view, pointer + QPoint(3, 0))
    assert not thumb.isVisible() and thumb._wanted is None and not thumb._busy
    timeline.menu.hide()
    qtbot.mouseMove(view, pointer)
    qtbot.waitUntil(thumb.isVisible, timeout=5000)
    browser.top_split.hide()  # a window of its own: it goes when the timeline does
    assert not thumb.isVisible()


def test_a_selected_range_is_let_go_once_exported_and_on_escape(qtbot, station, spread, browser):
    timeline, view = browser.timeline, browser.timeline.view
    record = station.recordings.get(spread["ids"]["alpha"])
    loads = timeline.loads
    view.show_range(parse_utc(record.begin_utc) - timedelta(seconds=2), 10.0)
    qtbot.waitUntil(lambda: timeline.loads > loads and not timeline.loading, timeout=5000)
    y = RULER_H + view.lanes.index(timeline.lane(record.source.id)) * LANE_H + LANE_H // 2

    def select(x0: int, x1: int) -> None:
        shift = Qt.KeyboardModifier.ShiftModifier
        qtbot.mousePress(view, Qt.MouseButton.LeftButton, shift, QPoint(x0, y))
        qtbot.mouseMove(view, QPoint(x1, y))
        qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, shift, QPoint(x1, y))
        assert view.selection is not None

    x0, x1 = round(view.x_of(parse_utc(record.begin_utc))), round(view.x_of(parse_utc(record.end_utc)))
    select(x0, x1)
    middle = QPoint((x0 + x1) // 2, y)
    QApplication.sendEvent(view, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, middle,
                                                   view.mapToGlobal(middle)))
    qtbot.waitUntil(lambda: timeline.menu is not None and timeline.menu.isVisible(), timeout=3000)
    export = next(a for a in timeline.menu.actions() if a.text() == "Export…")
    timeline.menu.hide()
    export.trigger()
    assert view.selection is None  # used: no longer drawn as selected
    dialog = timeline.export_dialog
    assert dialog is not None and dialog.source_ids == [record.source.id]
    dialog.reject()

    select(x0, x1)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert view.selection is None


def test_bookmarks_beside_the_timeline_and_whole_tag_names(qtbot, station, spread, browser):
    timeline, bookmarks = browser.timeline, browser.bookmarks
    assert timeline.isVisible() and bookmarks.isVisible()  # both at once: no tabs
    left = timeline.mapTo(browser, QPoint(0, 0))
    right = bookmarks.mapTo(browser, QPoint(0, 0))
    assert right.x() >= left.x() + timeline.width()  # beside it, not over it
    assert abs(right.y() - left.y()) <= 2 and timeline.width() > bookmarks.width()

    row = browser.model.row_of(spread["ids"][LONG_TAG])
    tip = browser.model.index(row, COL_TAG).data(Qt.ItemDataRole.ToolTipRole)
    assert tip.splitlines()[0] == f"Tag: {LONG_TAG}"
    shown = browser.table.fontMetrics().horizontalAdvance(LONG_TAG)
    assert shown > browser.table.columnWidth(COL_TAG)  # the column does cut it: the tip is needed


def test_a_station_with_nothing_listed_yet_fits_to_its_first_records(qtbot, station, tmp_path):
    """Found by hand on a new station: the tab opened on an empty list, so nothing was fitted,
    and the first recordings stayed slivers at the end of the last hour. The first records to
    be listed are fitted to; after that a new record leaves the view where it is."""
    ensure_application()
    bridge, tasks = EventBridge(station.bus), TaskRunner()
    widget = RecordingsBrowser(AuditedStation(station, who="tester"), bridge, tasks)
    qtbot.addWidget(widget)
    widget.resize(1300, 860)
    widget.show()
    try:
        qtbot.waitUntil(lambda: widget.loads > 0 and not widget.loading, timeout=5000)
        view = widget.timeline.view
        assert view.span_s == 3600.0  # nothing listed: the last hour
        folder = tmp_path / "first"
        folder.mkdir()
        source = quiet_source(station, "new")
        now = datetime.now(timezone.utc).replace(microsecond=0)
        first = place_record(station, folder, source, "first", now - timedelta(minutes=20))
        loads = widget.loads
        widget.reload()
        qtbot.waitUntil(lambda: widget.loads > loads and not widget.loading, timeout=5000)
        record = station.recordings.get(first)
        assert view.span_s < 60  # a record of seconds, not the hour around it
        assert view.begin <= parse_utc(record.begin_utc) and parse_utc(record.end_utc) <= view.end
        fitted = (view.begin, view.end)
        later = place_record(station, folder, source, "later", now - timedelta(minutes=5))
        loads = widget.loads
        widget.reload()
        qtbot.waitUntil(lambda: widget.loads > loads and not widget.loading, timeout=5000)
        assert station.recordings.get(later).id == later
        assert_view(view, *fitted)  # fitted once: a new record does not move the view
    finally:
        widget.shutdown()
        tasks.shutdown()
        bridge.close()


def test_a_selection_across_lanes_plays_those_cameras_together(qtbot, station, spread, browser):
    """#25 item 2's multi-selection on the timeline: a shift-drag down two lanes, then "Play
    these 2 cameras together" asks the playback for both cameras from the selection's begin
    (the main window connects it to ui.playback's launcher); without a selection every lane
    is offered from the clicked moment."""
    timeline, view = browser.timeline, browser.timeline.view
    beta = station.recordings.get(spread["ids"]["beta"])
    loads = timeline.loads
    view.show_range(parse_utc(beta.begin_utc) - timedelta(seconds=2), 10.0)
    qtbot.waitUntil(lambda: timeline.loads > loads and not timeline.loading, timeout=5000)
    assert len(view.lanes) == 2
    ys = [RULER_H + i * LANE_H + LANE_H // 2 for i in range(2)]
    x0, x1 = round(view.x_of(parse_utc(beta.begin_utc))), round(view.x_of(parse_utc(beta.end_utc)))
    shift = Qt.KeyboardModifier.ShiftModifier
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, shift, QPoint(x0, ys[0]))
    qtbot.mouseMove(view, QPoint(x1, ys[1]))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, shift, QPoint(x1, ys[1]))
    first = view.selection[0]

    def menu_at(point: QPoint):
        QApplication.sendEvent(view, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, point,
                                                       view.mapToGlobal(point)))
        qtbot.waitUntil(lambda: timeline.menu is not None and timeline.menu.isVisible(),
                        timeout=3000)
        menu = timeline.menu
        menu.hide()
        return {a.text(): a for a in menu.actions()}

    actions = menu_at(QPoint((x0 + x1) // 2, ys[1]))
    with qtbot.waitSignal(timeline.cameras_play_requested, timeout=2000) as asked:
        actions["Play these 2 cameras together"].trigger()
    assert sorted(asked.args[0]) == sorted(lane.source_id for lane in view.lanes)
    assert asked.args[1] == first and view.selection is None
    actions = menu_at(QPoint(x0, ys[0]))
    with qtbot.waitSignal(timeline.cameras_play_requested, timeout=2000) as asked:
        actions["Play every camera together from here"].trigger()
    assert len(asked.args[0]) == 2 and abs((asked.args[1] - view.time_at(x0)).total_seconds()) < 1
