"""SyncService to a folder, on a real station with real recordings: MD5-verified copies,
`sync_location` only after verification, refusals that store nothing, and a job stopped
midway that resumes on the next start without sending anything twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import InvalidInput, NotFound
from app.site.sync_targets import parse_location
from app.station import build_station, start_station, stop_station
from tests.conftest import make_settings, md5_of, wait_until
from tests.support.recordings import record_tag


def _finished(station, job_id: str, timeout: float = 20.0):
    return wait_until(lambda: (job := station.sync.get(job_id)).status.value in ("done", "failed")
                      and job, timeout, message=f"sync job {job_id} to end")


def test_sync_to_a_folder_verifies_md5_and_sets_sync_location(station, tmp_path: Path):
    records = record_tag(station, "shift 1")
    assert all(r.sync_location is None for r in records)
    dest = station.settings.sync_dirs[0] / "backup"  # does not exist yet: created by the job

    job = _finished(station, station.sync.create("shift 1", str(dest)))
    assert job.status.value == "done", job
    assert (job.files_total, job.files_done, job.files_failed) == (2, 2, 0)
    assert job.bytes_total == job.bytes_done == sum(r.size_bytes for r in records)
    assert job.tag_name == "shift 1" and job.location == str(dest) and job.current_file is None
    for record in records:
        copy = dest / "shift_1" / Path(record.location).name
        assert md5_of(copy) == record.hash_md5
        assert station.recordings.get(record.id).sync_location == str(copy)
        file = next(f for f in job.files if f.record_id == record.id)
        assert file.status.value == "verified" and file.sync_location == str(copy)
        assert file.bytes_sent == record.size_bytes
    assert not list((dest / "shift_1").glob(".*.part"))

    # A second sync to the same folder finds the verified copies there: nothing is sent.
    again = _finished(station, station.sync.create("shift 1", str(dest)))
    assert again.id != job.id and again.status.value == "done"
    assert [f.bytes_sent for f in again.files] == [0, 0]
    assert [j.id for j in station.sync.list()] == [job.id, again.id]


def test_sync_refuses_bad_input_and_stores_nothing(station, tmp_path: Path):
    exports = station.settings.sync_dirs[0]  # the one folder a sync may write into
    exports.mkdir(parents=True, exist_ok=True)
    a_file = exports / "a-file"
    a_file.write_text("x")
    with pytest.raises(NotFound) as exc:
        station.sync.create("no-such-tag", str(exports))
    assert exc.value.field == "tag_name"
    record_tag(station, "t", sources=1, seconds=0.5)
    for bad in ("relative/dir", "ftp://host/x", "http://", "http://host:99999/", str(a_file),
                str(a_file / "below-a-file"), str(tmp_path), str(exports / ".." / "elsewhere")):
        with pytest.raises(InvalidInput) as exc:
            station.sync.create("t", bad)
        assert exc.value.field == "location", bad
    station.recordings.start("live", "g")  # a tag whose only record is still recording
    try:
        with pytest.raises(InvalidInput) as exc:
            station.sync.create("live", str(exports))
        assert exc.value.field == "tag_name" and "finished" in exc.value.message
    finally:
        station.recordings.stop("live")
    with pytest.raises(NotFound):
        station.sync.get("0" * 32)
    assert station.sync.list() == []


def test_a_copy_that_does_not_verify_leaves_sync_location_empty(station, tmp_path: Path):
    good, damaged = record_tag(station, "t")
    data = bytearray(Path(damaged.location).read_bytes())
    data[len(data) // 2] ^= 0xFF  # the file on disk no longer matches the catalog's MD5
    Path(damaged.location).write_bytes(bytes(data))
    dest = station.settings.sync_dirs[0] / "backup"
    foreign = dest / "t" / Path(good.location).name
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b"someone else's file")  # never overwritten

    job = _finished(station, station.sync.create("t", str(dest)))
    assert job.status.value == "failed" and job.error == "2 of 2 file(s) not synced"
    errors = {f.record_id: f.error for f in job.files}
    assert "different file already exists" in errors[good.id]
    assert "MD5" in errors[damaged.id]
    assert foreign.read_bytes() == b"someone else's file"
    assert sorted(p.name for p in (dest / "t").iterdir()) == [foreign.name]  # bad copy discarded
    assert all(station.recordings.get(r.id).sync_location is None for r in (good, damaged))


def test_a_folder_sync_stopped_midway_resumes_without_sending_anything_twice(tmp_path: Path):
    settings = make_settings(tmp_path)
    st = build_station(settings)
    start_station(st)
    first, second = record_tag(st, "t")
    dest = settings.sync_dirs[0] / "backup"
    st.sync.bytes_per_second = 100_000  # about 2.4 s for both files: time to stop midway
    job_id = st.sync.create("t", str(dest))
    wait_until(lambda: st.sync.get(job_id).files[1].bytes_done > 30_000, 10, message="2nd file")
    stop_station(st)

    st = build_station(settings)  # the job as the catalog kept it, before resuming
    paused = st.sync.get(job_id)
    assert paused.status.value == "running"
    assert [f.status.value for f in paused.files] == ["verified", "sending"]
    part = dest / "t" / f".{Path(second.location).name}.part"
    offset = part.stat().st_size
    assert 30_000 <= paused.files[1].bytes_done == offset < second.size_bytes
    assert st.recordings.get(second.id).sync_location is None  # not verified yet
    copy_1 = dest / "t" / Path(first.location).name
    before = copy_1.stat()

    start_station(st)
    try:
        job = _finished(st, job_id)
        assert job.status.value == "done", job
        # Each byte went once: the first file was not copied again, the second continued
        # from the offset it had reached.
        assert [f.bytes_sent for f in job.files] == [first.size_bytes, second.size_bytes]
        assert (copy_1.stat().st_ino, copy_1.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
        copy_2 = dest / "t" / Path(second.location).name
        assert md5_of(copy_2) == second.hash_md5 and not part.exists()
        assert st.recordings.get(second.id).sync_location == str(copy_2)
    finally:
        stop_station(st)


@pytest.mark.parametrize("given, shown, base, token", [
    ("http://:s%40cret@10.0.0.2:4035/", "http://:******@10.0.0.2:4035/", "http://10.0.0.2:4035", "s@cret"),
    ("https://op:s3@st.example/rs/?accessToken=x", "https://:******@st.example/rs/",
     "https://st.example/rs", "s3"),
    ("http://[::1]:4035/?accessToken=s3", "http://[::1]:4035/?accessToken=******", "http://[::1]:4035", "s3"),
    ("http://name-only@host/", "http://host/", "http://host", None),
])
def test_a_station_location_keeps_its_token_apart(given, shown, base, token):
    location = parse_location(given)
    assert (location.kind, location.shown, location.base_url, location.token) == (
        "station", shown, base, token)
    assert token is None or token not in repr(location)
