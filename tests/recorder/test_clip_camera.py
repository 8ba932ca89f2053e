"""The clip-serving RTSP camera and the exact packet check the benchmark relies on: a
recording of it is a contiguous run of the clip's packets, and a file missing one packet is
caught."""

from __future__ import annotations

import time

import av
import pytest

from recorder.manager import RecorderManager
from recorder.worker import SourceSpec
from tests.conftest import _camera, wait_until
from tests.support.clip import ClipIndex, encode_clip

pytestmark = pytest.mark.rtsp


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    return encode_clip(path, 12, width=320, height=240, fps=25, gop_seconds=1, bitrate_kbps=300)


def _drop_packet(src, dst, index: int) -> None:
    """Copy a file's video packets, leaving out the one at `index`."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        packets = [p for p in inp.demux(inp.streams.video[0]) if p.size]
        for i, packet in enumerate(packets):
            if i != index:
                packet.stream = stream
                out.mux(packet)


def test_recording_of_the_clip_camera_is_an_exact_run_of_its_packets(clip, tmp_path):
    index = ClipIndex(clip)
    assert sum(index.packets.keyframes) == 12  # 12 s, a keyframe every second
    camera = _camera(clip=clip).start()
    manager = RecorderManager()
    try:
        manager.ensure_source(SourceSpec(1, "clip", camera.url))
        wait_until(lambda: manager.status(1)[0] == "online", 20, message="online")
        time.sleep(1.5)
        manager.start_recording(1, "r", tmp_path / "r.mp4")
        time.sleep(2.5)
        result = manager.stop_recording(1, "r")
    finally:
        manager.shutdown()
        camera.stop()
    assert result.error is None
    check = index.check([result.path])
    assert check.ok, check
    assert check.packets >= 60 and check.first_index >= 25  # began at a later keyframe
    assert abs(check.max_step_s - 0.04) < 0.002

    _drop_packet(result.path, tmp_path / "holed.mp4", 30)
    holed = index.check([tmp_path / "holed.mp4"])
    assert (holed.lost, holed.foreign, holed.ok) == (1, 0, False)
    assert index.check([clip]).ok  # the clip itself, from packet 0


def test_preroll_reaches_the_file_whether_the_reader_or_the_stop_writes_it(clip, tmp_path):
    """Start leaves the pre-roll to the reader thread; a stop before the reader's next packet
    writes it itself. Either way the file is the exact run from the pre-roll's keyframe."""
    index = ClipIndex(clip)
    camera = _camera(clip=clip).start()
    manager = RecorderManager(preroll_s=2.0)
    try:
        manager.ensure_source(SourceSpec(1, "clip", camera.url))
        wait_until(lambda: manager.status(1)[0] == "online", 20, message="online")
        time.sleep(3.5)
        with manager._workers[1]._lock:  # the reader cannot take a packet in between
            manager.start_recording(1, "held", tmp_path / "held.mp4")
            held = manager.stop_recording(1, "held")
        manager.start_recording(1, "run", tmp_path / "run.mp4")
        time.sleep(1.0)
        run = manager.stop_recording(1, "run")
    finally:
        manager.shutdown()
        camera.stop()
    held_check, run_check = index.check([held.path]), index.check([run.path])
    assert held.error is None and held_check.ok and held_check.packets >= 50, held_check
    assert run.error is None and run_check.ok and run_check.packets >= 70, run_check


def _first_frame_size(url: str) -> tuple[int, int]:
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=10) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


def test_each_mount_point_serves_its_own_clip(clip, tmp_path):
    """A scripted scene as a camera's main and preview stream: `clips` gives each mount
    point a clip of its own; a mount point without one serves `clip` as before."""
    small = encode_clip(tmp_path / "small.mp4", 2, width=160, height=96, fps=10,
                        gop_seconds=1, bitrate_kbps=100)
    camera = _camera(clips={"/main": clip, "/sub": small}, log_play=True)
    assert camera.paths == ["/main", "/sub"]
    assert camera.command().count("--path") == 2
    assert f"/sub={small}" in camera.command() and "--clip" not in camera.command()
    with camera:
        assert [u.rsplit("/", 1)[1] for u in camera.urls] == ["main", "sub"]
        assert _first_frame_size(camera.urls[0]) == (320, 240)
        before = time.time()
        assert _first_frame_size(camera.urls[1]) == (160, 96)
        plays = camera.play_times()  # when each client's clip began, in wall time
        assert len(plays["/main"]) == 1 and len(plays["/sub"]) == 1
        assert before - 0.1 <= plays["/sub"][0] <= time.time()
    with _camera(clip=small, paths=("/a", "/b"), clips={"/b": clip}) as mixed:
        assert _first_frame_size(mixed.urls[0]) == (160, 96)  # --clip on the others
        assert _first_frame_size(mixed.urls[1]) == (320, 240)
    with pytest.raises(ValueError):
        _camera(clips={"/elsewhere": clip}, paths=("/main",))
