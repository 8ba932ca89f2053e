"""The service layer on a real SQLite file and a real recorder (test-pattern sources)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlmodel import SQLModel

from app.catalog import Catalog
from app.errors import Conflict, InvalidInput, NotFound, StorageFull
from app.events import CatalogChanged, RecordingStarted, RecordingStopped
from app.models import Record, Source
from app.schemas import MASK, GroupIn, HttpPicture, SourceIn
from app.settings import Settings
from app.station import build_station, start_station, stop_station
from tests.conftest import TESTSRC, decode_video, make_settings, md5_of
from tests.support.recordings import group_of_testsrc


def test_migration_creates_the_tables_the_models_describe(tmp_path: Path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.sqlite3'}").open()
    inspector = inspect(catalog.engine)
    for table in SQLModel.metadata.sorted_tables:
        migrated = {c["name"] for c in inspector.get_columns(table.name)}
        assert migrated == {c.name for c in table.columns}, table.name
    catalog.close()
    mode = sqlite3.connect(tmp_path / "c.sqlite3").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_settings_refuse_a_public_bind_without_token(tmp_path: Path):
    with pytest.raises(ValueError, match="token"):
        Settings(data_dir=tmp_path, host="0.0.0.0")
    assert Settings(data_dir=tmp_path, host="0.0.0.0", token="s3cret").token == "s3cret"


def test_settings_from_environment(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("RS_PORT", "5123")
    monkeypatch.setenv("RS_DATA_DIR", str(tmp_path / "d"))
    settings = Settings()
    assert settings.port == 5123
    assert settings.database_url == f"sqlite:///{tmp_path / 'd' / 'catalog.sqlite3'}"
    assert settings.recordings_dir == tmp_path / "d" / "recordings"


def test_source_crud_defaults_duplicates_and_secrets(station):
    events = []
    station.bus.subscribe(events.append)
    created = station.sources.create(SourceIn(uri_rtsp="rtsp://admin:hunter2@10.0.0.1/stream"))
    assert created.name == f"source-{created.id}"
    assert created.uri_rtsp == f"rtsp://admin:{MASK}@10.0.0.1/stream"
    assert CatalogChanged("source", created.id, "created") in events

    with pytest.raises(Conflict) as exc:
        station.sources.create(SourceIn(name=created.name, uri_rtsp=TESTSRC))
    assert exc.value.field == "name"
    assert len(station.sources.list()) == 1  # nothing stored by the refused request

    # Sending the masked URI back keeps the stored password.
    station.sources.update(created.id, SourceIn(uri_rtsp=created.uri_rtsp, description="lobby"))
    with station.catalog.session() as s:
        assert s.get(Source, created.id).uri_rtsp == "rtsp://admin:hunter2@10.0.0.1/stream"

    pic = station.sources.create(SourceIn(model="PictureSource", name="snap", uri_http_picture=HttpPicture(
        uri="http://cam/snap.jpg", auth="digest", user="u", password="pw")))
    assert pic.uri_http_picture.password == MASK

    with pytest.raises(InvalidInput) as exc:
        station.sources.create(SourceIn(name="bad", uri_rtsp="gopher://x"))
    assert exc.value.field == "uri_rtsp"
    with pytest.raises(InvalidInput) as exc:
        station.sources.create(SourceIn(name="nouri"))
    assert exc.value.field == "uri_rtsp"
    with pytest.raises(InvalidInput) as exc:
        station.sources.create(SourceIn(name="cmd", uri_rtsp=TESTSRC, ffmpeg_cmd="-filter_complex x"))
    assert "-filter_complex" in exc.value.message

    deleted = station.sources.delete(created.id)
    assert deleted.id == created.id
    with pytest.raises(NotFound):
        station.sources.get(created.id)


def test_groups_and_membership(station):
    a = station.sources.create(SourceIn(name="a", uri_rtsp=TESTSRC))
    group = station.groups.create(GroupIn(name="hall"))
    with pytest.raises(Conflict):
        station.groups.create(GroupIn(name="hall"))
    assert station.groups.add_source(group.id, a.id) is True
    assert station.groups.add_source(group.id, a.id) is False
    assert [s.name for s in station.groups.get(group.id).sources] == ["a"]
    assert station.groups.remove_source(group.id, a.id) is True
    assert station.groups.remove_source(group.id, a.id) is False
    with pytest.raises(NotFound):
        station.groups.add_source(group.id, 999)
    assert station.groups.delete(group.id).name == "hall"
    assert station.groups.list() == []


def test_start_stop_records_files_and_events(station):
    events = []
    station.bus.subscribe(events.append)
    _, ids = group_of_testsrc(station)
    time.sleep(1.2)  # a full GOP of pre-roll is buffered
    started = station.recordings.start("shift-1", "g")
    assert {r.source.id for r in started} == set(ids)
    assert all(r.status.value == "recording" for r in started)
    again = station.recordings.start("shift-1", "g")  # idempotent per source
    assert [r.id for r in again] == [r.id for r in started]
    assert station.recordings.is_running("shift-1")
    assert station.recordings.running_tags() == ["shift-1"]
    time.sleep(2.0)
    stopped = station.recordings.stop("shift-1")
    assert not station.recordings.is_running("shift-1")
    for record in stopped:
        assert record.status.value == "finished", record.error
        info = decode_video(record.location)
        assert info["codec"] == "h264" and info["frames"] >= 40 and info["monotonic"]
        assert record.hash_md5 == md5_of(Path(record.location))
        assert abs(record.duration_s - info["duration"]) < 0.2
    assert sum(isinstance(e, RecordingStarted) for e in events) == 2
    assert sum(isinstance(e, RecordingStopped) for e in events) == 2
    tag = station.recordings.tag("shift-1")
    assert {r.id for r in tag.records} == {r.id for r in stopped}

    with pytest.raises(NotFound):
        station.recordings.start("x", "no-such-group")
    with pytest.raises(Conflict):  # a source cannot be deleted while it records ...
        station.recordings.start("shift-2", "g")
        station.sources.delete(ids[0])
    station.recordings.stop("shift-2")


def test_delete_file_only_the_records_own_file(station, tmp_path: Path):
    group_of_testsrc(station, 1)
    station.recordings.start("t", "g")
    time.sleep(1.0)
    (record,) = station.recordings.stop("t")
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    with pytest.raises(InvalidInput):
        station.recordings.delete_file(record.id, str(outside))
    with pytest.raises(InvalidInput):
        station.recordings.delete_file(record.id, record.location + "/../x")
    assert outside.exists() and Path(record.location).exists()
    deleted = station.recordings.delete_file(record.id, record.location)
    assert deleted.status.value == "deleted" and not Path(record.location).exists()


def test_crash_left_records_are_closed_as_interrupted(tmp_path: Path):
    settings = make_settings(tmp_path)
    st = build_station(settings)
    start_station(st)
    group_of_testsrc(st, 1)
    (rec,) = st.recordings.start("crash", "g")
    time.sleep(1.5)
    # Simulate a crash: the process vanishes without finalizing (the file is only flushed).
    st.recorder.shutdown()
    st.catalog.close()

    st2 = build_station(settings)
    start_station(st2)
    try:
        after = st2.recordings.get(rec.id)
        assert after.status.value == "interrupted"
        assert after.end_utc is not None and after.hash_md5 == md5_of(Path(after.location))
        assert decode_video(after.location)["frames"] > 10
        with st2.catalog.session() as s:
            assert s.get(Record, rec.id).running_key is None
    finally:
        stop_station(st2)


def test_no_recording_starts_under_the_disk_floor(tmp_path: Path):
    st = build_station(make_settings(tmp_path))
    st.recordings.disk_floor_bytes = (1 << 40) << 20  # more than any disk has
    start_station(st)
    try:
        group_of_testsrc(st, 1)
        with pytest.raises(StorageFull):
            st.recordings.start("full", "g")
        assert st.recordings.list() == [] and not st.recordings.is_running("full")
        with pytest.raises(NotFound):
            st.recordings.tag("full")  # nothing stored by the refused request
    finally:
        stop_station(st)
