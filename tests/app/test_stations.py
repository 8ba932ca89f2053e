"""The station registry (app.site.stations) with two real stations in this process on one
catalog, SQLite file and PostgreSQL server alike: registration, heartbeats carrying the
sources' status, offline after 15 s or at once on a clean stop, adoption of rows from before,
a source moved from one station to the other, and the owner's sources left alone while it is
away."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from app.errors import Conflict, InvalidInput, Unavailable
from app.models import Source, Station, SyncJob, utcnow
from app.schemas import SourceIn
from app.station import build_station, start_station, stop_station
from tests.conftest import TESTSRC, make_settings


@pytest.fixture
def shared_url(tmp_path: Path, database_url: str | None) -> str:
    return database_url or f"sqlite:///{tmp_path / 'shared.sqlite3'}"


@pytest.fixture
def pair(tmp_path: Path, shared_url: str):
    stations = []
    for name in ("north", "south"):
        st = build_station(make_settings(tmp_path / name, database_url=shared_url,
                                         station_name=name))
        start_station(st)
        stations.append(st)
    yield stations
    for st in stations:
        stop_station(st)


def wait_online(st, source_id: int, timeout: float = 20) -> None:
    import time

    deadline = time.monotonic() + timeout
    while st.sources.get(source_id).status != "online":
        assert time.monotonic() < deadline, st.sources.get(source_id)
        time.sleep(0.1)


def test_two_stations_see_each_other_and_each_others_sources(pair):
    north, south = pair
    assert north.station_id != south.station_id
    listed = {s.id: s for s in north.site.list()}
    assert set(listed) == {north.station_id, south.station_id}
    assert listed[north.station_id].this and not listed[south.station_id].this
    assert all(s.online for s in listed.values()) and listed[south.station_id].name == "south"

    cam = south.sources.create(SourceIn(name="cam-s", uri_rtsp=TESTSRC))
    assert cam.station == south.station_id
    assert not north.recorder.has_source(cam.id) and south.recorder.has_source(cam.id)
    wait_online(south, cam.id)
    south.site.beat()  # its heartbeat carries the status...
    north.site.beat()  # ...which north reads with its own
    seen = north.sources.get(cam.id)
    assert seen.station == south.station_id and seen.status == "online"
    assert north.site.list()[[s.id for s in north.site.list()].index(south.station_id)].sources \
        == [cam.id]

    # a clean stop: offline at once, with the reason
    stop_station(south)
    north.site.beat()
    gone = next(s for s in north.site.list() if s.id == south.station_id)
    assert not gone.online and "stopped" in gone.offline_reason
    status = north.sources.get(cam.id)
    assert status.status == "offline" and "south" in status.error
    with pytest.raises(Conflict, match="south"):  # nothing of it is changed by others
        north.sources.update(cam.id, SourceIn(description="behind its back"))
    start_station(south)  # the fixture stops it again


def test_a_station_not_seen_for_15_s_is_offline(pair):
    north, south = pair
    cam = south.sources.create(SourceIn(name="cam-s", uri_rtsp=TESTSRC))
    south.site.stop()  # no more beats (the station itself goes on: a frozen machine)
    with north.catalog.session() as s:
        s.exec(update(Station).where(Station.id == south.station_id)
               .values(stopped=False, last_seen_utc=utcnow() - timedelta(seconds=14)))
    north.site.beat()
    assert north.site.offline_reason(south.station_id) is None  # 14 s: still online
    with north.catalog.session() as s:
        s.exec(update(Station).where(Station.id == south.station_id)
               .values(last_seen_utc=utcnow() - timedelta(seconds=20)))
    north.site.beat()
    assert "not seen for 20 s" in north.site.offline_reason(south.station_id)
    assert north.sources.get(cam.id).status == "offline"
    with pytest.raises(Conflict):
        north.sources.delete(cam.id)
    south.site.start()  # back: online at once
    assert north.site.offline_reason(south.station_id, fresh=True) is None


def test_a_source_moves_to_another_station(pair):
    north, south = pair
    cam = north.sources.create(SourceIn(name="cam-n", uri_rtsp=TESTSRC))
    assert north.recorder.has_source(cam.id)
    with pytest.raises(Conflict):  # not to a station nobody knows
        north.sources.update(cam.id, SourceIn(station="nowhere"))
    moved = north.sources.update(cam.id, SourceIn(station=south.station_id))
    assert moved.station == south.station_id and not north.recorder.has_source(cam.id)
    south.site.beat()  # south reconciles after its beat: it reads the source now
    assert south.recorder.has_source(cam.id)
    wait_online(south, cam.id)
    with pytest.raises(Unavailable, match="public_url"):  # north asks south (no API here)
        north.recordings.start_sources("moved", [cam.id])
    assert not north.recordings.running_ids()  # and never records it itself
    (record,) = south.recordings.start_sources("moved", [cam.id])
    assert record.station == south.station_id
    south.recordings.stop("moved")


def test_rows_from_before_are_adopted_by_the_first_station(tmp_path: Path, shared_url: str):
    first = build_station(make_settings(tmp_path / "a", database_url=shared_url))
    with first.catalog.session() as s:
        s.add(Source(name="legacy", uri_rtsp=TESTSRC))  # written by an older version: no owner
    start_station(first)
    try:
        (legacy,) = first.sources.list()
        assert legacy.station == first.station_id and first.recorder.has_source(legacy.id)
    finally:
        stop_station(first)


def test_each_station_syncs_and_offers_only_what_is_on_its_disk(pair, tmp_path: Path):
    north, south = pair
    cam = north.sources.create(SourceIn(name="cam-n", uri_rtsp=TESTSRC))
    south.sources.create(SourceIn(name="cam-s", uri_rtsp=TESTSRC))
    wait_online(north, cam.id)
    north.recordings.start_sources("day", [cam.id])
    import time
    time.sleep(1.5)
    north.recordings.stop("day")
    with pytest.raises(InvalidInput, match="on this station"):  # the file is on north's disk
        south.sync.create("day", str(south.settings.sync_dirs[0]))
    job_id = north.sync.create("day", str(north.settings.sync_dirs[0]))
    with north.catalog.session() as s:
        assert s.get(SyncJob, job_id).station_id == north.station_id  # north runs and resumes it
    assert not south.sync.busy_record_ids()  # south neither runs nor guards north's job
    # a Device Connect service is one station's recorders: its own cameras only
    assert [r.source.name for r in north.media_recorders.recorders()] == ["cam-n"]
    assert [r.source.name for r in south.media_recorders.recorders()] == ["cam-s"]
