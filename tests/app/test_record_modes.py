"""Recording modes (#23 items 1 and 2): the schedule's slots in force, computed in wall time
with zoneinfo (DST nights with an injected clock), the checks a schedule passes (422 naming
the field), and the mode keeper starting, keeping and stopping a mode's recording on a real
station (SQLite and PostgreSQL catalogs, the built-in test pattern)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from app.errors import InvalidInput
from app.record_modes import (SlotMode, mode_at, next_change, parse_schedule, wall_instant)
from app.schemas import SourceIn
from tests.conftest import TESTSRC, wait_until

BERLIN = ZoneInfo("Europe/Berlin")
SPRING = date(2026, 3, 29)  # a Sunday: 02:00 CET → 03:00 CEST
AUTUMN = date(2026, 10, 25)  # a Sunday: 03:00 CEST → 02:00 CET


def slot(days, begin, end, mode="continuous") -> dict:
    return {"days": days, "from": begin, "to": end, "mode": mode}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def runs(slots, begin: datetime, end: datetime, step=timedelta(minutes=5)):
    """The spans [start, stop) in which the schedule says record, walking an injected clock."""
    spans, start, now = [], None, begin
    while now < end:
        on = mode_at(slots, now, BERLIN) is not SlotMode.off
        if on and start is None:
            start = now
        if not on and start is not None:
            spans.append((start, now))
            start = None
        now += step
    return spans


# --- the slots in force --------------------------------------------------------------------
def test_a_weekday_slot_is_in_force_in_local_wall_time():
    slots = parse_schedule([slot(["mon", "tue"], "08:00", "18:00"),
                            slot(["mon"], "18:00", "20:00", "motion")])
    monday = date(2026, 7, 6)  # CEST, UTC+2
    assert mode_at(slots, utc(2026, 7, 6, 5, 59), BERLIN) is SlotMode.off
    assert mode_at(slots, utc(2026, 7, 6, 6, 0), BERLIN) is SlotMode.continuous
    assert mode_at(slots, utc(2026, 7, 6, 16, 0), BERLIN) is SlotMode.motion
    assert mode_at(slots, utc(2026, 7, 8, 10, 0), BERLIN) is SlotMode.off  # Wednesday
    assert next_change(slots, utc(2026, 7, 6, 7, 0), BERLIN) == \
        wall_instant(monday, 18 * 3600, BERLIN) == utc(2026, 7, 6, 16, 0)


def test_a_slot_past_midnight_runs_into_the_next_day():
    slots = parse_schedule([slot(["fri"], "22:00", "06:00")])
    assert mode_at(slots, utc(2026, 7, 10, 21, 0), BERLIN) is SlotMode.continuous  # Fri 23:00
    assert mode_at(slots, utc(2026, 7, 11, 3, 59), BERLIN) is SlotMode.continuous  # Sat 05:59
    assert mode_at(slots, utc(2026, 7, 11, 4, 0), BERLIN) is SlotMode.off
    assert mode_at(slots, utc(2026, 7, 11, 21, 0), BERLIN) is SlotMode.off  # Sat 23:00


def test_spring_forward_a_slot_in_the_skipped_hour_runs_once_for_its_length():
    slots = parse_schedule([slot(["sun"], "02:00", "03:00")])
    spans = runs(slots, utc(2026, 3, 28, 22), utc(2026, 3, 29, 6))
    # 02:00 does not exist: the slot starts when the clocks jump (03:00 CEST) and lasts 1 h.
    assert spans == [(utc(2026, 3, 29, 1), utc(2026, 3, 29, 2))]


def test_spring_forward_a_slot_ending_in_the_skipped_hour_ends_at_the_jump():
    slots = parse_schedule([slot(["sun"], "01:00", "02:30")])
    assert runs(slots, utc(2026, 3, 28, 22), utc(2026, 3, 29, 6)) == [
        (utc(2026, 3, 29, 0), utc(2026, 3, 29, 1))]


def test_fall_back_a_slot_in_the_repeated_hour_runs_once_not_twice():
    slots = parse_schedule([slot(["sun"], "02:30", "03:00")])
    spans = runs(slots, utc(2026, 10, 24, 22), utc(2026, 10, 25, 6))
    # From the first 02:30 (CEST, 00:30 UTC) to 03:00 CET (02:00 UTC): one run, no restart.
    assert spans == [(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 2))]


def test_fall_back_back_to_back_slots_neither_overlap_nor_leave_a_hole():
    slots = parse_schedule([slot(["sun"], "01:00", "02:00"),
                            slot(["sun"], "02:00", "03:00", "motion")])
    modes = [(t, mode_at(slots, t, BERLIN)) for t in
             (utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30),
              utc(2026, 10, 25, 2, 0))]
    assert [m for _t, m in modes] == [SlotMode.continuous, SlotMode.motion, SlotMode.motion,
                                      SlotMode.off]


def test_an_ordinary_day_keeps_its_length_across_both_dst_nights():
    slots = parse_schedule([slot(["sun"], "00:00", "24:00")])
    for day, hours in ((SPRING, 23), (AUTUMN, 25)):
        start = datetime(day.year, day.month, day.day, tzinfo=BERLIN).astimezone(timezone.utc)
        spans = runs(slots, start - timedelta(hours=2), start + timedelta(hours=28))
        assert len(spans) == 1 and spans[0][1] - spans[0][0] == timedelta(hours=hours)


# --- validation ------------------------------------------------------------------------------
@pytest.mark.parametrize(("schedule", "words"), [
    ([slot(["mon"], "08:00", "09:00", "always")], "unknown mode"),
    ([slot(["monday"], "08:00", "09:00")], "unknown day"),
    ([slot([], "08:00", "09:00")], "days"),
    ([slot(["mon"], "8h", "09:00")], "not a time of day"),
    ([slot(["mon"], "08:00", "24:01")], "not a time of day"),
    ([slot(["mon"], "09:00", "09:00")], "the same time"),
    ([slot(["mon"], "08:00", "10:00"), slot(["mon", "tue"], "09:00", "11:00")], "overlap"),
    ([slot(["sun"], "22:00", "02:00"), slot(["mon"], "01:00", "03:00")], "overlap"),
    ([slot(["mon"], f"{h:02d}:00", f"{h:02d}:30") for h in range(24)] * 3, "at most"),
])
def test_a_bad_schedule_is_refused_naming_the_field(schedule, words):
    with pytest.raises(ValidationError) as caught:
        SourceIn(record_mode="schedule", record_schedule=schedule)
    (error,) = caught.value.errors()
    assert error["loc"][0] == "record_schedule" and words in error["msg"]


def test_an_unknown_mode_is_refused_naming_the_field():
    with pytest.raises(ValidationError) as caught:
        SourceIn(record_mode="sometimes")
    assert caught.value.errors()[0]["loc"] == ("record_mode",)


def test_schedule_mode_needs_slots(station):
    with pytest.raises(InvalidInput) as caught:
        station.sources.create(SourceIn(name="s", uri_rtsp=TESTSRC, record_mode="schedule"))
    assert caught.value.field == "record_schedule"


def test_a_source_keeps_its_mode_fields_and_a_seed_client_gets_manual(station):
    plain = station.sources.create(SourceIn(name="plain", uri_rtsp=TESTSRC))
    assert (plain.record_mode, plain.record_tag, plain.record_schedule) == ("manual", None, None)
    week = [slot(["mon", "wed"], "08:00", "18:00"), slot(["sat"], "22:00", "06:00", "motion")]
    made = station.sources.create(SourceIn(name="sched", uri_rtsp=TESTSRC, record_mode="schedule",
                                           record_schedule=week, record_tag="yard",
                                           retention_days=30))
    got = station.sources.get(made.id)
    assert got.record_mode == "schedule" and got.record_tag == "yard"
    assert got.retention_days == 30
    assert [s.model_dump() for s in got.record_schedule] == week
    assert (got.record_schedule[1].from_, got.record_schedule[1].to) == ("22:00", "06:00")
    cleared = station.sources.update(made.id, SourceIn(record_tag="", retention_days=0))
    assert cleared.record_tag is None and cleared.retention_days is None
    assert cleared.record_mode == "schedule"  # what was not sent stays


# --- the keeper on a real station --------------------------------------------------------------
def _running(station, source_id: int) -> dict[str, str]:
    return {r.tag_name: r.id for r in station.recordings.own_running()
            if r.source and r.source.id == source_id}


def test_continuous_records_by_itself_and_stops_when_the_mode_changes(station):
    src = station.sources.create(SourceIn(name="cont", uri_rtsp=TESTSRC,
                                          record_mode="continuous"))
    first = wait_until(lambda: _running(station, src.id).get("continuous"), 10,
                       message="the continuous recording")
    # An operator's stop of the mode's tag: the keeper starts it again (a new record).
    station.recordings.stop("continuous")
    again = wait_until(lambda: _running(station, src.id).get("continuous"), 5,
                       message="the continuous recording again")
    assert again != first
    station.sources.update(src.id, SourceIn(record_mode="manual"))
    wait_until(lambda: not _running(station, src.id), 5, message="the mode's stop")
    assert station.recordings.get(again).status == "finished"


def test_a_manual_tag_on_a_continuous_source_is_its_own_record(station):
    src = station.sources.create(SourceIn(name="both", uri_rtsp=TESTSRC,
                                          record_mode="continuous", record_tag="always"))
    keep = wait_until(lambda: _running(station, src.id).get("always"), 10,
                      message="the mode's recording")
    manual = station.recordings.start_one("visit", src.id)
    ticks = station.modes.ticks
    wait_until(lambda: station.modes.ticks > ticks + 2, 5)
    (stopped,) = station.recordings.stop("visit")
    assert stopped.id == manual.id and stopped.status == "finished"
    assert _running(station, src.id) == {"always": keep}  # never cut by the tag's stop


def test_motion_records_while_a_motion_event_is_open_and_for_the_post_capture(station):
    from app.recordings.mode_keeper import ModeKeeper

    station.modes.stop()  # a keeper of its own, with a short post-capture
    keeper = ModeKeeper(station.catalog, station.recordings, station.bus,
                        station_id=station.station_id, motion_post_s=1.5)
    keeper.start()
    try:
        src = station.sources.create(SourceIn(name="yard", uri_rtsp=TESTSRC,
                                              record_mode="motion"))
        # motion is driven by hand here: the source's own detector stays out of it
        station.motion.change(src.id, {"enabled": False}, "test")
        ticks = keeper.ticks
        wait_until(lambda: keeper.ticks > ticks + 2, 5)
        assert not _running(station, src.id)  # no motion, nothing records
        station.events.open("motion", source_id=src.id, text="motion in the yard")
        first = wait_until(lambda: _running(station, src.id).get("motion"), 5,
                           message="the motion recording")
        station.events.close_open("motion", src.id)
        station.events.open("motion", source_id=src.id, text="motion again")  # within post
        station.events.close_open("motion", src.id)
        ticks = keeper.ticks
        wait_until(lambda: keeper.ticks > ticks + 1, 5)
        assert _running(station, src.id) == {"motion": first}  # merged into one record
        wait_until(lambda: not _running(station, src.id), 5, message="the post-capture's end")
        assert station.recordings.get(first).status == "finished"
    finally:
        keeper.stop()
