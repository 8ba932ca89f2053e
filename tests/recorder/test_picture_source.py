"""HTTP snapshot cameras (PictureSource) through the real services: basic and digest auth,
recorded as a video of the snapshots stamped with their capture times."""

from __future__ import annotations

import time
from pathlib import Path

import av
import pytest

from app.schemas import GroupIn, HttpPicture, SourceIn
from tests.conftest import md5_of, wait_until


@pytest.mark.parametrize("auth", ["basic", "digest"])
def test_snapshot_camera_is_recorded_as_a_video_of_its_snapshots(station, snapshot_camera, auth):
    source = station.sources.create(SourceIn(model="PictureSource", name=f"snap-{auth}",
                                             uri_http_picture=HttpPicture(
                                                 uri=snapshot_camera.url(auth), auth=auth, user="admin",
                                                 password="s3cret", interval=0.2)))
    assert source.uri_http_picture.password == "******"
    group = station.groups.create(GroupIn(name="snaps"))
    station.groups.add_source(group.id, source.id)
    wait_until(lambda: station.sources.get(source.id).status.value == "online", 10, message="online")
    jpeg = station.sources.picture_jpeg(source.id)
    assert jpeg[:2] == b"\xff\xd8"

    (record,) = station.recordings.start("snaps-1", "snaps", model="PictureSource")
    time.sleep(2.0)
    (record,) = station.recordings.stop("snaps-1")
    assert record.status.value == "finished", record.error
    assert record.hash_md5 == md5_of(Path(record.location))
    with av.open(record.location) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "mjpeg"
        frames = [(f.pts * stream.time_base, f.to_ndarray(format="gray")) for f in container.decode(stream)]
    assert 8 <= len(frames) <= 13  # 2 s at one snapshot per 0.2 s (plus the pre-roll picture)
    times = [float(t) for t, _ in frames]
    assert times[0] == 0 and all(b > a for a, b in zip(times, times[1:]))
    steps = [b - a for a, b in zip(times, times[1:])]
    assert all(0.1 < s < 0.4 for s in steps), steps  # capture times, not a fixed frame rate
    assert any(abs(int(a.mean()) - int(b.mean())) > 0 or (a != b).any()
               for (_, a), (_, b) in zip(frames, frames[1:]))  # the pictures change


def test_wrong_credentials_put_the_source_offline_with_the_reason(station, snapshot_camera):
    source = station.sources.create(SourceIn(model="PictureSource", name="bad", uri_http_picture=HttpPicture(
        uri=snapshot_camera.url("digest"), auth="digest", user="admin", password="wrong", interval=0.2)))
    wait_until(lambda: station.sources.get(source.id).error, 10, message="an error")
    out = station.sources.get(source.id)
    assert out.status.value == "offline" and "authentication failed" in out.error
    assert snapshot_camera.failures >= 1 and snapshot_camera.served == 0
