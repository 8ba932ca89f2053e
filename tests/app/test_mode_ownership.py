"""What a source's recording mode records is the mode's own (#23 items 1-2): a dialect's stop
of one record and the operator's Stop all leave it recording, a stop of its tag by name ends
it (and the keeper starts it again); a motion record begins `motion_pre_s` before the
motion; the source says what its mode does (`mode_state`). A real station on SQLite with the
built-in test pattern (a keyframe a second)."""

from __future__ import annotations

import time

import pytest
import requests

from api.server import ApiServer
from app.recordings.mode_keeper import ModeKeeper
from app.schemas import SourceIn
from app.station import build_station, start_station, stop_station
from tests.conftest import TESTSRC, decode_video, make_settings, wait_until

GOP_S = 1.0  # TESTSRC's keyframe interval


@pytest.fixture
def station(tmp_path):
    st = build_station(make_settings(tmp_path))
    start_station(st)
    yield st
    stop_station(st)


def _running(station, source_id: int) -> dict[str, str]:
    return {r.tag_name: r.id for r in station.recordings.own_running()
            if r.source and r.source.id == source_id}


def _looks(keeper, count: int = 2) -> None:
    ticks = keeper.ticks
    wait_until(lambda: keeper.ticks > ticks + count, 5, message="the keeper's looks")


def test_only_the_keeper_or_its_tag_by_name_stops_the_modes_record(station):
    cont = station.sources.create(SourceIn(name="hall", uri_rtsp=TESTSRC,
                                           record_mode="continuous"))
    other = station.sources.create(SourceIn(name="yard", uri_rtsp=TESTSRC))
    own = wait_until(lambda: _running(station, cont.id).get("continuous"), 10,
                     message="the mode's recording")
    visit = station.recordings.start_one("visit", cont.id, origin="api")
    elsewhere = station.recordings.start_one("continuous", other.id, origin="api")

    # a client controls the tag it started, never the mode's record
    assert [r.id for r in station.recordings.client_running(cont.id)] == [visit.id]
    kept = station.recordings.stop_record(own, origin="device_connect")
    assert kept.status == "recording"

    # Stop all: every tag, the manual "continuous" of a manual source too; the mode's goes on
    stopped = station.recordings.stop_all_tags(origin="gui")
    assert {r.id: r.status for r in stopped} == {visit.id: "finished",
                                                 elsewhere.id: "finished"}
    _looks(station.modes)
    assert _running(station, cont.id) == {"continuous": own}
    assert station.recordings.get(own).status == "recording"

    # named, the tag stops the mode's record too; the keeper starts a new one
    (ended,) = station.recordings.stop("continuous", origin="api")
    assert ended.id == own and ended.status == "finished"
    again = wait_until(lambda: _running(station, cont.id).get("continuous"), 5,
                       message="the mode's recording again")
    assert again != own


def test_a_motion_record_begins_motion_pre_s_before_the_motion(station):
    station.modes.stop()  # a keeper of its own, with a short post-capture
    keeper = ModeKeeper(station.catalog, station.recordings, station.bus,
                        station_id=station.station_id, motion_post_s=0.5, motion_pre_s=5.0,
                        tick_s=0.2)
    keeper.start()
    try:
        src = station.sources.create(SourceIn(name="gate", uri_rtsp=TESTSRC,
                                              record_mode="motion"))
        # motion is driven by hand here: the source's own detector stays out of it
        station.motion.change(src.id, {"enabled": False}, "test")
        wait_until(lambda: station.sources.get(src.id).status.value == "online", 15,
                   message="online")
        wait_until(lambda: keeper.state(src.id) == "waiting for motion", 5,
                   message="the keeper's look")
        time.sleep(5 + 2 * GOP_S)  # the reader has buffered the pre-capture by now
        opened_at = time.time()
        event = station.events.open("motion", source_id=src.id, text="someone at the gate")
        record_id = wait_until(lambda: _running(station, src.id).get("motion"), 5,
                               message="the motion recording")
        assert keeper.state(src.id) == "recording"
        time.sleep(1.0)
        station.events.close_open("motion", src.id)
        closed_at = time.time()
        wait_until(lambda: not _running(station, src.id), 5, message="the post-capture's end")
    finally:
        keeper.stop()
    record = station.recordings.get(record_id)
    assert record.status == "finished" and event.source_id == src.id
    decoded = decode_video(record.location)
    assert decoded["monotonic"]
    # the file reaches back at least motion_pre_s (one GOP of slack: it begins on a keyframe)
    assert decoded["duration"] >= (closed_at - opened_at) + 5.0 - GOP_S, decoded


def test_the_source_says_what_its_mode_does(station):
    server = ApiServer(station, "127.0.0.1", 0).start()
    try:
        url = server.url.rstrip("/")

        def state(source_id: int):
            answer = requests.get(f"{url}/api/v1/source/{source_id}", timeout=10)
            assert answer.status_code == 200, answer.text
            return answer.json()["mode_state"]

        manual = station.sources.create(SourceIn(name="desk", uri_rtsp=TESTSRC))
        cont = station.sources.create(SourceIn(name="door", uri_rtsp=TESTSRC,
                                               record_mode="continuous"))
        motion = station.sources.create(SourceIn(name="yard", uri_rtsp=TESTSRC,
                                                 record_mode="motion"))
        night = station.sources.create(SourceIn(
            name="shop", uri_rtsp=TESTSRC, record_mode="schedule",
            record_schedule=[{"days": ["mon"], "from": "00:00", "to": "00:01",
                              "mode": "continuous"}] if time.localtime().tm_wday != 0 else
            [{"days": ["tue"], "from": "00:00", "to": "00:01", "mode": "continuous"}]))
        wait_until(lambda: state(cont.id) == "recording", 10, message="door recording")
        # the keeper looks at each source in turn: every one has had its look by then
        wait_until(lambda: state(motion.id) == "waiting for motion", 10, message="yard")
        wait_until(lambda: state(night.id) == "off by schedule", 10, message="shop")
        assert state(manual.id) is None
        listed = {s["id"]: s["mode_state"] for s in
                  requests.get(f"{url}/api/v1/source", timeout=10).json()}
        assert listed[cont.id] == "recording" and listed[manual.id] is None
    finally:
        server.stop()
