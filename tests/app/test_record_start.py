"""How a recording starts and how its events go out, on a real station (SQLite catalog file,
recorder, test-pattern sources):

- the catalog commits the record before the recorder opens its file, so a commit that fails
  starts nothing, and a file the recorder cannot start after the commit leaves its record
  `failed` (never a file no record points to);
- RecordingStarted and RecordingStopped are published after the service lock is released, so
  a subscriber that waits for a thread calling the service does not deadlock;
- file names carry the UTC time of the record's begin, whatever zone the station runs in.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from app.errors import Conflict, StorageFull
from app.events import RecordingStarted, RecordingStopped
from app.station import build_station, start_station, stop_station
from tests.app.commit_hook import CommitHook
from tests.conftest import make_settings, wait_until
from tests.support.recordings import group_of_testsrc


def stored(db: Path) -> dict[str, tuple]:
    """What the catalog file itself holds: record id -> (status, running_key, error)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {rid: (status, key, error) for rid, status, key, error in conn.execute(
            "SELECT id, status, running_key, error FROM record")}


def _preroll_buffered(st, source_ids) -> None:
    """Each reader has a keyframe in its pre-roll (TESTSRC's every frame is one) and has read
    past it, so a recording started now writes at once: the recorder's own counters instead
    of a second's sleep."""
    wait_until(lambda: all(st.recorder.counters()[s].packets_read >= 2 for s in source_ids), 10,
               message="a keyframe in every pre-roll")


def _written(st, source_ids, packets: int = 10) -> None:
    """The running recordings of these sources hold `packets` packets each (0.4 s of TESTSRC)."""
    wait_until(lambda: all(st.recorder.counters()[s].packets_written >= packets
                           for s in source_ids), 10, message=f"{packets} packets in every file")


@pytest.fixture
def station(tmp_path: Path):
    made = []

    def build(**settings):
        st = build_station(make_settings(tmp_path, **settings))
        start_station(st)
        made.append(st)
        return st
    yield build
    for st in made:
        stop_station(st)


def test_a_commit_that_fails_starts_no_recording(station, tmp_path: Path):
    st = station()
    db = tmp_path / "data" / "catalog.sqlite3"
    _, sources = group_of_testsrc(st, 2)
    _preroll_buffered(st, sources)  # a started recording would write at once
    events = []
    st.bus.subscribe(events.append)
    at_commit: dict[str, object] = {}

    def locked(records):
        # What the recorder holds while the catalog commits: stopping a record it does not
        # record finds nothing (None) and changes nothing.
        at_commit.update({rid: st.recorder.stop_recording(sid, rid) for sid, rid in records})
        raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))

    with CommitHook(at_commit=locked) as hook:
        with pytest.raises(StorageFull, match="catalog cannot be written .*database is locked"):
            st.recordings.start("t", "g")
    (ids,) = hook.seen
    assert len(ids) == 2
    assert at_commit == {rid: None for rid in ids}, "the recorder started before the commit"
    time.sleep(0.5)  # a file opened by mistake would have been written by now
    assert not (tmp_path / "data" / "recordings" / "t").exists()
    assert not [p for p in (tmp_path / "data").rglob("*.mp4")]
    assert not set(ids) & set(stored(db))
    assert st.recordings.list() == [] and not st.recordings.is_running("t")
    assert not [e for e in events if isinstance(e, (RecordingStarted, RecordingStopped))]

    # The catalog takes it again: the same start works, and records.
    started = st.recordings.start("t", "g")
    assert {r.status.value for r in started} == {"recording"}
    assert {stored(db)[r.id][0] for r in started} == {"recording"}
    _written(st, sources)
    stopped = st.recordings.stop("t")
    assert {r.status.value for r in stopped} == {"finished"}
    assert all(Path(r.location).stat().st_size > 1000 for r in stopped)


def test_a_file_the_recorder_cannot_start_after_the_commit_leaves_the_record_failed(
        station, tmp_path: Path):
    st = station()
    db = tmp_path / "data" / "catalog.sqlite3"
    _, (first, second) = group_of_testsrc(st, 2)
    _preroll_buffered(st, (first, second))
    events = []
    st.bus.subscribe(events.append)

    # Right after the commit, before the recorder starts, the second source's reader goes
    # (as when the source is disabled at that moment): its file cannot start.
    with CommitHook(after_commit=lambda _records: st.recorder.remove_source(second)):
        records = {r.source.id: r for r in st.recordings.start("t", "g")}
    ok, failed = records[first], records[second]
    assert ok.status.value == "recording"
    assert failed.status.value == "failed" and "could not start" in failed.error
    assert failed.end_utc and failed.size_bytes == 0
    assert stored(db)[failed.id][:2] == ("failed", None)
    assert "could not start" in stored(db)[failed.id][2]
    assert st.recordings.get(failed.id).status.value == "failed"
    assert [(type(e), e.record_id) for e in events
            if isinstance(e, (RecordingStarted, RecordingStopped))] == [
        (RecordingStarted, ok.id), (RecordingStopped, failed.id)]
    assert [e.status for e in events if isinstance(e, RecordingStopped)] == ["failed"]
    assert "no longer being read" in failed.error
    assert not Path(failed.location).exists()
    assert set(st.recordings.running_ids()) == {ok.id}
    _written(st, (first,))
    (done,) = st.recordings.stop("t")
    assert done.id == ok.id and done.status.value == "finished"

    # A start that asked for one file and got none is an error (a client must not take it
    # for a recording), and its record says why.
    events.clear()
    with CommitHook(after_commit=lambda _records: st.recorder.remove_source(first)) as hook:
        with pytest.raises(Conflict, match="could not start .* is failed") as refused:
            st.recordings.start_one("u", first)
    ((rid,),) = hook.seen
    assert refused.value.field == "source_id" and rid in refused.value.message
    assert st.recordings.get(rid).status.value == "failed"
    assert stored(db)[rid][:2] == ("failed", None)
    assert [(type(e), e.record_id, e.status) for e in events if isinstance(e, RecordingStopped)] \
        == [(RecordingStopped, rid, "failed")]
    assert not [e for e in events if isinstance(e, RecordingStarted)]
    assert not st.recordings.is_running("u")


def test_recording_events_are_published_after_the_lock_is_released(station):
    """A subscriber hands each recording event to a thread that calls the service (which
    takes its lock) and waits for it: held while publishing, the lock would keep that
    thread waiting until the subscriber gave up."""
    st = station()
    _, (sid, _other) = group_of_testsrc(st, 2)
    _preroll_buffered(st, (sid, _other))
    answered: list[tuple[str, str, bool]] = []

    def on_event(ev) -> None:
        if not isinstance(ev, (RecordingStarted, RecordingStopped)):
            return
        done = threading.Event()

        def call_back() -> None:
            st.recordings.set_protected(ev.record_id, False)  # takes the service lock
            done.set()
        threading.Thread(target=call_back, daemon=True).start()
        answered.append((type(ev).__name__, ev.record_id, done.wait(3.0)))

    st.bus.subscribe(on_event)
    started = st.recordings.start("a", "g")                   # RecordingStarted x2
    time.sleep(0.5)
    st.recordings.stop_record(started[0].id)                  # RecordingStopped
    st.recordings.fail(started[1].id, "test: failed on purpose")  # RecordingStopped
    (one,) = st.recordings.start_sources("b", [sid])          # RecordingStarted
    two = st.recordings.start_one("c", sid)                  # RecordingStarted
    time.sleep(0.5)
    st.recordings.stop("b")                                   # RecordingStopped
    st.recordings.stop_all()                                  # RecordingStopped
    assert [(kind, rid) for kind, rid, _ok in answered] == [
        ("RecordingStarted", started[0].id), ("RecordingStarted", started[1].id),
        ("RecordingStopped", started[0].id), ("RecordingStopped", started[1].id),
        ("RecordingStarted", one.id), ("RecordingStarted", two.id),
        ("RecordingStopped", one.id), ("RecordingStopped", two.id)]
    assert all(ok for _kind, _rid, ok in answered), answered


@pytest.fixture
def tokyo():
    """The station's process in a zone far from UTC (+09:00), restored afterwards."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    assert time.localtime().tm_gmtoff == 9 * 3600
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


NAME_TIME = re.compile(r"_(\d{8}T\d{6})Z_[0-9a-f]{8}\.mp4$")


def name_time(location: str) -> datetime:
    match = NAME_TIME.search(location)
    assert match, location
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)


def utc(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


@pytest.mark.usefixtures("tokyo")
def test_file_names_carry_the_utc_begin_whatever_the_zone(station):
    st = station(segment_s=1)
    group_of_testsrc(st, 1)
    time.sleep(1.0)
    (first,) = st.recordings.start("zone", "g")
    assert Path(first.location).name.startswith("g-cam0_")
    # The name is made when the record is: its begin then, UTC (the file's begin, the
    # pre-roll's first keyframe, is up to a GOP earlier).
    assert abs((name_time(first.location) - utc(first.begin_utc)).total_seconds()) < 3
    wait_until(lambda: len(st.recordings.list("zone")) >= 3, 20, message="two rollovers")
    st.recordings.stop("zone")
    records = st.recordings.list("zone")
    assert len({r.location for r in records}) == len(records) >= 3
    for record in records:  # the first file and the ones it rolled over to
        assert abs((name_time(record.location) - utc(record.begin_utc)).total_seconds()) < 3, \
            (record.location, record.begin_utc)
        assert Path(record.location).is_file()
