"""Selection that works (#25 item 1), offscreen Qt against a real in-process station: a real
mouse click on a Recordings row (on the viewport, at the row's rectangle) selects it, fills
the details and enables what can be done with it in the toolbar, the context menu and the
Delete key; the keyboard moves it; a record played from the timeline becomes the selected
row; "Save a copy" goes through the recording service and is audited as "copy footage". The
bookmarks list and the events list select with the mouse and the keyboard too. Records are
placed in the catalog with real small files (tests/support/placed_records), so no test
waits for footage to be recorded."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from PySide6.QtCore import QPoint, Qt

from app.audited import AuditedStation
from app.models import StationEvent
from app.schemas import BookmarkIn
from tests.support.placed_records import place_record, quiet_source
from ui.alarms.events_panel import EventsPanel
from ui.application import ensure_application
from ui.bridge import EventBridge
from ui.recordings.recordings import RecordingsBrowser
from ui.recordings.recordings_model import COL_SOURCE, COL_TAG
from ui.recordings.timeline_view import LANE_H, RULER_H, parse_utc
from ui.tasks import TaskRunner

ROW_ACTIONS = ("act_play", "act_folder", "act_save", "act_protect", "act_sync", "act_copy_md5",
               "act_copy_path", "act_delete")


@pytest.fixture
def placed(station, tmp_path):
    """Two sources, three finished records minutes apart (newest listed first)."""
    folder = tmp_path / "placed"
    folder.mkdir()
    front, back = quiet_source(station, "front"), quiet_source(station, "back")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    ids = [place_record(station, folder, front, "alpha", now - timedelta(minutes=20)),
           place_record(station, folder, back, "beta", now - timedelta(minutes=12)),
           place_record(station, folder, front, "motion-front-door-automatic",
                        now - timedelta(minutes=4))]
    return {"sources": (front, back), "ids": ids}


@pytest.fixture
def audited_browser(qtbot, station, placed):
    """The browser as the main window builds it: on the audited station."""
    ensure_application()
    bridge, tasks = EventBridge(station.bus), TaskRunner()
    widget = RecordingsBrowser(AuditedStation(station, who="tester"), bridge, tasks)
    qtbot.addWidget(widget)
    widget.resize(1300, 860)
    widget.show()
    qtbot.waitUntil(lambda: widget.loads > 0 and widget.timeline.loads > 0, timeout=5000)
    yield widget
    widget.shutdown()
    tasks.shutdown()
    bridge.close()


def click_row(qtbot, table, row: int, col: int = COL_SOURCE) -> None:
    rect = table.visualRect(table.model().index(row, col))
    assert rect.isValid() and not rect.isEmpty(), "the row is not on screen"
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def enabled(browser) -> dict[str, bool]:
    return {name: getattr(browser, name).isEnabled() for name in ROW_ACTIONS}


def test_a_click_selects_the_row_and_enables_its_actions_everywhere(qtbot, station, placed,
                                                                    audited_browser, tmp_path):
    browser, table = audited_browser, audited_browser.table
    older, middle, newest = placed["ids"]
    assert browser.selected_record() is None
    assert not any(enabled(browser).values())

    click_row(qtbot, table, browser.model.row_of(middle))
    assert browser.selected_record().id == middle
    assert browser._detail_labels["Record"].text() == middle
    assert browser._detail_labels["File"].text() == station.recordings.get(middle).location
    assert all(enabled(browser).values()), enabled(browser)
    # the toolbar's buttons and the context menu show these very actions
    assert {browser.act_play, browser.act_delete, browser.act_save} <= set(table.actions())
    # ... and the Delete key asks about this record (Cancel: nothing deleted)
    browser.activateWindow()  # the toolbar's key shortcuts act in the active window
    table.setFocus()
    qtbot.waitUntil(table.hasFocus, timeout=3000)
    qtbot.keyClick(table, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: browser.confirm_box is not None, timeout=3000)
    assert middle in browser.confirm_box.informativeText() or \
        station.recordings.get(middle).location in browser.confirm_box.informativeText()
    browser.confirm_box.reject()
    qtbot.waitUntil(lambda: browser.message.text() == "Nothing deleted.", timeout=3000)

    # another click moves the selection, the keyboard too
    click_row(qtbot, table, browser.model.row_of(newest), COL_TAG)
    assert browser.selected_record().id == newest
    assert browser._detail_labels["Record"].text() == newest
    qtbot.keyClick(table, Qt.Key.Key_Down)
    assert browser.selected_record().id == middle
    qtbot.keyClick(table, Qt.Key.Key_Return)  # Return plays the selected record
    qtbot.waitUntil(lambda: browser.player.playing and browser.player.frames_shown >= 2,
                    timeout=5000)
    assert str(browser.player.path) == station.recordings.get(middle).location

    # Save a copy: the service copies it and the audit trail says so, by record
    copy = tmp_path / "copy.mp4"
    browser.ask_save_path = lambda _suggested: str(copy)
    browser.act_save.trigger()
    qtbot.waitUntil(lambda: "Saved copy.mp4" in browser.message.text(), timeout=5000)
    assert hashlib.md5(copy.read_bytes()).hexdigest() == station.recordings.get(middle).hash_md5
    entries = station.audit.list(action="copy footage").items
    assert [(e.dialect, e.who, e.result) for e in entries] == [("gui", "tester", "ok")]
    assert middle[:8] in entries[0].target  # the record, as the trail names it


def test_a_record_played_from_the_timeline_becomes_the_selected_row(qtbot, station, placed,
                                                                     audited_browser):
    browser, timeline, view = audited_browser, audited_browser.timeline, audited_browser.timeline.view
    record = station.recordings.get(placed["ids"][1])
    begin = parse_utc(record.begin_utc)
    moment = begin + timedelta(seconds=1.0)
    # a bookmark and an event at that instant: the click selects them in their lists too
    mark = station.bookmarks.create(BookmarkIn(source_id=record.source.id, time_utc=moment,
                                               title="here"))
    with station.catalog.session() as s:
        row = StationEvent(kind="motion", source_id=record.source.id, severity="warning",
                           begin=begin + timedelta(seconds=0.5), end=begin + timedelta(seconds=1.5),
                           text="motion")
        s.add(row)
        s.commit()
        event_id = row.id
    events_bridge = EventBridge(station.bus)
    panel = EventsPanel(station, events_bridge, browser.tasks)
    qtbot.addWidget(panel)
    timeline.event_clicked.connect(panel.select_event)  # as the main window wires them
    qtbot.waitUntil(lambda: panel.row_of(event_id) >= 0
                    and browser.bookmarks.table.rowCount() == 1, timeout=5000)
    loads = timeline.loads
    view.show_range(begin - timedelta(seconds=2), 8.0)
    qtbot.waitUntil(lambda: timeline.loads > loads and not timeline.loading, timeout=5000)
    lane = view.lanes.index(timeline.lane(record.source.id))
    positions: list[float] = []
    browser.player.position_changed.connect(positions.append)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton,
                     pos=QPoint(round(view.x_of(moment)), RULER_H + lane * LANE_H + LANE_H // 2))
    qtbot.waitUntil(lambda: browser.player.playing and len(positions) >= 2, timeout=5000)
    assert browser.selected_record() is not None and browser.selected_record().id == record.id
    assert browser._detail_labels["Record"].text() == record.id
    assert browser.act_delete.isEnabled() and browser.act_save.isEnabled()
    # selecting the row did not open the file again from its start
    assert str(browser.player.path) == record.location
    assert abs(positions[0] - 1.0) <= 0.15, positions
    assert browser.bookmarks.selected().id == mark.id
    assert [e.id for e in panel.selected_events()] == [event_id]
    panel.shutdown()
    events_bridge.close()


def test_the_bookmarks_list_selects_with_the_mouse_and_the_keyboard(qtbot, station, placed,
                                                                    audited_browser):
    browser, bookmarks = audited_browser, audited_browser.bookmarks
    front, _back = placed["sources"]
    first = station.recordings.get(placed["ids"][0])
    early = station.bookmarks.create(BookmarkIn(
        source_id=front, time_utc=parse_utc(first.begin_utc) + timedelta(seconds=0.5),
        title="early"))
    late = station.bookmarks.create(BookmarkIn(
        source_id=front, time_utc=parse_utc(first.begin_utc) + timedelta(seconds=1.5),
        title="late"))
    qtbot.waitUntil(lambda: bookmarks.table.rowCount() == 2, timeout=5000)
    assert bookmarks.selected() is None
    assert not bookmarks.play_button.isEnabled() and not bookmarks.delete_button.isEnabled()

    click_row(qtbot, bookmarks.table, 1, 2)  # newest first: "early" is the second row
    assert bookmarks.selected().id == early.id
    assert bookmarks.play_button.isEnabled() and bookmarks.export_button.isEnabled()
    assert bookmarks.delete_button.isEnabled()
    qtbot.keyClick(bookmarks.table, Qt.Key.Key_Up)
    assert bookmarks.selected().id == late.id

    # Return plays it (the timeline's path), and the row of its record is selected
    qtbot.keyClick(bookmarks.table, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: browser.player.playing and browser.selected_record() is not None,
                    timeout=5000)
    assert browser.selected_record().id == first.id
    assert abs(browser.timeline.playing_instant()[2] - parse_utc(late.time_utc)) \
        <= timedelta(seconds=0.3)

    # Delete deletes the selected bookmark
    qtbot.keyClick(bookmarks.table, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: bookmarks.table.rowCount() == 1, timeout=5000)
    assert [m.id for m in station.bookmarks.search()] == [early.id]


def test_the_events_list_selects_with_the_mouse_and_plays_with_return(qtbot, station, placed,
                                                                      tasks):
    front, back = placed["sources"]
    bridge = EventBridge(station.bus)
    panel = EventsPanel(AuditedStation(station, who="tester"), bridge, tasks)
    qtbot.addWidget(panel)
    panel.resize(900, 400)
    panel.show()
    one = station.events.instant("recording_failed", source_id=front, text="front: failed")
    two = station.events.instant("recording_failed", source_id=back, text="back: failed")
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=5000)
    assert not panel.ack_button.isEnabled() and not panel.play_button.isEnabled()

    click_row(qtbot, panel.table, panel.row_of(one.id), 3)
    assert [e.id for e in panel.selected_events()] == [one.id]
    assert panel.ack_button.isEnabled() and panel.play_button.isEnabled()
    qtbot.keyClick(panel.table, Qt.Key.Key_Up)  # newest first: `two` is above
    assert [e.id for e in panel.selected_events()] == [two.id]
    with qtbot.waitSignal(panel.play_requested, timeout=3000) as played:
        qtbot.keyClick(panel.table, Qt.Key.Key_Return)
    assert played.args == [back, parse_utc(two.begin)]
    panel.ack_button.click()
    qtbot.waitUntil(lambda: station.events.get(two.id).acknowledged_at is not None, timeout=5000)
    assert station.events.get(one.id).acknowledged_at is None
    panel.shutdown()
    bridge.close()
