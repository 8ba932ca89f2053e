"""A recording onto a filesystem that fills up ends `failed` with the reason; the source, its
live picture and the station carry on, and recording works again once there is room."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.schemas import GroupIn, SourceIn
from app.station import build_station, start_station, stop_station
from recorder.frames import Demand
from tests.conftest import decode_video, make_settings, wait_until
from tests.support.small_disk import decodable_frames, small_tmpfs

PATTERN = "testsrc://testsrc2?size=640x360&rate=25&gop=1"



@pytest.fixture
def small_fs(tmp_path: Path):
    with small_tmpfs(tmp_path / "small", "1536k") as mount:
        yield mount


@pytest.mark.parametrize("ffmpeg_cmd", [None, "-c:v libx264 -preset ultrafast -crf 15"],
                         ids=["stream-copy", "re-encoding"])
def test_full_disk_fails_the_record_and_disturbs_nothing_else(tmp_path: Path, small_fs: Path,
                                                              ffmpeg_cmd: str | None):
    station = build_station(make_settings(tmp_path, storage_dir=small_fs / "rec"))
    start_station(station)
    try:
        group = station.groups.create(GroupIn(name="g"))
        src = station.sources.create(SourceIn(name="cam", uri_rtsp=PATTERN, ffmpeg_cmd=ffmpeg_cmd))
        station.groups.add_source(group.id, src.id)
        wait_until(lambda: station.sources.get(src.id).status.value == "online", 10, message="online")
        (record,) = station.recordings.start("fill", "g")
        failed = wait_until(lambda: (r := station.recordings.get(record.id)).status.value == "failed" and r,
                            30, message="the record to fail")
        assert "space" in failed.error.lower(), failed.error
        assert failed.end_utc is not None and failed.hash_md5
        assert not station.recordings.is_running("fill")
        # what was written before the disk filled still plays, up to the cut-off last packet
        assert decodable_frames(failed.location) > 10

        # the source, its live picture and the service carry on
        assert station.sources.get(src.id).status.value == "online"
        slot = station.sources.frames(src.id)
        token = slot.watch(Demand.ALL)
        first = slot.wait_newer(0, 3)
        assert slot.wait_newer(first.seq, 3).seq > first.seq
        slot.unwatch(token)

        # room again: recording works again
        Path(failed.location).unlink()
        (again,) = station.recordings.start("after", "g")
        time.sleep(1.0)
        (again,) = station.recordings.stop("after")
        assert again.status.value == "finished", again.error
        assert decode_video(again.location)["frames"] >= 20
    finally:
        stop_station(station)
