"""File rotation on the real RTSP clip camera: a long recording rolls over to a new file at
the first keyframe at or after `segment_s`, and the files played one after another are, byte
for byte, the exact run of the camera's packets (none lost, none twice), each file starting
with a keyframe and decoding on its own; the core hears of each cut with the final MD5."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from recorder.encoding import COPY, scaled
from recorder.manager import RecorderManager
from recorder.worker import SourceSpec
from tests.conftest import _camera, decode_video, md5_of, wait_until
from tests.support.clip import ClipIndex, encode_clip, read_packets

pytestmark = pytest.mark.rtsp
SEGMENT_S = 2.0  # the clip has a keyframe every second: a cut every 2 s, 50 packets a file


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    return encode_clip(path, 16, width=320, height=240, fps=25, gop_seconds=1, bitrate_kbps=300)


class Segments:
    """The core's side: a pure `next_file`, and what `on_rollover` reported."""

    def __init__(self, folder: Path, prefix: str):
        self.folder, self.prefix, self.count = folder, prefix, 0
        self.reports: list[tuple] = []

    def next_file(self) -> tuple[str, Path]:
        self.count += 1
        return f"{self.prefix}{self.count}", self.folder / f"{self.prefix}{self.count}.mp4"

    def paths(self, first: Path) -> list[Path]:
        return [first] + [report[4] for report in self.reports]


def _manager(segments: dict[str, Segments], **callbacks) -> RecorderManager:
    manager = RecorderManager()

    def on_rollover(source_id, old_id, old_result, new_id, new_path, begin_wall):
        segments[old_id.rstrip("0123456789")].reports.append(
            (source_id, old_id, old_result, new_id, new_path, begin_wall, time.time()))
    manager.set_callbacks(on_status=lambda *_: None, on_failure=lambda *_: None,
                          on_rollover=callbacks.get("on_rollover", on_rollover))
    manager.set_segment_s(SEGMENT_S)
    return manager


def _check_reports(segments: Segments, first_id: str, first: Path):
    ids = [first_id] + [f"{segments.prefix}{i}" for i in range(1, len(segments.reports) + 1)]
    paths = segments.paths(first)
    for i, (source_id, old_id, result, new_id, new_path, begin_wall, _) in enumerate(segments.reports):
        assert (source_id, old_id, new_id, new_path) == (1, ids[i], ids[i + 1], paths[i + 1])
        assert result.error is None and result.path == paths[i]
        assert result.md5 == md5_of(paths[i])  # final: the file does not change afterwards
        assert abs(result.end_wall - begin_wall) < 0.1  # the next file takes over right there
    return paths


def test_copy_and_reencoded_recordings_roll_over_without_losing_a_packet(clip, tmp_path):
    index = ClipIndex(clip)
    camera = _camera(clip=clip).start()
    segments = {"c": Segments(tmp_path, "c"), "t": Segments(tmp_path, "t")}
    manager = _manager(segments)
    try:
        manager.ensure_source(SourceSpec(1, "clip", camera.url))
        wait_until(lambda: manager.status(1)[0] == "online", 20, message="online")
        time.sleep(1.2)
        worker = manager._workers[1]
        with worker._lock:  # both files start from the same pre-roll keyframe
            manager.start_recording(1, "c0", tmp_path / "c0.mp4", COPY, segments["c"].next_file)
            manager.start_recording(1, "t0", tmp_path / "t0.mp4", scaled("LD"),
                                    segments["t"].next_file)
        manager.set_audio_muted(1, "c0", True)
        wait_until(lambda: len(segments["c"].reports) >= 3 and len(segments["t"].reports) >= 3,
                   14, message="three rollovers of each")
        # the mute carried over to the file written now, under the id the core was told
        assert manager.recording_state(1, f"c{len(segments['c'].reports)}") == \
            {"paused": False, "muted": True}
        assert "c0" not in manager._workers[1].recording_ids()
        time.sleep(0.5)
        with worker._lock:  # both end after the same packet
            last_c = manager.stop_recording(1, f"c{segments['c'].count}")
            last_t = manager.stop_recording(1, f"t{segments['t'].count}")
        assert worker.wait_rollovers(10)
    finally:
        manager.shutdown()
        camera.stop()

    copies = _check_reports(segments["c"], "c0", tmp_path / "c0.mp4")
    assert last_c.error is None and last_c.md5 == md5_of(copies[-1])
    check = index.check(copies)  # every packet once, in order, across every boundary
    assert check.ok and check.lost == 0 and check.foreign == 0, check
    assert abs(check.max_step_s - 0.04) < 0.002
    for path in copies:
        packets = read_packets([path])
        assert packets.keyframes[0] and packets.dts_s[0] == 0.0
        assert decode_video(path)["frames"] == len(packets.hashes)
    for path in copies[:-1]:  # a cut at the first keyframe at or after 2 s: 2 s exactly
        assert len(read_packets([path]).hashes) == SEGMENT_S * 25, path

    # Re-encoded: cut at the same input keyframes; a fresh encoder per file (its first
    # frame a keyframe). Each file has one frame per camera packet of its copied twin.
    encoded = _check_reports(segments["t"], "t0", tmp_path / "t0.mp4")
    assert last_t.error is None and len(encoded) == len(copies)
    for copy_path, path in zip(copies, encoded):
        info = decode_video(path)
        assert info["monotonic"] and info["height"] == 360  # LD: re-encoded, not copied
        assert info["frames"] == len(read_packets([copy_path]).hashes), path
        assert read_packets([path]).keyframes[0]


def test_a_stop_while_the_core_has_not_heard_of_the_new_file_yet(clip, tmp_path):
    """The core stops the record it knows while its `on_rollover` is still on the way: the
    file being written is stopped too, and its result waits for the core under the new id."""
    index = ClipIndex(clip)
    camera = _camera(clip=clip).start()
    segments = Segments(tmp_path, "r")
    arrived, release = threading.Event(), threading.Event()

    def slow_core(*report):
        segments.reports.append(report + (time.time(),))
        arrived.set()
        release.wait(10)  # the core is busy (its lock held by the stop below)
    manager = _manager({}, on_rollover=slow_core)
    try:
        manager.ensure_source(SourceSpec(1, "clip", camera.url))
        wait_until(lambda: manager.status(1)[0] == "online", 20, message="online")
        manager.start_recording(1, "r0", tmp_path / "r0.mp4", COPY, segments.next_file)
        assert arrived.wait(8)
        time.sleep(0.3)
        old = manager.stop_recording(1, "r0")  # the core still thinks r0 records
        assert "r1" not in manager._workers[1].recording_ids()
        time.sleep(0.5)
        release.set()
        assert manager._workers[1].wait_rollovers(10)
        new = manager.stop_recording(1, "r1")  # the core, told of r1 now, finalizes it
    finally:
        release.set()
        manager.shutdown()
        camera.stop()
    assert old.path == tmp_path / "r0.mp4" and old.md5 == md5_of(old.path)
    assert new is not None and new.path == tmp_path / "r1.mp4" and new.md5 == md5_of(new.path)
    check = index.check([old.path, new.path])
    assert check.ok and check.packets >= 50 + 5, check
    assert segments.count == 1  # nothing was written after the stop
