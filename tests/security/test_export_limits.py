"""Issue #21 item 3, on the real aiohttp app and the real services of one station core: the
work space of exports in bytes and in room. tests/security/test_exports.py attacks a station
process with readers that never read; here the leases are held through the export service
itself (what an unread answer holds), so the byte caps, the disk floor, the operator's own
export and retention are driven exactly:
- the bytes of work files are capped per client (429) and in all (503), on every export route;
- an export the disk has no room for above `disk_floor_mb` is 507, the GUI's export into a
  folder on the recordings' disk is refused the same way, one on another disk is not;
- a work file that outgrows its estimate needs room above the floor for it;
- retention leaves the records being cut, and deletes them once the cut is done;
- exports being cut or sent are capped in all (503), whoever asks;
- a client is its address, an IPv6 client its /64, all of loopback one client.
"""

from __future__ import annotations

import math
import os
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from api.app import create_app
from api.native.export import export_client
from app.errors import StorageFull
from app.models import utcnow
from app.recordings.export_space import ExportLimits, WorkSpace
from app.schemas import SourceIn
from app.station import apply_settings, build_station, start_station, stop_station
from tests.conftest import TESTSRC, make_settings, wait_until
from tests.support.small_disk import small_tmpfs

MB = 1 << 20


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """One test-pattern source recorded about 3 s (an export of it is estimated at 1-2 MB:
    its bytes and 1 MiB of margin); each test sets the caps it attacks."""
    station = build_station(make_settings(
        tmp_path_factory.mktemp("limits"), export_max_files=10, export_max_files_per_client=10))
    start_station(station)
    source_id = station.sources.create(SourceIn(name="cam", uri_rtsp=TESTSRC)).id
    wait_until(lambda: station.sources.get(source_id).status.value == "online", 15,
               message="cam online")
    (record,) = station.recordings.start_sources("t", [source_id])
    started = time.monotonic()
    wait_until(lambda: time.monotonic() - started > 3 and os.path.getsize(record.location) > 0,
               10, message="3 s recorded")
    (record,) = station.recordings.stop("t")
    yield station, source_id, record
    stop_station(station)


@pytest.fixture
async def client(aiohttp_client, recorded):
    return await aiohttp_client(create_app(recorded[0]))


def _range(record):
    return {"begin": record.begin_utc, "end": record.end_utc}


def _span(record) -> tuple[datetime, datetime]:
    return tuple(datetime.fromisoformat(t.replace("Z", "+00:00"))
                 for t in (record.begin_utc, record.end_utc))


def _hold(station, source_id, record, client):
    """An export `client` asked for and has not read (its lease held)."""
    return station.exports.export([source_id], *_span(record), client=client)


async def test_work_file_bytes_are_capped_per_client_and_in_all(client, recorded):
    station, source_id, record = recorded
    before = station.settings
    held = _hold(station, source_id, record, "loopback")  # the test client's (127.0.0.1)
    one = held.lease.reserved
    assert one > 1 * MB, one  # the bytes and 1 MiB of margin
    # Per client: room for one such export, not two; in all: for two, not three.
    apply_settings(station, before.model_copy(update={
        "export_max_mb_per_client": math.ceil(one / MB), "export_max_mb": math.ceil(2 * one / MB)}))
    assert math.ceil(one / MB) * MB < 2 * one and math.ceil(2 * one / MB) * MB < 3 * one
    try:
        for url, params in ((f"/api/v1/source/{source_id}/export", _range(record)),
                            ("/api/v1/export", {**_range(record), "source_ids": str(source_id)})):
            response = await client.get(url, params=params)
            assert response.status == 429, await response.text()
            assert "MB of work files" in (await response.json())["detail"]
            assert int(response.headers["Retry-After"]) >= 1
        station.exports.discard(held)
        # Two other clients hold two of them: this client's first is within its own share,
        # but not within everyone's.
        held = [_hold(station, source_id, record, who) for who in ("192.0.2.7", "192.0.2.8")]
        response = await client.get(f"/api/v1/source/{source_id}/export", params=_range(record))
        assert response.status == 503, await response.text()
        assert "try again later" in (await response.json())["detail"]
    finally:
        for export in held if isinstance(held, list) else [held]:
            station.exports.discard(export)
        apply_settings(station, before)
    response = await client.get(f"/api/v1/source/{source_id}/export", params=_range(record))
    assert response.status == 200 and len(await response.read()) > 10_000
    # The lease leaves the table just after its files are removed (release's order): wait
    # for both.
    wait_until(lambda: not list(station.exports.work_dir.iterdir())
               and station.exports.space.outstanding_bytes() == 0, 5,
               message="the sent export's work file removed and its lease released")


async def test_exports_being_cut_or_sent_are_capped_in_all(client, recorded):
    station, source_id, record = recorded
    before = station.settings
    apply_settings(station, before.model_copy(update={"export_max_files": 2}))
    held = [_hold(station, source_id, record, who) for who in ("192.0.2.7", "2001:db8::/64")]
    try:
        response = await client.get(f"/api/v1/source/{source_id}/export", params=_range(record))
        assert response.status == 503, await response.text()
        assert "2 exports are being cut or sent already" in (await response.json())["detail"]
        assert int(response.headers["Retry-After"]) >= 1
    finally:
        for export in held:
            station.exports.discard(export)
        apply_settings(station, before)
    response = await client.get(f"/api/v1/source/{source_id}/export", params=_range(record))
    assert response.status == 200


async def test_no_room_above_the_floor_is_507_for_every_export_of_the_recordings_disk(
        client, recorded, tmp_path):
    station, source_id, record = recorded
    before = station.settings
    disk = os.statvfs(station.settings.recordings_dir)
    floor_mb = disk.f_bavail * disk.f_frsize // MB + 64  # other programs may free some meanwhile
    apply_settings(station, before.model_copy(update={"disk_floor_mb": floor_mb}))
    try:
        response = await client.get(f"/api/v1/source/{source_id}/export", params=_range(record))
        assert response.status == 507, await response.text()
        assert "disk floor" in (await response.json())["detail"]
        begin, end = _span(record)
        # The operator's export into a folder on the recordings' disk: refused alike.
        with pytest.raises(StorageFull):
            station.exports.export_to([source_id], begin, end, tmp_path)
        assert not list(tmp_path.iterdir())
        # Into a folder on another filesystem, it takes nothing from the recordings' floor.
        other = Path("/dev/shm")
        if not other.is_dir() or other.stat().st_dev == tmp_path.stat().st_dev:
            pytest.skip("no second filesystem to export to")
        folder = other / f"export-limits-{os.getpid()}"
        folder.mkdir()
        try:
            (written,) = station.exports.export_to([source_id], begin, end, folder)
            assert written.stat().st_size > 10_000
        finally:
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
    finally:
        apply_settings(station, before)
    assert station.exports.space.outstanding_bytes() == 0


def test_an_ipv6_client_is_its_slash_64():
    class Transport:
        """What aiohttp reads the peer's address from."""

        def __init__(self, address: str):
            self.address = address

        def get_extra_info(self, name: str, default=None):
            return (self.address, 1234, 0, 0) if name == "peername" else default

    def key(address: str) -> str:
        return export_client(make_mocked_request("GET", "/", transport=Transport(address)))

    assert key("2001:db8::1") == key("2001:db8::ffff:1") == "2001:db8::/64"
    assert key("2001:db8:0:1::1") != key("2001:db8::1")
    assert key("::ffff:192.0.2.1") == key("192.0.2.1") == "192.0.2.1"
    assert key("192.0.2.1") != key("192.0.2.2")
    # Any local program may bind any loopback address: rotating through them gains nothing.
    assert key("127.0.0.1") == key("127.0.0.2") == key("127.9.9.9") == key("::1") \
        == key("::ffff:127.0.0.3") == "loopback"


def test_retention_leaves_the_records_being_cut(recorded, monkeypatch, tmp_path):
    """Last: it deletes the module's footage."""
    station, source_id, record = recorded
    monkeypatch.setattr("recorder.export.PROGRESS_EVERY", 1)
    cutting, go_on = threading.Event(), threading.Event()

    def held(_fraction: float) -> None:
        cutting.set()
        go_on.wait(10)

    begin, end = _span(record)
    worker = threading.Thread(target=lambda: station.exports.export_to(
        [source_id], begin, end, tmp_path, progress=held))
    worker.start()
    storage = station.storage
    monkeypatch.setattr(storage, "now", lambda: utcnow() + timedelta(days=30))
    try:
        assert cutting.wait(10)
        assert record.id in storage.busy()
        storage.configure(floor_bytes=0, retention_days=1, retention_max_gb=0)
        storage.retention_pass()
        assert station.recordings.get(record.id).status.value == "finished"
        assert Path(record.location).exists()
    finally:
        go_on.set()
        worker.join(10)
    assert [p.suffix for p in tmp_path.iterdir()] == [".mp4"]
    assert record.id not in storage.busy()
    storage.retention_pass()  # the cut is done: the footage is old, it goes
    assert station.recordings.get(record.id).status.value == "deleted"


def test_a_work_file_that_outgrows_its_reservation_needs_room_for_it(tmp_path):
    """The work space alone on an 8 MB tmpfs of its own (no other writer moves its free
    space) with a 4 MB floor: a file written past its estimate reserves more while there is
    room above the floor, and is refused (StorageFull) once there is none."""
    with small_tmpfs(tmp_path / "disk", "8m") as disk:
        space = WorkSpace(disk / ".exports", disk, lambda: ExportLimits(floor_bytes=4 * MB))
        lease = space.take("192.0.2.7", 1 * MB)
        path = space.work_file(lease, ".mp4")
        path.write_bytes(b"\0" * (2 * MB))   # past the 1 MB estimate: 2.5 MB reserved now
        space.progress(lease)
        assert lease.reserved == int(2 * MB * 1.25)
        assert space.outstanding_bytes() == lease.reserved - 2 * MB
        with pytest.raises(StorageFull):   # another export may not take that room
            space.take("192.0.2.8", 2 * MB)
        with open(path, "ab") as fh:      # 3.5 MB: 4.4 MB would leave the disk under its floor
            fh.write(b"\0" * (3 * MB // 2))
        with pytest.raises(StorageFull):
            space.progress(lease)
        space.release(lease)
        assert not path.exists() and space.outstanding_bytes() == 0
