"""The one event model (app.alarms) on SQLite and PostgreSQL: open, close, instant,
acknowledge, the filters and the cursor of `list`, what is refused, the bus events; the
raiser's translation of the bus, and the camera watch on counters it is handed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.alarms.camera_watch import CameraWatch
from app.errors import InvalidInput, NotFound
from app.events import EventChanged, RecordingStarted, RecordingStopped, RetentionDeleted
from app.schemas import SourceIn
from recorder.worker import SourceCounters
from tests.conftest import TESTSRC, wait_until


def source(station, name: str) -> int:
    return station.sources.create(SourceIn(name=name, uri_rtsp=TESTSRC, enabled=False)).id


def test_open_close_ack_and_bus(station):
    events = station.events
    gate = source(station, "gate")
    seen: list[EventChanged] = []
    station.bus.subscribe(lambda e: seen.append(e) if isinstance(e, EventChanged) else None)
    lost = events.open("camera_lost", source_id=gate, severity="alarm", text="gate: lost",
                       caused_by="native", data={"zones": [1, 2]})
    assert lost.end is None and lost.severity == "alarm" and lost.station_id == station.station_id
    assert lost.data == {"zones": [1, 2]} and lost.caused_by == "native"
    assert events.open_alarms() == 1
    (closed,) = events.close_open("camera_lost", gate)
    assert closed.id == lost.id and closed.end is not None
    assert events.close_open("camera_lost", gate) == []  # nothing open any more
    assert events.open_alarms() == 0
    acked = events.acknowledge(lost.id, "alice")
    assert acked.acknowledged_by == "alice" and acked.acknowledged_at
    assert events.acknowledge(lost.id, "bob").acknowledged_by == "alice"  # the first stays
    assert events.get(lost.id) == acked
    assert [(e.event.id, e.change) for e in seen] == [
        (lost.id, "opened"), (lost.id, "closed"), (lost.id, "acknowledged")]
    moment = events.instant("bookmark", source_id=gate, text="gate: bookmark")
    assert moment.begin == moment.end and moment.severity == "info"
    assert events.raised_counts() == {"camera_lost": 1, "bookmark": 1}
    with pytest.raises(NotFound):
        events.close(10**9)


def test_list_filters_and_cursor(station):
    events = station.events
    gate, yard = source(station, "gate"), source(station, "yard")
    made = [events.instant("recording_started", source_id=gate if i % 2 else yard,
                           text=f"start {i}") for i in range(7)]
    open_one = events.open("motion", source_id=gate, text="gate: motion")
    ids = [e.id for e in made] + [open_one.id]
    assert ids == sorted(ids)  # ids only grow
    assert [e.id for e in events.list()] == ids[::-1]  # newest first
    assert [e.id for e in events.list(source_id=yard)] == [made[i].id for i in (6, 4, 2, 0)]
    assert [e.id for e in events.list(kind="motion")] == [open_one.id]
    assert [e.id for e in events.list(open=True)] == [open_one.id]
    assert len(events.list(open=False)) == 7
    # after_id: the events right after the cursor (none skipped), newest first
    assert [e.id for e in events.list(after_id=ids[1], limit=3)] == [ids[4], ids[3], ids[2]]
    assert [e.id for e in events.list(before_id=ids[2])] == [ids[1], ids[0]]
    now = datetime.now(timezone.utc)
    assert len(events.list(begin=now - timedelta(minutes=1), end=now + timedelta(minutes=1))) == 8
    # an open event overlaps any range after its begin
    assert [e.id for e in events.list(begin=now + timedelta(hours=1))] == [open_one.id]
    assert events.acknowledge_all("alice", source_id=gate) == 4
    assert {e.source_id for e in events.list(unacknowledged=True)} == {yard}
    assert events.acknowledge_all("alice") == 4
    assert events.list(unacknowledged=True) == []


@pytest.mark.parametrize("call, field", [
    (lambda ev: ev.open("no_such_kind", source_id=None, text="x"), "kind"),
    (lambda ev: ev.open("motion", source_id=None, text="  \x00 "), "text"),
    (lambda ev: ev.open("motion", source_id=None, text="x", severity="loud"), "severity"),
    (lambda ev: ev.instant("motion", text="x", data={"big": "x" * 5000}), "data"),
    (lambda ev: ev.instant("motion", text="x", data={"t": object()}), "data"),
    (lambda ev: ev.list(limit=0), "limit"),
    (lambda ev: ev.list(kind="nope"), "kind"),
    (lambda ev: ev.acknowledge_all(""), "actor"),
])
def test_refused(station, call, field):
    with pytest.raises(InvalidInput) as refused:
        call(station.events)
    assert refused.value.field == field


def test_text_has_no_control_characters(station):
    made = station.events.instant("bookmark", text="a\x1b[31mred\nline")
    assert made.text == "a [31mred line"


def test_raiser_turns_bus_events_into_events(station):
    gate = source(station, "gate")
    bus = station.bus
    bus.publish(RecordingStarted("r1", gate, "visit", "native"))
    bus.publish(RecordingStopped("r1", gate, "visit", "done", "rollover"))  # a cut: no event
    bus.publish(RecordingStopped("r1", gate, "visit", "failed", "recorder"))
    bus.publish(RetentionDeleted(("a", "b"), (("age", 2), ("size", 0)), "scheduled"))
    got = wait_until(lambda: (lambda e: e if len(e) >= 3 else None)(station.events.list()))
    assert [e.kind for e in got] == ["retention_deleted", "recording_failed", "recording_started"]
    assert got[2].caused_by == "native" and got[2].text.startswith("gate: recording started")
    assert got[1].severity == "alarm" and got[1].caused_by is None
    assert got[0].data["record_ids"] == ["a", "b"] and got[0].data["by_reason"]["age"] == 2


def counters(last: float | None, recordings: int = 1) -> SourceCounters:
    return SourceCounters("gate", "online", 25.0, 0.0, 0, 0, 0, 0, recordings, 0, 10, last)


def test_camera_watch_opens_and_closes(station):
    gate = source(station, "gate")
    now = [1000.0]
    state = {gate: counters(999.9)}
    watch = CameraWatch(station.events, lambda: state, clock=lambda: now[0])
    watch.look()
    assert station.events.list(kind="camera_lost") == []
    now[0] = 1001.5  # 1.6 s of silence while recording
    watch.look()
    (lost,) = station.events.list(kind="camera_lost", open=True)
    assert lost.data["recording"] is True and lost.severity == "alarm"
    now[0] = 1003.0
    state[gate] = counters(1002.9)
    watch.look()
    assert station.events.list(kind="camera_lost", open=True) == []
    (back,) = station.events.list(kind="camera_back")
    assert back.data["lost_event_id"] == lost.id
    # idle: 4.5 s of silence before it is lost
    state[gate] = counters(1002.9, recordings=0)
    now[0] = 1006.0
    watch.look()
    assert station.events.list(kind="camera_lost", open=True) == []
    now[0] = 1007.5
    watch.look()
    assert len(station.events.list(kind="camera_lost", open=True)) == 1
    del state[gate]  # disabled while lost: closed, no camera_back
    watch.look()
    assert station.events.list(kind="camera_lost", open=True) == []
    assert len(station.events.list(kind="camera_back")) == 1
