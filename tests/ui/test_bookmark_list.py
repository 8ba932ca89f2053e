"""The Recordings tab's bookmark list against a real running core (offscreen Qt): real
bookmarks on a real record of a test pattern are listed newest first, the search keeps only
those whose title or note matches, a double-click plays that very instant (the timeline
first shows it when it is out of view), the context menus (the list's, and the timeline's
near a bookmark's flag) open the Export dialog on the minute around it, and Delete deletes
it. Checked on the player's own position, the dialog's times and the catalog."""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMenu

from app.schemas import BookmarkIn
from tests.ui.test_timeline import browser, lane_y, online_source, record, show  # noqa: F401
from ui.recordings.export_dialog import ExportDialog, from_qt
from ui.recordings.timeline_view import parse_utc


def titles(bookmarks) -> list[str]:
    return [bookmarks.bookmark_at(row).title for row in range(bookmarks.table.rowCount())]


def menu_action(qtbot, owner, text: str):
    """The action called `text` of the context menu `owner` has just popped up."""
    qtbot.waitUntil(lambda: any(m.isVisible() for m in owner.findChildren(QMenu)), timeout=3000)
    menu = next(m for m in owner.findChildren(QMenu) if m.isVisible())
    texts = [a.text() for a in menu.actions()]
    menu.hide()
    return next((a for a in menu.actions() if a.text() == text), None), texts


def right_click_row(bookmarks, row: int) -> None:
    rect = bookmarks.table.visualRect(bookmarks.table.model().index(row, 2))
    bookmarks.table.customContextMenuRequested.emit(rect.center())


def assert_around(dialog: ExportDialog, moment, source_id: int) -> None:
    assert dialog.source_ids == [source_id]
    begin, end = from_qt(dialog.begin_edit.dateTime()), from_qt(dialog.end_edit.dateTime())
    assert abs((begin - (moment - timedelta(seconds=30))).total_seconds()) < 0.002
    assert abs((end - (moment + timedelta(seconds=30))).total_seconds()) < 0.002


def test_listed_searched_and_a_double_click_plays_that_instant(qtbot, station, browser):  # noqa: F811
    src = online_source(station)
    (a,) = record(qtbot, station, src, "alpha", 3.0)
    a_begin = parse_utc(a.begin_utc)
    for seconds, title, note in ((0.5, "truck", "plate ABC"), (1.5, "door opens", "north gate"),
                                 (2.5, "gate", "the DOOR closes")):
        station.bookmarks.create(BookmarkIn(source_id=src, title=title, note=note,
                                            time_utc=a_begin + timedelta(seconds=seconds)))
    bookmarks = browser.bookmarks
    qtbot.waitUntil(lambda: titles(bookmarks) == ["gate", "door opens", "truck"], timeout=5000)
    assert bookmarks.table.item(1, 1).text() == "cam"
    assert bookmarks.table.item(1, 3).text() == "north gate"

    # the search keeps those with the text in the title or the note, case aside
    assert bookmarks.isVisible() and browser.timeline.isVisible()  # side by side, no tabs
    qtbot.keyClicks(bookmarks.search_edit, "door")
    qtbot.waitUntil(lambda: titles(bookmarks) == ["gate", "door opens"], timeout=5000)
    bookmarks.search_edit.setText("plate")
    qtbot.waitUntil(lambda: titles(bookmarks) == ["truck"], timeout=5000)
    bookmarks.search_edit.setText("door opens")
    qtbot.waitUntil(lambda: titles(bookmarks) == ["door opens"], timeout=5000)

    # the timeline looks a day away: a double-click shows the moment there and plays it
    timeline = browser.timeline
    show(qtbot, browser, a_begin - timedelta(days=1), 60.0)
    positions = []
    browser.player.position_changed.connect(positions.append)
    rect = bookmarks.table.visualRect(bookmarks.table.model().index(0, 2))
    qtbot.mouseClick(bookmarks.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(bookmarks.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: browser.player.playing and len(positions) >= 2, timeout=8000)
    moment = a_begin + timedelta(seconds=1.5)
    assert str(browser.player.path) == a.location
    assert timeline.view.begin <= moment <= timeline.view.end
    assert abs(positions[0] - 1.5) <= 0.05, positions  # gop=1: that very frame
    assert positions[1] > positions[0]


def test_export_around_from_the_list_and_the_timeline_and_delete(qtbot, station, browser):  # noqa: F811
    src = online_source(station)
    (a,) = record(qtbot, station, src, "beta", 2.0)
    moment = parse_utc(a.begin_utc) + timedelta(seconds=1.0)
    mark = station.bookmarks.create(BookmarkIn(source_id=src, time_utc=moment, title="here"))
    bookmarks, timeline = browser.bookmarks, browser.timeline
    qtbot.waitUntil(lambda: titles(bookmarks) == ["here"], timeout=5000)

    # the list's menu
    right_click_row(bookmarks, 0)
    action, texts = menu_action(qtbot, bookmarks, "Export around this bookmark…")
    assert texts[:2] == ["Play", "Export around this bookmark…"] and "Delete bookmark" in texts
    action.trigger()  # the window is the bookmark service's, asked on the task runner
    qtbot.waitUntil(lambda: isinstance(bookmarks.export_dialog, ExportDialog)
                    and bookmarks.export_dialog.isVisible(), timeout=5000)
    assert_around(bookmarks.export_dialog, moment, src)
    bookmarks.export_dialog.reject()

    # the timeline's menu, on the flag and well away from it
    show(qtbot, browser, moment - timedelta(seconds=5), 10.0)
    view = timeline.view
    y = lane_y(view.lanes.index(timeline.lane(src)))
    for dx, offered in ((3, True), (80, False)):
        near = view.time_at(view.x_of(moment) + dx)
        view.context_requested.emit(src, near, view.mapToGlobal(QPoint(int(view.x_of(near)), y)))
        action, texts = menu_action(qtbot, timeline, "Export around this bookmark…")
        assert (action is not None) == offered, (dx, texts)
        if offered:
            action.trigger()
            qtbot.waitUntil(lambda: timeline.export_dialog is not None
                            and timeline.export_dialog.isVisible(), timeout=5000)
            assert_around(timeline.export_dialog, moment, src)
            timeline.export_dialog.reject()

    # Delete: gone from the catalog and from the list
    right_click_row(bookmarks, 0)
    action, _texts = menu_action(qtbot, bookmarks, "Delete bookmark")
    action.trigger()
    qtbot.waitUntil(lambda: titles(bookmarks) == [], timeout=5000)
    assert station.bookmarks.search() == []
    assert all(m.id != mark.id for m in station.bookmarks.search(source_id=src))
