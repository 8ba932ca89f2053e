"""Records as the core keeps them across a rollover (protection inherited, one running record
per source and tag) and gaps stored as data, not text, on a real station and recorder."""

from __future__ import annotations

import time
from pathlib import Path

from app.models import Record
from app.recordings.record_results import apply_result
from app.station import build_station, start_station, stop_station
from recorder.mp4file import RecordingResult
from tests.conftest import make_settings, wait_until
from tests.support.recordings import group_of_testsrc


def test_a_protected_running_recording_stays_protected_across_rollovers(tmp_path: Path):
    station = build_station(make_settings(tmp_path, segment_s=1))
    start_station(station)
    try:
        group_of_testsrc(station, 1)
        time.sleep(1.0)
        (first,) = station.recordings.start("long", "g")
        (shown,) = station.recordings.protect_tag("long", True)
        assert shown.id == first.id and shown.protected and shown.status.value == "recording"
        wait_until(lambda: len(station.recordings.list("long")) >= 3, 20, message="rollovers")
        assert len(station.recordings.running_ids()) == 1
        assert station.recordings.running_record("long", first.source.id).id != first.id
        records = station.recordings.list("long")
        assert all(r.protected for r in records)
        finished = [r for r in records if r.status.value == "finished"]
        assert finished and all(not station.recordings.expire(r.id, "x") for r in finished)
        (last,) = station.recordings.stop("long")
        files = station.recordings.recording_files(last.id)
        assert [f.id for f in files] == [r.id for r in station.recordings.list("long")]
        assert files[0].id == first.id and files[-1].id == last.id
        station.recordings.protect_tag("long", False)
        assert station.recordings.expire(first.id, "retention: test")
    finally:
        stop_station(station)


def test_gaps_are_data_not_error_text(tmp_path: Path):
    row = Record(id="r", status="recording", tag_id=1, running_key="1:1")
    result = RecordingResult(tmp_path / "x.mp4", 1_790_000_000.0, 1_790_000_060.0, 58.0, 1000,
                             "0" * 32, 1400, gaps=[(1_790_000_010.0, 1_790_000_012.5)])
    apply_result(row, result, None)
    assert row.status == "finished" and row.error is None and row.running_key is None
    assert row.gaps == [{"begin_utc": "2026-09-21T14:13:30.000Z",
                         "end_utc": "2026-09-21T14:13:32.500Z"}]
