"""Reconnect on the real RTSP clip camera: killed for 4 s during a recording and started
again on the same port, the source is online and the same file grows again within 2 s; all
through the outage it retries at least once a second (an idle source's backoff would have
reached 2-4 s by then); the outage is in the result as wall-clock data and the file decodes
across it. An idle source backs off, but `retry_now` (the operator opening it) ends the
wait at once."""

from __future__ import annotations

import time

import pytest

from app.errors import NotFound
from app.schemas import SourceIn
from recorder.manager import RecorderManager
from recorder.worker import SourceSpec
from tests.conftest import _camera, decode_video, md5_of, wait_until
from tests.support.clip import cached_clip

pytestmark = pytest.mark.rtsp
OUTAGE_S = 4.0


@pytest.fixture(scope="module")
def clip():
    return cached_clip(24, width=320, height=240, fps=25, gop_seconds=1, bitrate_kbps=300)


def test_recording_continues_in_the_same_file_within_2_s_of_the_camera_coming_back(clip, tmp_path):
    camera = _camera(clip=clip).start()
    manager = RecorderManager()
    try:
        manager.ensure_source(SourceSpec(1, "clip", camera.url))
        wait_until(lambda: manager.status(1)[0] == "online", 20, message="online")
        time.sleep(1.2)
        manager.start_recording(1, "r", tmp_path / "r.mp4")
        recording = manager._workers[1]._recordings["r"]
        time.sleep(2.5)
        killed_at = time.time()
        camera.kill()
        wait_until(lambda: manager.status(1)[0] != "online", 5, message="offline")
        # retrying at least once a second while recording, not backing off: every wait for
        # the next attempt seen during the outage (an idle backoff's second is 1-2 s)
        longest_wait = 0.0
        while time.time() < killed_at + OUTAGE_S:
            retry_at = manager.live_stats(1).retry_at
            if retry_at is not None:
                longest_wait = max(longest_wait, retry_at - time.time())
            time.sleep(0.05)
        assert 0 < longest_wait <= 1.0, longest_wait
        written = recording.packets
        camera.start()  # listening again on the same port from here on
        back_at = time.time()
        wait_until(lambda: manager.status(1)[0] == "online", 5, interval=0.02,
                   message="back online")
        online_at = time.time()
        wait_until(lambda: recording.packets > written, 5, interval=0.02, message="writing")
        writing_at = time.time()
        time.sleep(2.0)
        result = manager.stop_recording(1, "r")
    finally:
        manager.shutdown()
        camera.stop()
    print(f"camera back -> online {online_at - back_at:.2f} s, writing {writing_at - back_at:.2f} s;"
          f" gap {result.gaps}, killed at {killed_at:.3f}, back at {back_at:.3f}")
    assert online_at - back_at < 2.0 and writing_at - back_at < 2.0, (online_at - back_at,
                                                                      writing_at - back_at)
    assert result.error is None and result.md5 == md5_of(result.path)
    assert len(result.gaps) == 1, result.gaps
    (before, after), = result.gaps  # wall times: last packet before, first packet after
    assert killed_at - 0.6 <= before <= killed_at + 0.1, (before, killed_at)
    assert back_at - 0.1 <= after <= writing_at + 0.1, (after, back_at, writing_at)
    info = decode_video(result.path)
    assert info["monotonic"] and info["frames"] >= 100
    # before + the outage (kept as a gap in the file) + after
    assert info["duration"] >= 3.5 + OUTAGE_S - 0.5 + 2.0


def test_retry_now_ends_a_long_idle_backoff_at_once(station, clip):
    camera = _camera(clip=clip).start()
    try:
        source = station.sources.create(SourceIn(name="idle", uri_rtsp=camera.url))
        wait_until(lambda: station.sources.status(source.id)[0] == "online", 20, message="online")
        worker = station.recorder._workers[source.id]
        worker._backoff.attempt = 8  # as after a long outage: the next wait is 15-30 s
        camera.kill()
        wait_until(lambda: station.sources.live_stats(source.id).retry_at is not None, 10,
                   message="waiting to retry")
        assert station.sources.live_stats(source.id).retry_at - time.time() > 10
        camera.start()
        time.sleep(1.0)
        assert station.sources.status(source.id)[0] != "online"  # still waiting it out
        asked_at = time.monotonic()
        station.sources.retry_now(source.id)
        wait_until(lambda: station.sources.status(source.id)[0] == "online", 5, interval=0.02,
                   message="online after retry_now")
        assert time.monotonic() - asked_at < 2.0
        assert worker._backoff.attempt == 0  # the next outage backs off from the start
        with pytest.raises(NotFound):
            station.sources.retry_now(9999)
    finally:
        camera.stop()
