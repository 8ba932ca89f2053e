"""A catalog that cannot be written (its filesystem really full: a tmpfs of its own, filled by
the test) never leaves a false state: what the service could not commit is kept in memory,
shown by every read, written back by the retry thread once there is room again. The
recordings themselves are on another filesystem and carry on."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from app.errors import StorageFull
from app.events import RecordingStarted, RecordingStopped
from app.settings import Settings
from app.station import build_station, start_station, stop_station
from tests.conftest import decode_video, wait_until
from tests.support.recordings import group_of_testsrc
from tests.support.small_disk import fill_up, small_tmpfs


@pytest.fixture
def catalog_fs(tmp_path: Path):
    with small_tmpfs(tmp_path / "catalog", "4m") as mount:
        yield mount


def stored(db: Path) -> dict[str, tuple]:
    """What the catalog file itself holds: record id -> (status, md5, running_key)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {rid: (status, md5, key) for rid, status, md5, key in conn.execute(
            "SELECT id, status, hash_md5, running_key FROM record")}


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


@pytest.fixture
def station_on(tmp_path: Path, catalog_fs: Path):
    made = []

    def build(**settings):
        station = build_station(Settings(
            data_dir=catalog_fs, storage_dir=tmp_path / "rec", port=0, demo=False,
            disk_floor_mb=0, media_dirs=[tmp_path], **settings))
        start_station(station)
        made.append(station)
        return station
    yield build
    for station in made:
        stop_station(station)


def test_a_stop_the_catalog_cannot_take_is_shown_at_once_and_written_later(
        tmp_path: Path, catalog_fs: Path, station_on):
    station = station_on()
    db = catalog_fs / "catalog.sqlite3"
    group_of_testsrc(station, 2)
    time.sleep(1.0)
    events = []
    station.bus.subscribe(events.append)
    started = station.recordings.start("t", "g")
    ids = {r.id for r in started}
    time.sleep(1.0)

    filler = fill_up(catalog_fs)
    stopped = station.recordings.stop("t")
    assert {r.status.value for r in stopped} == {"finished"}
    assert all(r.hash_md5 and r.end_utc for r in stopped)
    # The catalog itself could not take it (the point of this test) ...
    assert {v[0] for k, v in stored(db).items() if k in ids} == {"recording"}
    assert set(station.recordings.pending_ids()) == ids
    # ... yet every read shows the truth.
    md5 = {r.id: r.hash_md5 for r in stopped}
    assert {r.id: r.hash_md5 for r in station.recordings.list("t")} == md5
    assert {r.status.value for r in station.recordings.list("t")} == {"finished"}
    assert station.recordings.list(status="recording") == []
    assert {r.id for r in station.recordings.list(status="finished")} == ids
    assert {r.status.value for r in station.recordings.tag("t").records} == {"finished"}
    assert station.recordings.find(status="recording") == []
    assert {r.id for r in station.recordings.find(tag_name="t", status="finished")} == ids
    assert all(station.recordings.get(rid).status.value == "finished" for rid in ids)
    assert not station.recordings.is_running("t")
    assert station.recordings.running_tags() == []
    assert station.recordings.running_summary() == []
    assert all(station.recordings.running_record("t", r.source.id) is None for r in stopped)
    assert {(e.record_id, e.status) for e in events if isinstance(e, RecordingStopped)} == \
        {(rid, "finished") for rid in ids}
    for record in stopped:
        assert decode_video(record.location)["frames"] >= 5

    # Starting is refused while nothing can be committed, and leaves nothing recording.
    with pytest.raises(StorageFull, match="catalog cannot be written"):
        station.recordings.start("t2", "g")
    assert not any((tmp_path / "rec" / "t2").glob("*.mp4"))
    assert not [e for e in events if isinstance(e, RecordingStarted) and e.tag_name == "t2"]

    # Room again: the retry thread writes what was kept, the catalog agrees with the API.
    filler.unlink()
    wait_until(lambda: not station.recordings.pending_ids(), 10, message="the retry to write")
    on_disk = stored(db)
    assert {rid: on_disk[rid] for rid in ids} == {rid: ("finished", md5[rid], None) for rid in ids}
    assert integrity(db) == "ok"
    again = station.recordings.start("t2", "g")
    time.sleep(0.5)
    assert {r.status.value for r in station.recordings.stop("t2")} == {"finished"}
    assert {stored(db)[r.id][0] for r in again} == {"finished"}


def test_a_rollover_the_catalog_cannot_take_loses_no_file(tmp_path: Path, catalog_fs: Path,
                                                          station_on):
    station = station_on(segment_s=1)
    db = catalog_fs / "catalog.sqlite3"
    group_of_testsrc(station, 1)
    time.sleep(1.0)
    (first,) = station.recordings.start("long", "g")
    wait_until(lambda: len(station.recordings.list("long")) >= 2, 15, message="a rollover")

    filler = fill_up(catalog_fs)
    known = {r.id for r in station.recordings.list("long")}
    # Files keep rolling over; their records live in memory meanwhile.
    wait_until(lambda: len(station.recordings.list("long")) >= len(known) + 2, 15,
               message="two rollovers on a full catalog")
    records = station.recordings.list("long")
    unknown_to_db = {r.id for r in records} - set(stored(db))
    assert unknown_to_db, "the new records must not have reached the catalog"
    assert unknown_to_db <= set(station.recordings.pending_ids())
    running = [r for r in records if r.status.value == "recording"]
    assert len(running) == 1 and running[0].id in unknown_to_db
    assert station.recordings.is_running("long")

    filler.unlink()
    wait_until(lambda: not station.recordings.pending_ids(), 10, message="the retry to write")
    files = station.recordings.stop("long")
    assert len(files) == 1
    wait_until(lambda: not station.recordings.pending_ids(), 10, message="all written")
    records = station.recordings.list("long")
    on_disk = stored(db)
    assert {r.id: (r.status.value, r.hash_md5, None) for r in records} == \
        {r.id: on_disk[r.id] for r in records}
    assert {r.status.value for r in records} == {"finished"}
    assert records[0].id == first.id
    for record in records:
        assert decode_video(record.location)["frames"] >= 1, record
    assert integrity(db) == "ok"


def test_a_deletion_the_catalog_cannot_take_still_shows_deleted(tmp_path: Path, catalog_fs: Path,
                                                                station_on):
    station = station_on()
    db = catalog_fs / "catalog.sqlite3"
    group_of_testsrc(station, 1)
    time.sleep(1.0)
    station.recordings.start("t", "g")
    time.sleep(0.5)
    (record,) = station.recordings.stop("t")

    filler = fill_up(catalog_fs)
    assert station.recordings.expire(record.id, "retention: test")
    assert not Path(record.location).exists()
    assert stored(db)[record.id][0] == "finished"  # the catalog could not take it ...
    shown = station.recordings.get(record.id)     # ... the service shows the truth
    assert (shown.status.value, shown.deleted_reason) == ("deleted", "retention: test")
    assert station.recordings.list(status="finished") == []
    assert not station.recordings.expire(record.id, "again")

    filler.unlink()
    wait_until(lambda: not station.recordings.pending_ids(), 10, message="the retry to write")
    assert stored(db)[record.id][0] == "deleted"
