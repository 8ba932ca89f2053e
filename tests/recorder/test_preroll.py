"""Pre-roll in seconds: a recording begins at the last keyframe at least `preroll_s` before
Start, the buffer stays within its byte cap, and a change applies to a running source."""

from __future__ import annotations

import time

import pytest

from recorder.manager import RecorderManager
from recorder.worker import SourceSpec
from tests.conftest import decode_video, wait_until

PATTERN = "testsrc://testsrc2?size=320x240&rate=25&gop=0.5"  # a keyframe every 0.5 s


@pytest.fixture
def manager():
    m = RecorderManager(preroll_s=2.0)
    yield m
    m.shutdown()


def _reaches_back(manager: RecorderManager, source_id: int, seconds: float | None = None) -> float:
    """How far back (s) a recording started now would begin: the recorder's own buffer."""
    try:
        return time.time() - manager._workers[source_id].preroll.begin_at(seconds)
    except (IndexError, TypeError):  # empty, or changed by the reader thread meanwhile
        return 0.0


def _record(manager: RecorderManager, source_id: int, path, seconds: float = 1.0):
    begin = manager.start_recording(source_id, path.stem, path)
    started = time.time()
    time.sleep(seconds)
    result = manager.stop_recording(source_id, path.stem)
    return begin, started, result


def test_recording_reaches_back_preroll_seconds(manager, tmp_path):
    manager.ensure_source(SourceSpec(1, "p", PATTERN))
    wait_until(lambda: manager.status(1)[0] == "online", 10, message="online")
    wait_until(lambda: _reaches_back(manager, 1) >= 2.0, 10, message="the pre-roll filled")
    begin, started, result = _record(manager, 1, tmp_path / "a.mp4")
    # at least 2 s; at most 2 s + two GOPs (trimmed when a keyframe arrives, not at Start)
    assert begin is not None and started - 3.1 <= begin <= started - 2.0
    info = decode_video(result.path)
    assert info["monotonic"] and 2.9 <= info["duration"] <= 4.2


def test_preroll_changes_on_a_running_source_and_respects_the_byte_cap(manager, tmp_path):
    manager.ensure_source(SourceSpec(1, "p", PATTERN))
    wait_until(lambda: manager.status(1)[0] == "online", 10, message="online")
    manager.set_preroll(0.0, 16 << 20)  # back to "the current keyframe group only"
    wait_until(lambda: manager._workers[1].preroll.packets
               and time.time() - manager._workers[1].preroll.packets[0][1] < 0.6, 5,
               message="the buffer down to one keyframe group")
    begin, started, result = _record(manager, 1, tmp_path / "b.mp4")
    assert begin is not None and started - 0.6 <= begin <= started
    assert decode_video(result.path)["duration"] <= 1.8

    manager.set_preroll(30.0, 160_000)  # long, but only ~3 keyframe groups (~50 kB each) of buffer
    time.sleep(3.0)
    worker = manager._workers[1]
    held = worker.preroll
    assert held.size <= 160_000 and held.packets and held.packets[0][0].is_keyframe
    begin, started, result = _record(manager, 1, tmp_path / "c.mp4")
    assert begin is not None and started - begin < 2.3  # the cap, not the 30 s, decided
    assert decode_video(result.path)["monotonic"]


def test_a_start_may_ask_for_more_preroll_than_the_setting_without_changing_other_starts(
        tmp_path):
    """A motion record's pre-capture (#23): the source keeps 3 s (`keep_preroll`) while the
    setting says 0; a start asking for 3 s begins at least 3 s back, a plain start still at
    the last keyframe, and neither misses a packet of the other's stretch."""
    manager = RecorderManager(preroll_s=0.0)
    try:
        manager.ensure_source(SourceSpec(1, "p", PATTERN))
        manager.keep_preroll(1, 3.0)
        wait_until(lambda: manager.status(1)[0] == "online", 10, message="online")
        wait_until(lambda: _reaches_back(manager, 1, 3.0) >= 3.0, 10,
                   message="3 s of pre-roll kept")
        started = time.time()
        long_begin = manager.start_recording(1, "long", tmp_path / "long.mp4", preroll_s=3.0)
        plain_begin = manager.start_recording(1, "plain", tmp_path / "plain.mp4")
        time.sleep(1.0)
        long, plain = (manager.stop_recording(1, "long"), manager.stop_recording(1, "plain"))
        assert long_begin is not None and started - 3.0 - 1.1 <= long_begin <= started - 3.0
        assert plain_begin is not None and started - 0.6 <= plain_begin <= started
        assert decode_video(long.path)["duration"] >= decode_video(plain.path)["duration"] + 2.4
        assert decode_video(plain.path)["duration"] <= 1.8
        manager.keep_preroll(1, 0.0)  # back to the setting: the buffer shrinks at a keyframe
        wait_until(lambda: manager._workers[1].preroll.packets
                   and time.time() - manager._workers[1].preroll.packets[0][1] < 0.8, 3,
                   message="the buffer back to one keyframe group")
    finally:
        manager.shutdown()
