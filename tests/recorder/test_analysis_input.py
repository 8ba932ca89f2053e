"""Motion analysis input (recorder.analysis): grey pictures of about 180 px at the analysis
rate, from the preview stream's decoder when the source has one, else from the main stream's
keyframes; no BGRX picture while no viewer asks; the recorder never waits for the analyser.
Real RTSP test camera (main 640x360 and a 640x360 preview mount point), real files."""

from __future__ import annotations

import time

import pytest

from recorder.frames import Demand
from recorder.preview import ANALYSIS_BATCH_S
from recorder.rtsp_input import BATCH_S, IDLE_BATCH_S
from recorder.worker import SourceSpec
from tests.conftest import _camera, decode_video, wait_until


@pytest.fixture
def camera():
    """One camera, two streams of colour bars: /cam (main) and /sub (the preview)."""
    camera = _camera(width=640, height=360, fps=10, gop_seconds=2, bitrate_kbps=500,
                     pattern="smpte", paths=("/cam", "/sub:640x360"))
    camera.start()
    yield camera
    camera.stop()


def _rate(frames) -> float:
    """Pictures per second of stream time (the camera may send in bursts under load)."""
    return (len(frames) - 1) / (frames[-1].t - frames[0].t)


def _frames_over(slot, seconds: float) -> list:
    """Every picture the analyser would take over `seconds`, pulled as fast as they come."""
    frames, seq, deadline = [], 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        frame = slot.wait_newer(seq, 0.2)
        if frame is not None:
            frames.append(frame)
            seq = frame.seq
    return frames


def test_preview_stream_feeds_analysis_at_its_rate_without_pictures_for_people(manager, camera):
    main_uri, sub_uri = camera.urls
    manager.ensure_source(SourceSpec(1, "cam", main_uri, uri_preview=sub_uri))
    assert manager.analysis_slot(2, 5.0) is None, "no reader runs for source 2"
    slot = manager.analysis_slot(1, 5.0)
    assert slot is not None and slot.input == "preview"
    wait_until(lambda: slot.latest() is not None, 20, message="a first grey picture")
    frames = _frames_over(slot, 2.0)
    assert len(frames) >= 6 and 3.5 <= _rate(frames) <= 5.5, "5 a second of a 10 fps preview"
    first = frames[0]
    assert first.grey.ndim == 2 and first.grey.dtype.name == "uint8"
    assert first.grey.shape == (100, 180)
    assert first.colour > 20, "colour bars are colourful"
    times = [f.t for f in frames]
    assert all(b > a for a, b in zip(times, times[1:])), "stream time only goes on"
    assert all(0.15 <= b - a <= 0.65 for a, b in zip(times, times[1:])), times
    assert abs(frames[-1].wall - time.time()) < 2.0
    worker = manager._workers[1]
    assert worker.preview.decoder.analysed >= len(frames)
    assert worker.preview.slot.latest() is None and manager.frames(1).latest() is None, \
        "no BGRX picture is made while no viewer asks"
    assert worker.decoder.decoded == 0, "the main stream is not decoded for analysis"

    # a viewer of the preview gets every picture as before, the analysis its 5 a second
    token = worker.preview.slot.watch(Demand.ALL)
    wait_until(lambda: worker.preview.slot.latest() is not None, 5, message="a tile picture")
    seq = worker.preview.slot.latest().seq
    frames = _frames_over(slot, 1.5)
    assert worker.preview.slot.latest().seq - seq >= 10
    assert len(frames) >= 4 and 3.5 <= _rate(frames) <= 5.5
    worker.preview.slot.unwatch(token)

    manager.release_analysis(1)
    wait_until(lambda: not worker.preview.decoder._queue, 2, message="what was queued decoded")
    analysed = worker.preview.decoder.analysed
    decoded = worker.preview.decoder.decoded
    time.sleep(0.6)
    assert worker.preview.decoder.analysed - analysed <= 1, "(one may have been in hand)"
    assert worker.preview.decoder.decoded - decoded <= 1, "nobody asks: nothing decoded"


def test_without_preview_main_keyframes_feed_analysis_and_follow_the_preview(manager, camera,
                                                                            tmp_path):
    main_uri, sub_uri = camera.urls
    manager.ensure_source(SourceSpec(1, "cam", main_uri))
    slot = manager.analysis_slot(1, 5.0)
    assert slot is not None and slot.input == "keyframes"
    wait_until(lambda: slot.latest() is not None, 20, message="a first keyframe")
    manager.start_recording(1, "r1", tmp_path / "r1.mp4")
    frames = _frames_over(slot, 4.5)
    assert 2 <= len(frames) <= 3, f"a keyframe every 2 s, got {len(frames)}"
    assert all(1.8 <= b.t - a.t <= 2.2 for a, b in zip(frames, frames[1:]))
    worker = manager._workers[1]
    assert manager.frames(1).latest() is None, "no BGRX picture while no viewer asks"

    # a preview stream added: the same slot now gets the preview's pictures
    manager.ensure_source(SourceSpec(1, "cam", main_uri, uri_preview=sub_uri))
    assert manager._workers[1] is worker and slot.input == "preview"
    wait_until(lambda: len(_frames_over(slot, 1.0)) >= 4, 20, message="preview rate")
    result = manager.stop_recording(1, "r1")
    assert result.error is None and decode_video(result.path)["monotonic"]


def test_an_analyser_that_never_takes_costs_the_recorder_nothing(manager, camera, tmp_path):
    main_uri, sub_uri = camera.urls
    manager.ensure_source(SourceSpec(1, "cam", main_uri, uri_preview=sub_uri))
    slot = manager.analysis_slot(1, 15.0)
    wait_until(lambda: slot.latest() is not None, 20, message="a first grey picture")
    manager.start_recording(1, "r1", tmp_path / "r1.mp4")
    wait_until(lambda: slot.dropped >= 20, 10, message="pictures replaced unseen")
    assert slot.offered > slot.dropped
    result = manager.stop_recording(1, "r1")
    info = decode_video(result.path)
    assert result.error is None and info["monotonic"] and info["frames"] >= 15


def test_only_the_analyser_gets_pictures_without_the_loop_filter(manager, camera):
    """While only the analyser looks, the preview is decoded without the deblocking filter
    and read in ANALYSIS_BATCH_S batches; a viewer gets a deblocked decoder at once (primed
    from the newest keyframe) and the viewer's batches; analysis times never go back."""
    main_uri, sub_uri = camera.urls
    manager.ensure_source(SourceSpec(1, "cam", main_uri, uri_preview=sub_uri))
    preview = manager._workers[1].preview
    decoder = preview.decoder
    assert preview._batch_s() == IDLE_BATCH_S, "nobody looks yet"
    slot = manager.analysis_slot(1, 5.0)
    wait_until(lambda: decoder._fast and slot.latest() is not None, 20,
               message="analysis without the loop filter")
    assert preview._batch_s() == ANALYSIS_BATCH_S

    token = preview.slot.watch(Demand.ALL)
    assert preview._batch_s() == BATCH_S
    wait_until(lambda: preview.slot.latest() is not None, 5, message="a tile picture")
    assert not decoder._fast, "a viewer's pictures are deblocked"
    frames = _frames_over(slot, 1.5)
    assert len(frames) >= 4 and 3.5 <= _rate(frames) <= 5.5
    times = [f.t for f in frames]
    assert all(b > a for a, b in zip(times, times[1:])), "the primed group is not analysed again"

    preview.slot.unwatch(token)
    wait_until(lambda: decoder._fast, 5, message="without the filter again at a keyframe")
    assert preview._batch_s() == ANALYSIS_BATCH_S
    manager.release_analysis(1)
    assert preview._batch_s() == IDLE_BATCH_S
    # nobody needs pictures: the decoder is let go (its picture pool and threads), and a
    # viewer who comes later gets a new one
    wait_until(lambda: decoder._context is None, 5, message="the unused decoder released")
    shown = preview.slot.latest()
    token = preview.slot.watch(Demand.ALL)
    wait_until(lambda: preview.slot.latest() is not shown, 5, message="a picture again")
    preview.slot.unwatch(token)
