"""A source with a preview stream (`uri_preview`): the tiles' pictures come from the camera's
smaller stream, the main stream records and decodes nothing until a focused view asks.
Real RTSP camera with a main and a sub-stream mount point, real files decoded back."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from recorder.frames import Demand
from recorder.worker import SourceSpec
from tests.conftest import TESTSRC, _camera, decode_video, wait_until

MAIN = "testsrc://testsrc2?size=640x360&rate=25&gop=1"
SMALL = "testsrc://testsrc2?size=320x180&rate=25&gop=1"


@pytest.fixture
def sub_stream_camera():
    """One camera, two streams: /cam 640x360 (main) and /sub 320x180 (the sub-stream)."""
    camera = _camera(width=640, height=360, fps=25, gop_seconds=1, bitrate_kbps=800,
                     pattern="ball", paths=("/cam", "/sub:320x180"))
    camera.start()
    yield camera
    camera.stop()


def _rate(slot, seconds: float) -> float:
    seq = slot.latest().seq
    time.sleep(seconds)
    return (slot.latest().seq - seq) / seconds


def test_tiles_get_the_sub_stream_and_recording_uses_the_main(manager, sub_stream_camera, tmp_path):
    main_uri, sub_uri = sub_stream_camera.urls
    manager.ensure_source(SourceSpec(1, "cam", main_uri, uri_preview=sub_uri))
    wait_until(lambda: manager.status(1)[0] == "online", 20, message="online")
    preview, main = manager.frames(1, preview=True), manager.frames(1)
    assert preview is not main
    worker = manager._workers[1]

    token = preview.watch(Demand.ALL)  # a grid tile
    frame = preview.wait_newer(0, 5)
    assert frame is not None and frame.rgb.shape == (180, 320, 3)
    assert _rate(preview, 2.0) >= 18, "the preview plays every frame (25 fps)"
    manager.start_recording(1, "r1", tmp_path / "r1.mp4")
    time.sleep(2.5)
    assert main.latest() is None and worker.decoder.decoded == 0, \
        "the main stream decodes nothing while only tiles watch the preview"

    focused = main.watch(Demand.ALL)  # the tile is focused: the main stream at once
    frame = main.wait_newer(0, 1.0)
    assert frame is not None and frame.rgb.shape == (360, 640, 3)
    preview.change(token, Demand.NONE)
    assert _rate(main, 1.5) >= 18
    decoded = worker.preview.decoder.decoded
    time.sleep(1.0)
    assert worker.preview.decoder.decoded == decoded, "the hidden preview decodes nothing"

    main.unwatch(focused)  # back to the grid
    preview.change(token, Demand.ALL)
    seq = preview.latest().seq
    assert preview.wait_newer(seq, 1.5).seq > seq
    result = manager.stop_recording(1, "r1")
    assert result.error is None
    info = decode_video(result.path)
    assert (info["width"], info["height"]) == (640, 360), "recorded from the main stream"
    assert info["frames"] >= 100 and info["monotonic"]


def test_a_source_without_preview_hands_out_its_main_slot(manager):
    manager.ensure_source(SourceSpec(2, "pattern", TESTSRC))
    wait_until(lambda: manager.status(2)[0] == "online", 10, message="online")
    assert manager.frames(2, preview=True) is manager.frames(2)
    assert manager._workers[2].preview is None


def test_changing_the_preview_keeps_the_recording_going(manager, tmp_path):
    """Adding, changing and removing a preview stream swaps the preview reader only: the
    main reader (and the file it writes) runs on without a cut."""
    manager.ensure_source(SourceSpec(3, "pattern", MAIN))
    wait_until(lambda: manager.status(3)[0] == "online", 10, message="online")
    worker = manager._workers[3]
    manager.start_recording(3, "r3", tmp_path / "r3.mp4")
    started = time.monotonic()
    time.sleep(1.0)
    manager.ensure_source(SourceSpec(3, "pattern", MAIN, uri_preview=SMALL))
    assert manager._workers[3] is worker, "not restarted"
    preview = manager.frames(3, preview=True)
    preview.watch(Demand.ALL)
    assert preview.wait_newer(0, 5).rgb.shape == (180, 320, 3)
    manager.ensure_source(SourceSpec(3, "pattern", MAIN))
    assert manager._workers[3] is worker and manager.frames(3, preview=True) is worker.slot
    wait_until(lambda: not preview_thread_alive(worker, preview), 5, message="old preview ends")
    time.sleep(1.0)
    elapsed = time.monotonic() - started
    result = manager.stop_recording(3, "r3")
    info = decode_video(result.path)
    assert result.error is None and not result.gaps
    assert info["duration"] >= elapsed - 0.5 and info["monotonic"]  # one file, uncut
    assert info["frames"] >= 25 * (elapsed - 0.5)


def preview_thread_alive(worker, slot) -> bool:
    """Whether some preview reader still fills `slot` (the one swapped out must end)."""
    return any(t.name == f"preview-{worker.spec.id}" and getattr(t, "slot", None) is slot
               and t.is_alive() for t in threading.enumerate())


def test_a_broken_preview_leaves_the_source_online_and_its_password_unsaid(manager, caplog):
    """The preview stream failing is logged (once, without the password) and retried; the
    source's status is the main stream's."""
    caplog.set_level(logging.INFO, logger="recorder.preview")
    broken = "rtsp://viewer:s3cret-pw@127.0.0.1:9/sub"
    manager.ensure_source(SourceSpec(4, "pattern", TESTSRC, uri_preview=broken))
    wait_until(lambda: manager.status(4)[0] == "online", 10, message="online")
    wait_until(lambda: any("preview stream" in r.getMessage() for r in caplog.records), 10,
               message="the failure logged")
    assert manager.status(4) == ("online", None)
    assert manager._workers[4].preview.online is False
    assert not any("s3cret-pw" in r.getMessage() for r in caplog.records)
