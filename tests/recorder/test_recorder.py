"""The recorder on its own (no catalog): real RTSP camera, the test pattern, files decoded back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from recorder.frames import Demand
from recorder.manager import RecorderManager
from recorder.worker import SourceSpec
from tests.conftest import TESTSRC, decode_video, md5_of, wait_until


@pytest.fixture
def manager():
    statuses: list[tuple] = []
    m = RecorderManager(on_status=lambda *a: statuses.append(a))
    m.statuses = statuses
    yield m
    m.shutdown()


def _keyframe_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [float(p.pts * s.time_base) for p in c.demux(s) if p.is_keyframe and p.pts is not None]


def test_rtsp_recording_starts_at_preroll_keyframe_and_is_stream_copy(manager, rtsp_camera_small, tmp_path):
    manager.ensure_source(SourceSpec(1, "cam", rtsp_camera_small.url))
    wait_until(lambda: manager.status(1)[0] == "online", 20, message="online")
    time.sleep(1.5)
    t0 = time.monotonic()
    begin = manager.start_recording(1, "r1", tmp_path / "r1.mp4")
    assert time.monotonic() - t0 < 0.1  # the call returns at once
    assert begin is not None and time.time() - 1.1 <= begin <= time.time()  # GOP of 1 s
    time.sleep(3)
    t0 = time.monotonic()
    result = manager.stop_recording(1, "r1")
    assert time.monotonic() - t0 < 0.5
    assert result.error is None and result.md5 == md5_of(result.path)
    info = decode_video(result.path)
    assert info["codec"] == "h264" and (info["width"], info["height"]) == (640, 360)
    assert info["first_pts"] == 0 and info["monotonic"]
    assert 3.0 <= info["duration"] <= 4.3 and info["frames"] >= 75
    assert _keyframe_times(result.path)[0] == 0.0
    # stream copy: the packets are the camera's own (same count as frames, no re-encode)
    assert result.packets == info["frames"]


def test_camera_restart_continues_the_same_file_with_a_gap(manager, rtsp_camera_small, tmp_path):
    manager.ensure_source(SourceSpec(1, "cam", rtsp_camera_small.url))
    wait_until(lambda: manager.status(1)[0] == "online", 20, message="online")
    manager.start_recording(1, "r", tmp_path / "r.mp4")
    time.sleep(2)
    rtsp_camera_small.kill()
    wait_until(lambda: manager.status(1)[0] != "online", 15, message="offline")
    time.sleep(1)
    rtsp_camera_small.start()
    wait_until(lambda: manager.status(1)[0] == "online", 30, message="back online")
    time.sleep(2)
    result = manager.stop_recording(1, "r")
    assert result.error is None
    assert result.gaps, "the outage must show as a gap"
    gap_start, gap_end = result.gaps[0]
    assert gap_end - gap_start >= 0.9
    info = decode_video(result.path)
    assert info["monotonic"] and info["frames"] >= 75
    assert info["duration"] >= 5.0  # before + gap + after
    assert any(s[1] == "offline" for s in manager.statuses)


def test_frames_follow_demand(manager):
    manager.ensure_source(SourceSpec(2, "pattern", TESTSRC))
    wait_until(lambda: manager.status(2)[0] == "online", 10, message="online")
    slot = manager.frames(2)
    time.sleep(0.5)
    assert slot.latest() is None  # nobody watches: nothing decoded
    token = slot.watch(Demand.ALL)
    frame = slot.wait_newer(0, 3)
    assert frame is not None and frame.rgb.shape == (240, 320, 3)
    seq = frame.seq
    time.sleep(1)
    assert slot.latest().seq - seq >= 15  # every frame at 25 fps
    slot.change(token, Demand.KEYFRAMES)
    time.sleep(0.3)
    seq = slot.latest().seq
    time.sleep(2.1)
    assert 1 <= slot.latest().seq - seq <= 4  # one per GOP (1 s)
    slot.unwatch(token)
    _, jpeg1 = slot.jpeg()
    assert slot.jpeg()[1] is jpeg1  # encoded once per frame


_KILL_SCRIPT = """
import sys, time
from pathlib import Path
from recorder.manager import RecorderManager
from recorder.worker import SourceSpec
m = RecorderManager()
m.ensure_source(SourceSpec(1, "p", sys.argv[1]))
while m.status(1)[0] != "online":
    time.sleep(0.05)
m.start_recording(1, "k", Path(sys.argv[2]))
print("recording", flush=True)
time.sleep(60)
"""


def test_sigkill_mid_file_leaves_a_decodable_file(tmp_path):
    path = tmp_path / "killed.mp4"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, TESTSRC, str(path)],
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    try:
        assert proc.stdout.readline().strip() == "recording"
        time.sleep(3)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    info = decode_video(path)
    assert info["frames"] >= 50 and info["monotonic"]


def test_a_new_viewer_sees_the_newest_keyframe_at_once(manager):
    """A tile opened between two keyframes shows the last one now, not a GOP later: with a
    keyframe every 4 s, a viewer arriving 1 s after one gets a picture within a second, and
    it is that keyframe's picture (decoded once; frames after it wait for the next keyframe)."""
    manager.ensure_source(SourceSpec(5, "long-gop", "testsrc://testsrc2?size=320x240&rate=25&gop=4"))
    wait_until(lambda: manager.status(5)[0] == "online", 10, message="online")
    slot = manager.frames(5)
    time.sleep(1.0)  # the first keyframe came at once; the next is 3 s away
    asked = time.time()
    slot.watch(Demand.KEYFRAMES)
    frame = slot.wait_newer(0, 1.0)
    assert frame is not None, "no picture until the next keyframe"
    assert frame.wall_time < asked - 0.5, "the picture must be the keyframe already received"
    time.sleep(1.5)
    assert slot.latest().seq == frame.seq, "only that keyframe until the next one"


def test_a_focused_viewer_plays_on_from_the_newest_keyframe_group(manager):
    """A focused view (every frame) opened mid-GOP shows the current picture at once and plays
    on from it, rather than freezing on a keyframe until the next one 3 s later."""
    manager.ensure_source(SourceSpec(6, "long-gop", "testsrc://testsrc2?size=320x240&rate=25&gop=4"))
    wait_until(lambda: manager.status(6)[0] == "online", 10, message="online")
    slot = manager.frames(6)
    time.sleep(1.0)
    slot.watch(Demand.ALL)
    first = slot.wait_newer(0, 1.0)
    assert first is not None and time.time() - first.wall_time < 0.5, "the current picture, now"
    time.sleep(1.0)
    assert slot.latest().seq - first.seq >= 20, "every frame after it, without waiting a GOP"
