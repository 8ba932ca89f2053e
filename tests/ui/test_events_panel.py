"""The Events panel, the status bar's alarm count, the tray's alerts and the timeline's events
strip against a real running core (offscreen Qt): events raised through the event service
appear; an acknowledgement from the GUI is the service's, one through the service shows in
the GUI; acknowledge all; the filters; a double-click plays the moment in the player; only
the kinds ticked in the settings are announced. Checked on the catalog (the service) and on
what the widgets show."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.audited import os_user
from app.models import StationEvent, utcnow
from app.schemas import SourceIn
from tests.support.main_window import open_main_window
from tests.ui.test_timeline import browser, lane_y, online_source, record, show  # noqa: F401
from ui.recordings.timeline_view import parse_utc
from ui.settings_dialog import SettingsDialog


@pytest.fixture
def window(qtbot, station, api_server):
    with open_main_window(qtbot, station, api_server.url) as win:
        yield win


def shown_ids(panel) -> list[int]:
    return [panel.event_at(row).id for row in range(panel.table.rowCount())]


def state_of(panel, event_id: int) -> str:
    row = panel.row_of(event_id)
    return panel.table.item(row, 4).text() if row >= 0 else ""


def test_events_appear_are_acknowledged_both_ways_filtered_and_counted(qtbot, station, window):
    events, panel = station.events, window.events
    src = station.sources.create(SourceIn(name="gate", uri_rtsp="rtsp://127.0.0.1:9/none")).id
    lost = events.open("camera_lost", source_id=src, text="gate: camera lost")
    failed = events.instant("recording_failed", source_id=src, text="gate: recording failed")
    info = events.instant("retention_deleted", text="retention deleted 2 record file(s)")
    motion = events.instant("constant_motion", source_id=src, text="gate: constant motion")
    qtbot.waitUntil(lambda: shown_ids(panel) == [motion.id, info.id, failed.id, lost.id],
                    timeout=15000)
    row = panel.row_of(lost.id)
    assert panel.table.item(row, 1).text() == "camera lost"
    assert panel.table.item(row, 2).text() == "gate"
    assert panel.table.item(row, 3).text() == "gate: camera lost"
    assert state_of(panel, lost.id) == "open · unacknowledged"
    assert panel.table.item(panel.row_of(info.id), 2).text() == "station"
    # the status bar counts the alarms nobody acknowledged (not the info, not the warning)
    qtbot.waitUntil(lambda: window.status.alarm_count == 2, timeout=15000)
    assert panel.loads and window.alarms.unacknowledged == 2
    assert window.status.alarm_button.text() == "⚠ 2 alarms"

    # acknowledged from the GUI: the service has it, as the operator
    def lost_selected() -> bool:  # (selected again if a reload landed in between)
        panel.table.selectRow(panel.row_of(lost.id))
        return panel.ack_button.isEnabled()
    qtbot.waitUntil(lost_selected, timeout=15000)
    qtbot.mouseClick(panel.ack_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: events.get(lost.id).acknowledged_by == os_user(), timeout=15000)
    qtbot.waitUntil(lambda: "acknowledged by " + os_user() in state_of(panel, lost.id),
                    timeout=15000)
    qtbot.waitUntil(lambda: window.status.alarm_count == 1, timeout=15000)
    # and it is in the audit trail, under the one vocabulary's name, as the GUI's
    qtbot.waitUntil(lambda: any(
        e.action == "acknowledge event" and e.dialect == "gui" and e.target == f"event {lost.id}"
        for e in station.audit.list(page_size=50).items), timeout=15000)

    # acknowledged through the service (as the API does): the row follows
    events.acknowledge(failed.id, "api-client")
    qtbot.waitUntil(lambda: "acknowledged by api-client" in state_of(panel, failed.id),
                    timeout=15000)
    qtbot.waitUntil(lambda: window.status.alarm_count == 0, timeout=15000)
    assert window.status.alarm_button.text() == "no alarms"

    # filters: the kind, the open ones, the unacknowledged ones
    panel.kind_box.setCurrentIndex(panel.kind_box.findData("camera_lost"))
    qtbot.waitUntil(lambda: shown_ids(panel) == [lost.id], timeout=15000)
    panel.kind_box.setCurrentIndex(0)
    panel.open_check.setChecked(True)
    qtbot.waitUntil(lambda: shown_ids(panel) == [lost.id], timeout=15000)
    panel.open_check.setChecked(False)
    panel.unacknowledged_check.setChecked(True)
    qtbot.waitUntil(lambda: shown_ids(panel) == [motion.id, info.id], timeout=15000)
    events.acknowledge(motion.id, "api-client")
    qtbot.waitUntil(lambda: shown_ids(panel) == [info.id], timeout=15000)
    panel.source_box.setCurrentIndex(panel.source_box.findData(src))
    qtbot.waitUntil(lambda: shown_ids(panel) == [], timeout=15000)
    panel.source_box.setCurrentIndex(0)
    panel.unacknowledged_check.setChecked(False)

    # acknowledge all, after the confirmation (refused: nothing changes)
    more = [events.instant("disk_low", text=f"disk low {i}") for i in range(3)]
    qtbot.waitUntil(lambda: window.status.alarm_count == 3, timeout=15000)
    panel.ask_acknowledge_all = lambda: False
    qtbot.mouseClick(panel.ack_all_button, Qt.MouseButton.LeftButton)
    assert events.list(unacknowledged=True, limit=10) != []
    panel.ask_acknowledge_all = lambda: True
    qtbot.mouseClick(panel.ack_all_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: events.list(unacknowledged=True, limit=10) == [], timeout=15000)
    qtbot.waitUntil(lambda: all("acknowledged by" in state_of(panel, e.id) for e in more),
                    timeout=15000)
    qtbot.waitUntil(lambda: window.status.alarm_count == 0, timeout=15000)

    # the status bar's count opens the panel
    window.events_dock.hide()
    qtbot.mouseClick(window.status.alarm_button, Qt.MouseButton.LeftButton)
    assert window.events_dock.isVisible()


def test_a_double_click_plays_the_moment_of_the_event(qtbot, station, window):
    src = online_source(station)
    station.recordings.start_sources("desk", [src], origin="test")
    qtbot.wait(1500)
    event = station.events.open("motion", source_id=src, text="cam: motion")
    qtbot.wait(1500)
    (rec,) = station.recordings.stop("desk")
    station.events.close(event.id)
    panel = window.events
    qtbot.waitUntil(lambda: panel.row_of(event.id) >= 0, timeout=15000)
    positions = []
    player = window.recordings.player
    player.position_changed.connect(positions.append)
    rect = panel.table.visualRect(panel.table.model().index(panel.row_of(event.id), 3))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: player.playing and len(positions) >= 2, timeout=8000)
    assert window.tabs.currentWidget() is window.recordings
    assert str(player.path) == rec.location
    offset = (parse_utc(event.begin) - parse_utc(rec.begin_utc)).total_seconds()
    assert abs(positions[0] - offset) <= 1.05, (positions[0], offset)  # gop=1: its keyframe


def test_only_the_ticked_kinds_are_announced_with_the_sound_when_asked(qtbot, station, window,
                                                                       monkeypatch):
    told, beeps = [], []
    monkeypatch.setattr(window.tray, "notify", told.append)
    monkeypatch.setattr(QApplication, "beep", staticmethod(lambda: beeps.append(1)))
    events = station.events
    events.instant("retention_deleted", text="retention deleted 1 record file(s)")  # not ticked
    events.open("camera_lost", source_id=None, text="somewhere: camera lost")
    qtbot.waitUntil(lambda: told == ["somewhere: camera lost"], timeout=15000)
    assert beeps == []  # alert_sound is off by default
    qtbot.waitUntil(lambda: window.status.alarm_count == 1, timeout=15000)

    # the settings dialog's Alerts group: retention ticked, the sound on (the settings service)
    dialog = SettingsDialog(station.settings, window, station=station)
    qtbot.addWidget(dialog)
    dialog.alert_checks["retention_deleted"].setChecked(True)
    dialog.alert_checks["camera_lost"].setChecked(False)
    dialog.fields["alert_sound"][1].setChecked(True)
    dialog.save()
    assert station.settings.alert_kinds == ["recording_failed", "disk_low", "retention_deleted"]
    assert station.settings.alert_sound is True
    events.open("camera_lost", source_id=None, text="elsewhere: camera lost")
    events.instant("retention_deleted", text="retention deleted 3 record file(s)")
    qtbot.waitUntil(lambda: told[-1] == "retention deleted 3 record file(s)", timeout=15000)
    assert "elsewhere: camera lost" not in told and len(beeps) == 1


def test_the_timeline_draws_a_strip_of_the_events(qtbot, station, browser):  # noqa: F811
    src = online_source(station)
    record(qtbot, station, src, "strip", 2.0)
    # the recording's own events are written by the raiser's thread: wait for them first
    qtbot.waitUntil(lambda: {e.kind for e in station.events.list(source_id=src)}
                    >= {"recording_started", "recording_stopped"}, timeout=15000)
    lost = station.events.open("camera_lost", source_id=src, text="cam: camera lost")
    begin = parse_utc(lost.begin)
    show(qtbot, browser, begin - timedelta(seconds=5), 10.0)
    timeline, view = browser.timeline, browser.timeline.view
    qtbot.waitUntil(lambda: lost.id in [e.id for e in timeline.lane(src).spans.events],
                    timeout=15000)
    # the test pattern moves: motion analysis (on by default since #24) may add motion events
    kinds = {e.kind for e in timeline.lane(src).spans.events} - {"motion"}
    assert kinds == {"camera_lost", "recording_started", "recording_stopped"}, kinds
    index = view.lanes.index(timeline.lane(src))
    marks = view.event_marks(index)
    levels = [severity for _rect, severity in marks]
    assert levels.count("info") == 2 and levels[-1] == "alarm", levels  # alarms on top
    rect = marks[-1][0]
    assert rect.width() > 2  # open: from its begin to now
    assert abs(rect.left() - view.x_of(begin)) < 1.5
    image = view.grab().toImage()
    colour = image.pixelColor(int(rect.center().x()), int(rect.center().y()))
    assert colour.red() > 180 and colour.green() < 120, colour.name()
    assert lane_y(index) < rect.top()  # at the lane's foot, under the records' bars
    # the API's timeline is the same service's answer
    answer = station.timeline.spans(src, begin - timedelta(seconds=5), begin + timedelta(seconds=5))
    assert lost.id in [e.id for e in answer.events] and not answer.events_truncated


def test_the_severity_filter_and_the_count_of_alarms_behind_many_newer_infos(qtbot, station,
                                                                             window):
    """The status bar counts unacknowledged alarms only, however many newer info and warning
    events there are (the catalog counts them, not the newest page); the panel filters by
    severity; the count's button opens the panel on the unacknowledged alarms."""
    events, panel = station.events, window.events
    src = station.sources.create(SourceIn(name="yard", uri_rtsp="rtsp://127.0.0.1:9/none")).id
    lost = events.open("camera_lost", source_id=src, text="yard: camera lost")
    failed = events.instant("recording_failed", source_id=src, text="yard: recording failed")
    warning = events.instant("constant_motion", source_id=src, text="yard: constant motion")
    # more unacknowledged info events than the count's old page of 1000 newest: written in
    # one transaction (the service's rules are not what this checks), then one change
    with station.catalog.session() as s:
        s.add_all([StationEvent(kind="recording_started", source_id=src,
                                station_id=events.station_id, begin=utcnow(), end=utcnow(),
                                severity="info", text=f"yard: recording {i} started")
                   for i in range(1200)])
    last = events.instant("recording_stopped", source_id=src, text="yard: recording stopped")
    qtbot.waitUntil(lambda: panel.row_of(last.id) == 0, timeout=15000)
    assert events.count(unacknowledged=True) == 1204
    assert events.count(unacknowledged=True, severity="alarm") == 2
    qtbot.waitUntil(lambda: window.status.alarm_count == 2, timeout=15000)
    assert window.status.alarm_button.text() == "⚠ 2 alarms"

    # the severity filter: the service's, as the API's ?severity=
    box = panel.severity_box
    assert [box.itemData(i) for i in range(box.count())] == [None, "alarm", "warning", "info"]
    box.setCurrentIndex(box.findData("warning"))
    qtbot.waitUntil(lambda: shown_ids(panel) == [warning.id], timeout=15000)
    box.setCurrentIndex(box.findData("alarm"))
    qtbot.waitUntil(lambda: shown_ids(panel) == [failed.id, lost.id], timeout=15000)
    box.setCurrentIndex(box.findData("info"))
    qtbot.waitUntil(lambda: len(shown_ids(panel)) == 500 and last.id in shown_ids(panel)
                    and not {lost.id, failed.id, warning.id} & set(shown_ids(panel)),
                    timeout=15000)

    # acknowledge all with the severity filter: the alarms only, the warning stays waiting
    box.setCurrentIndex(box.findData("alarm"))
    qtbot.waitUntil(lambda: shown_ids(panel) == [failed.id, lost.id], timeout=15000)
    panel.ask_acknowledge_all = lambda: True
    qtbot.mouseClick(panel.ack_all_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.status.alarm_count == 0, timeout=15000)
    assert events.get(warning.id).acknowledged_at is None
    assert events.count(unacknowledged=True, severity="alarm") == 0
    assert events.count(unacknowledged=True) == 1202

    # a new alarm: the count's button shows the panel on exactly what it counts
    again = events.open("camera_lost", source_id=src, text="yard: camera lost again")
    qtbot.waitUntil(lambda: window.status.alarm_count == 1, timeout=15000)
    box.setCurrentIndex(box.findData("info"))
    panel.kind_box.setCurrentIndex(panel.kind_box.findData("recording_started"))
    window.events_dock.hide()
    qtbot.mouseClick(window.status.alarm_button, Qt.MouseButton.LeftButton)
    assert window.events_dock.isVisible()
    assert panel.filters() == {"severity": "alarm", "unacknowledged": True}
    qtbot.waitUntil(lambda: shown_ids(panel) == [again.id], timeout=15000)
