"""Retention and the storage guard on a real station core: real recordings (test patterns),
the real SQLite catalog, files really deleted. Records are made old by editing their times in
the catalog, or by handing the service a clock that runs ahead."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from app.events import RecordChanged, StorageLow
from app.models import Record
from app.recordings.storage import GB, StorageService
from tests.conftest import wait_until
from tests.support.recordings import record_tag

NOW = datetime.now(timezone.utc)


def _age(station, ages_days: dict[str, float]) -> None:
    """Make records old: begin and end `days` ago (the file is a second long)."""
    with station.catalog.session() as s:
        for record_id, days in ages_days.items():
            row = s.get(Record, record_id)
            row.end_utc = NOW - timedelta(days=days)
            row.begin_utc = row.created_utc = row.end_utc - timedelta(seconds=1)
            s.add(row)


def _service(station, **kwargs) -> StorageService:
    """A storage service on the station's catalog and recordings (not started: each test
    drives its passes itself)."""
    kwargs.setdefault("busy", station.sync.busy_record_ids)
    return StorageService(station.catalog, station.recordings, station.bus,
                          storage_dir=station.settings.recordings_dir, **kwargs)


def _state(station, record_id: str):
    record = station.recordings.get(record_id)
    return record.status.value, Path(record.location).exists()


def _events(station) -> list:
    seen: list = []
    station.bus.subscribe(seen.append)
    return seen


def test_records_older_than_retention_days_go_oldest_first(station):
    records = record_tag(station, "days", sources=4)
    old, older, recent, fresh = (r.id for r in records)
    _age(station, {old: 10, older: 8, recent: 2, fresh: 0})
    seen = _events(station)
    storage = _service(station, retention_days=7)

    assert storage.retention_pass() == [old, older]  # oldest first
    for record_id in (old, older):
        record = station.recordings.get(record_id)
        assert record.status.value == "deleted" and not Path(record.location).exists()
        assert record.deleted_reason == "retention: older than 7 day(s)"
        assert record.deleted_utc is not None
    assert _state(station, recent) == _state(station, fresh) == ("finished", True)
    assert [e.record_id for e in seen if isinstance(e, RecordChanged)
            and e.action == "deleted"] == [old, older]
    assert storage.retention_pass() == []  # nothing more is that old

    # a clock a week ahead: the rest is old too
    later = _service(station, retention_days=7, now=lambda: NOW + timedelta(days=7, hours=1))
    assert later.retention_pass() == [recent, fresh]
    status = later.status()
    assert status.records_with_files == 0 and status.used_by_recordings_bytes == 0
    assert status.retention.deleted_since_start == 2 and status.oldest_record is None


def test_recordings_are_kept_under_retention_max_gb(station):
    records = record_tag(station, "size", sources=4)
    _age(station, {r.id: 4 - i for i, r in enumerate(records)})  # records[0] the oldest
    sizes = [Path(r.location).stat().st_size for r in records]
    storage = _service(station, retention_max_gb=(sizes[2] + sizes[3] + 1000) / GB)
    assert storage.status().used_by_recordings_bytes == sum(sizes)

    assert storage.retention_pass() == [records[0].id, records[1].id]
    assert station.recordings.get(records[0].id).deleted_reason.startswith(
        "retention: recordings over ")
    status = storage.status()
    assert status.used_by_recordings_bytes == sizes[2] + sizes[3]
    assert status.oldest_record.id == records[2].id
    assert storage.retention_pass() == []  # under the cap now


def test_protected_records_are_spared(station):
    records = record_tag(station, "keep", sources=3)
    protected, *others = records
    _age(station, {protected.id: 30, others[0].id: 20, others[1].id: 10})
    station.recordings.set_protected(protected.id, True)
    storage = _service(station, retention_days=1, retention_max_gb=1e-9)

    assert storage.retention_pass() == [others[0].id, others[1].id]
    assert _state(station, protected.id) == ("finished", True)
    assert station.recordings.get(protected.id).protected
    status = storage.status()
    assert status.protected_records == 1 and status.oldest_record.protected
    # released, it goes at the next pass
    station.recordings.set_protected(protected.id, False)
    assert storage.retention_pass() == [protected.id]


def test_a_record_being_synced_is_spared(station):
    synced = record_tag(station, "synced", sources=2)
    other = record_tag(station, "other", sources=1, group="h")
    _age(station, {r.id: 5 for r in synced + other})
    station.sync.bytes_per_second = 2000  # a slow line: the job is busy for a minute
    job_id = station.sync.create("synced", str(station.settings.sync_dirs[0] / "copy"))
    wait_until(lambda: station.sync.get(job_id).status.value == "running", 5, message="running")
    assert station.sync.busy_record_ids() == {r.id for r in synced}
    storage = _service(station, retention_days=1)

    assert storage.retention_pass() == [other[0].id]  # the synced tag's records stay
    for record in synced:
        assert _state(station, record.id) == ("finished", True)
    # the service refuses it too, whoever asks
    assert station.recordings.expire(synced[0].id, "test") is False
    assert _state(station, synced[0].id) == ("finished", True)


def test_the_guard_deletes_then_stops_recordings_when_only_protected_records_are_left(station):
    kept, spare = record_tag(station, "old", sources=2)
    station.recordings.set_protected(kept.id, True)
    live = station.recordings.start("live", "g")
    wait_until(lambda: Path(live[0].location).exists(), 5, message="the file")
    seen = _events(station)
    # A floor no disk reaches: retention deletes what it may, then the recordings stop.
    storage = _service(station, floor_bytes=1 << 60)
    storage._sync_running()

    started = time.monotonic()
    stopped = storage.check()
    assert time.monotonic() - started < 5
    assert sorted(stopped) == sorted(r.id for r in live)
    assert _state(station, spare.id) == ("deleted", False)
    assert "under the disk floor" in station.recordings.get(spare.id).deleted_reason
    assert _state(station, kept.id) == ("finished", True)
    for record in live:
        record = station.recordings.get(record.id)
        assert record.status.value == "failed" and record.error.startswith("disk full: ")
        assert record.hash_md5 and Path(record.location).stat().st_size == record.size_bytes
    alert = next(e for e in seen if isinstance(e, StorageLow))
    assert set(alert.record_ids) == {r.id for r in live}
    assert "1 protected record(s) kept" in alert.message
    status = storage.status()
    assert status.storage.below_floor and status.stopped_reason == alert.message
    assert storage.check() == []  # nothing left to stop
    # Still under the floor with nothing recording: no pass deletes what the guard just saved
    # (floor deletions only make room for running recordings).
    assert storage.retention_pass("the disk floor") == [] and storage.check() == []
    for record in live:
        assert _state(station, record.id) == ("failed", True)


def test_a_sources_and_a_tags_retention_days_override_the_stations(station):
    """#23: per source and per tag `retention_days` over the station's; the source's first."""
    from app.schemas import SourceIn

    kept_long, kept_short, plain = record_tag(station, "yard", sources=3)
    long_source, short_source = kept_long.source.id, kept_short.source.id
    _age(station, {kept_long.id: 20, kept_short.id: 3, plain.id: 20})
    station.sources.update(long_source, SourceIn(retention_days=30))
    station.sources.update(short_source, SourceIn(retention_days=2))
    storage = _service(station, retention_days=10)
    assert storage.retention_pass() == [plain.id, kept_short.id]
    assert station.recordings.get(kept_short.id).deleted_reason == \
        "retention: older than 2 day(s) (its source's or tag's retention)"
    assert _state(station, kept_long.id) == ("finished", True)

    # the tag's own, for sources without one; the station keeping forever does not matter
    (tagged,) = record_tag(station, "motion", sources=1, group="g2")
    _age(station, {tagged.id: 5})
    forever = _service(station, retention_days=0)
    assert forever.retention_pass() == []
    assert forever.set_tag_retention("motion", 4).retention_days == 4
    assert forever.retention_pass() == [tagged.id]
    assert forever.set_tag_retention("motion", 0).retention_days is None
