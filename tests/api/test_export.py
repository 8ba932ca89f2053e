"""Exports of any time range on a real station: test-pattern sources recorded with files
rolled over every 2 s, then cut through the native API. The exported packets are checked
byte for byte against the recorded files' (from the keyframe at or before `begin`, across a
file boundary), the edit list against the first frame shown, and Range and the zip on the
wire."""

from __future__ import annotations

import hashlib
import io
import struct
import time
import zipfile
from datetime import datetime, timedelta, timezone

import av
import pytest

from api.app import create_app
from app.schemas import SourceIn
from app.station import build_station, start_station, stop_station
from tests.conftest import TESTSRC, make_settings, wait_until


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Two test-pattern sources (1 s GOP) recorded ~5 s under one tag, a file every 2 s."""
    station = build_station(make_settings(tmp_path_factory.mktemp("export"), segment_s=2))
    start_station(station)
    ids = [station.sources.create(SourceIn(name=f"cam{i}", uri_rtsp=TESTSRC)).id for i in (1, 2)]
    for source_id in ids:
        wait_until(lambda: station.sources.get(source_id).status.value == "online", 15,
                   message="cam online")
    station.recordings.start_sources("t", ids)
    time.sleep(5.5)
    station.recordings.stop("t")
    yield station, ids
    stop_station(station)


@pytest.fixture
async def client(aiohttp_client, recorded):
    return await aiohttp_client(create_app(recorded[0]))


def _records(station, source_id):
    rows = [r for r in station.recordings.list("t") if r.source.id == source_id]
    assert len(rows) >= 2, "the recording rolled over"
    return sorted(rows, key=lambda r: r.begin_utc)


def _utc(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _wall_packets(station, source_id):
    """(wall seconds of dts, pts-in-file seconds, is_keyframe, bytes) of every video packet of
    the source's files, in order; a file's zero is its record's begin (exact, from the
    catalog row rather than the answer's milliseconds)."""
    from app.models import Record

    out = []
    for record in _records(station, source_id):
        with station.catalog.session() as s:
            begin = s.get(Record, record.id).begin_utc.replace(tzinfo=timezone.utc).timestamp()
        with av.open(record.location) as container:
            stream = container.streams.video[0]
            for p in container.demux(stream):
                if p.size:
                    out.append((begin + float(p.dts * p.time_base), bytes(p), p.is_keyframe))
    return out


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat().replace("+00:00", "Z")


def _range_across_boundary(station, source_id):
    """begin on a frame mid-GOP before the first rollover, end past it, mid-GOP too."""
    packets = _wall_packets(station, source_id)
    second = _records(station, source_id)[1]
    from app.models import Record
    with station.catalog.session() as s:
        boundary = s.get(Record, second.id).begin_utc.replace(tzinfo=timezone.utc).timestamp()
    before = [p for p in packets if p[0] < boundary - 0.3 and not p[2]]
    begin = before[-1][0]  # a delta frame a little before the boundary
    end = boundary + 0.5
    return packets, begin, end


def _elst_media_time(data: bytes) -> tuple[int, int]:
    """(media_time of the video track's first edit, its mdhd timescale)."""
    at = data.index(b"elst")
    version = data[at + 4]
    media_time = (struct.unpack(">q", data[at + 20:at + 28])[0] if version else
                  struct.unpack(">i", data[at + 16:at + 20])[0])
    mdhd = data.index(b"mdhd", at)
    scale = struct.unpack(">I", data[mdhd + 24 if data[mdhd + 4] else mdhd + 16:][:4])[0]
    return media_time, scale


def _first_frame(path_or_bytes, at: float | None = None):
    """(pts seconds, picture md5) of the first frame decoded (edit list applied by FFmpeg),
    or of the frame at file second `at`."""
    source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    with av.open(source) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            t = float(frame.pts * frame.time_base)
            if at is None or abs(t - at) < 0.005:
                return t, hashlib.md5(frame.to_ndarray(format="gray").tobytes()).hexdigest()
    raise AssertionError("no such frame")


async def test_export_copies_the_packets_across_a_file_boundary(client, recorded):
    station, (cam, _other) = recorded
    packets, begin, end = _range_across_boundary(station, cam)
    response = await client.get(f"/api/v1/source/{cam}/export",
                                params={"begin": _iso(begin), "end": _iso(end)})
    assert response.status == 200, await response.text()
    body = await response.read()
    assert int(response.headers["Content-Length"]) == len(body)
    assert response.headers["Content-Type"] == "video/mp4"
    assert "cam1_" in response.headers["Content-Disposition"]

    keyframe = max(p[0] for p in packets if p[2] and p[0] <= begin + 1e-6)
    expected = [p[1] for p in packets if keyframe - 1e-6 <= p[0] < end]
    with av.open(io.BytesIO(body)) as container:
        got = [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]
    assert len(expected) > 25  # more than one GOP, across the boundary
    assert got == expected

    # The edit list hides the keyframe's lead-in: the first frame shown is the one at begin.
    media_time, scale = _elst_media_time(body)
    assert media_time / scale == pytest.approx(begin - keyframe, abs=1.5 / scale)
    first_t, first_picture = _first_frame(body)
    assert first_t == pytest.approx(0.0, abs=1e-3)
    with station.catalog.session():
        record = next(r for r in _records(station, cam) if _utc(r.begin_utc) <= begin + 0.01)
    _, source_picture = _first_frame(record.location, at=begin - _exact_begin(station, record))
    assert first_picture == source_picture

    # Nothing is left behind in the station's work folder.
    assert not list(station.exports.work_dir.glob("*"))


def _exact_begin(station, record) -> float:
    from app.models import Record
    with station.catalog.session() as s:
        return s.get(Record, record.id).begin_utc.replace(tzinfo=timezone.utc).timestamp()


async def test_export_honours_range(client, recorded):
    station, (cam, _other) = recorded
    _packets, begin, end = _range_across_boundary(station, cam)
    params = {"begin": _iso(begin), "end": _iso(end)}
    whole = await (await client.get(f"/api/v1/source/{cam}/export", params=params)).read()
    part = await client.get(f"/api/v1/source/{cam}/export", params=params,
                            headers={"Range": "bytes=100-1099"})
    assert part.status == 206
    assert part.headers["Content-Range"] == f"bytes 100-1099/{len(whole)}"
    assert await part.read() == whole[100:1100]
    tail = await client.get(f"/api/v1/source/{cam}/export", params=params,
                            headers={"Range": f"bytes={len(whole) + 10}-"})
    assert tail.status == 416


async def test_zip_of_two_sources(client, recorded):
    station, ids = recorded
    _packets, begin, end = _range_across_boundary(station, ids[0])
    response = await client.get("/api/v1/export", params={
        "source_ids": ",".join(map(str, ids)), "begin": _iso(begin), "end": _iso(end)})
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "application/zip"
    body = await response.read()
    assert int(response.headers["Content-Length"]) == len(body)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        infos = archive.infolist()
        assert [i.filename.split("_")[0] for i in infos] == ["cam1", "cam2"]
        assert {i.compress_type for i in infos} == {zipfile.ZIP_STORED}
        for info in infos:
            first_t, _ = _first_frame(archive.read(info))
            assert first_t == pytest.approx(0.0, abs=0.05)


async def test_export_refuses_bad_ranges(client, recorded):
    _station, (cam, _other) = recorded
    now = datetime.now(timezone.utc)
    cases = [
        ({"begin": _iso(now.timestamp()), "end": _iso(now.timestamp() - 1)}, 422),
        ({"begin": _iso(now.timestamp()), "end": _iso((now + timedelta(hours=25)).timestamp())}, 422),
        ({"begin": "yesterday", "end": _iso(now.timestamp())}, 422),
        ({"begin": _iso(now.timestamp() - 7200), "end": _iso(now.timestamp() - 3600)}, 404),
    ]
    for params, status in cases:
        response = await client.get(f"/api/v1/source/{cam}/export", params=params)
        assert response.status == status, (params, await response.text())
    missing = await client.get("/api/v1/source/999/export", params=cases[3][0])
    assert missing.status == 404


async def test_export_around_a_bookmark(client, recorded):
    station, (cam, _other) = recorded
    packets, begin, end = _range_across_boundary(station, cam)
    # whole milliseconds: the window the service takes (datetime arithmetic) and the one
    # asked for below are then the same microsecond (float sums differed by one now and
    # then, and the cut's edit list by one tick)
    moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(
        milliseconds=round((begin + end) / 2 * 1000))
    half = timedelta(milliseconds=round((end - begin) / 2 * 1000))
    made = await client.post("/api/v1/bookmark", json={
        "source_id": cam, "time_utc": moment.isoformat().replace("+00:00", "Z"), "title": "door"})
    assert made.status == 200, await made.text()
    mark = (await made.json())["id"]
    around = await client.get(f"/api/v1/bookmark/{mark}/export", params={
        "before_s": str(half.total_seconds()), "after_s": str(half.total_seconds())})
    assert around.status == 200, await around.text()
    assert around.headers["Content-Type"] == "video/mp4"
    body = await around.read()
    # the same footage as the source's export of that range, byte for byte
    direct = await client.get(f"/api/v1/source/{cam}/export",
                              params={"begin": (moment - half).isoformat().replace("+00:00", "Z"),
                                      "end": (moment + half).isoformat().replace("+00:00", "Z")})
    assert direct.status == 200 and await direct.read() == body
    # by default 30 s either side: everything recorded around it (about 5 s)
    whole = await (await client.get(f"/api/v1/bookmark/{mark}/export")).read()

    def frames(data: bytes) -> int:
        with av.open(io.BytesIO(data)) as container:
            return sum(1 for _ in container.decode(video=0))

    recorded_frames = sum(1 for p in packets)
    assert frames(body) < frames(whole) and frames(whole) >= recorded_frames - 2

    gone = station.sources.create(SourceIn(name="gone", uri_rtsp=TESTSRC))
    orphan = await client.post("/api/v1/bookmark", json={
        "source_id": gone.id, "time_utc": moment.isoformat().replace("+00:00", "Z"), "title": "lost"})
    station.sources.delete(gone.id)
    response = await client.get(f"/api/v1/bookmark/{(await orphan.json())['id']}/export")
    assert response.status == 422, await response.text()  # the native API's conflict shape
    (problem,) = (await response.json())["detail"]
    assert problem["loc"] == ["path", "bookmark_id"] and "deleted" in problem["msg"]

    assert (await client.get("/api/v1/bookmark/99999/export")).status == 404
    for bad in ({"before_s": "-1"}, {"after_s": "50000"}, {"before_s": "soon"}):
        response = await client.get(f"/api/v1/bookmark/{mark}/export", params=bad)
        assert response.status == 422, (bad, await response.text())
