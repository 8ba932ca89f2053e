"""The station's own RTSP client against real GStreamer cameras: H.264 with AAC, H.265,
Basic and Digest credentials, and the cameras it leaves to FFmpeg (B-frames, raw PCM
audio). Each recording is decoded back."""

from __future__ import annotations

import time
from pathlib import Path

import av
import pytest

from recorder.manager import RecorderManager
from recorder.worker import SourceSpec
from tests.conftest import decode_audio, decode_video, wait_until
from tests.support.camera import RtspCamera, skip_reason

pytestmark = pytest.mark.rtsp

SMALL = dict(width=320, height=240, fps=25, gop_seconds=1, bitrate_kbps=300, pattern="ball")


def _camera(**kwargs) -> RtspCamera:
    reason = skip_reason(kwargs.get("codec", "h264"))
    if reason:
        pytest.fail(f"the GStreamer RTSP test camera is unavailable: {reason}")
    return RtspCamera(**{**SMALL, **kwargs})


# 3 s of a 30 fps camera is 90 pictures; a loaded machine's GStreamer encoder made 77 in a
# clean-clone run (the camera, not the station, fell behind): at least 2 s of them.
MIN_FRAMES = 60


# The station dates each track's packets by that track's newest unit in a read
# (recorder.rtsp_input, `_convert`): audio and video of one camera instant are dated a video
# frame (40 ms) and an audio frame (21 ms) apart at most while the camera keeps up; twice
# that is the margin for a camera falling behind on a loaded machine (measured: 0.05 s with
# six busy loops on the two cores).
TRACKS_APART_S = 0.15


def _record(manager: RecorderManager, url: str, path: Path, seconds: float, *,
            reader: str) -> tuple[dict, object, float]:
    """Record `seconds` of the camera; (decoded video, the result, the lead: how long before
    Start the file's first keyframe arrived, which the video-only pre-roll puts in front)."""
    manager.ensure_source(SourceSpec(1, "cam", url))
    wait_until(lambda: manager.status(1)[0] == "online", 30, message="online")
    assert manager.reader(1) == reader
    time.sleep(1.2)  # a full GOP of pre-roll
    started = time.time()
    begin = manager.start_recording(1, "r", path)
    time.sleep(seconds)
    result = manager.stop_recording(1, "r")
    assert result is not None and result.error is None and begin is not None
    return decode_video(result.path), result, started - begin


def _audio_track(path: Path) -> tuple[float, float, set[int], float]:
    """(first and last instant of the audio in the file's seconds, the steps between its
    frames after the first in its own time base, the video's end). MP4 pads a track that
    begins after zero by stretching its first sample back to zero, so the first frame's
    own instant is the second's minus one frame."""
    with av.open(str(path)) as container:
        audio = [(p.pts, p.duration) for p in container.demux(audio=0) if p.size]
        rate = container.streams.audio[0].time_base
    with av.open(str(path)) as container:
        video = [(p.pts, p.duration) for p in container.demux(video=0) if p.size]
        tick = container.streams.video[0].time_base
    step = audio[2][0] - audio[1][0]
    steps = {b - a for (a, _), (b, _) in zip(audio[1:], audio[2:])}
    last_video = max(video)
    return (float((audio[1][0] - step) * rate), float((audio[-1][0] + audio[-1][1]) * rate),
            steps, float((last_video[0] + last_video[1]) * tick))


def test_h264_with_aac_is_read_by_the_station_and_recorded_by_copy(manager, tmp_path):
    """The audio is every AAC frame the camera sent from Start to Stop, by the camera's own
    timestamps: the pre-roll is video only, so the audio begins the lead after the file's
    first keyframe, runs without a frame lost or doubled and ends with the video."""
    with _camera(audio="aac") as camera:
        info, result, lead = _record(manager, camera.url, tmp_path / "aac.mp4", 3.0,
                                     reader="station")
    assert info["codec"] == "h264" and (info["width"], info["height"]) == (320, 240)
    assert info["first_pts"] == 0 and info["monotonic"] and info["frames"] >= MIN_FRAMES
    codec, seconds, rate = decode_audio(result.path)
    assert codec == "aac" and rate == 48000
    begins, ends, steps, video_ends = _audio_track(result.path)
    assert steps == {1024}, steps  # one AAC frame after the other, as the camera numbered them
    assert abs(seconds - (ends - begins)) < 1 / rate  # and every one decodes
    assert abs(begins - lead) < TRACKS_APART_S, (begins, lead)
    assert abs(ends - video_ends) < TRACKS_APART_S, (ends, video_ends)


def test_h265_is_read_by_the_station_and_recorded_by_copy(manager, tmp_path):
    with _camera(codec="h265") as camera:
        info, result, _ = _record(manager, camera.url, tmp_path / "hevc.mp4", 3.0,
                                  reader="station")
    assert info["codec"] == "hevc" and (info["width"], info["height"]) == (320, 240)
    assert info["monotonic"] and info["frames"] >= MIN_FRAMES
    assert result.packets == info["frames"]  # the camera's own packets, none re-encoded


@pytest.mark.parametrize("method", ["basic", "digest"])
def test_credentials_in_the_url_answer_basic_and_digest(manager, tmp_path, method):
    with _camera(auth=("viewer", "pa:ss w@rd"), auth_method=method) as camera:
        wrong = camera.url_with_credentials().replace("pa%3Ass", "nope")
        assert wrong != camera.url_with_credentials()
        manager.ensure_source(SourceSpec(2, "wrong", wrong))
        wait_until(lambda: manager.status(2)[0] == "offline", 20, message="refused")
        status, error = manager.status(2)
        assert "authentication failed" in error and "nope" not in error
        info, _, _ = _record(manager, camera.url_with_credentials(), tmp_path / "auth.mp4",
                             2.0, reader="station")
    assert info["frames"] >= 55 and info["monotonic"]


@pytest.mark.parametrize("kind", ["bframes", "l16"])
def test_cameras_the_station_does_not_read_itself_are_read_by_ffmpeg(manager, tmp_path, kind):
    options = {"bframes": {"bframes": 2}, "l16": {"audio": "l16"}}[kind]
    with _camera(**options) as camera:
        info, result, _ = _record(manager, camera.url, tmp_path / f"{kind}.mp4", 3.0,
                                  reader="ffmpeg")
    assert info["codec"] == "h264" and info["monotonic"] and info["frames"] >= 70
    if kind == "l16":  # raw PCM cannot go into MP4 as it is: it becomes AAC
        codec, seconds, _rate = decode_audio(result.path)
        assert codec == "aac" and abs(seconds - info["duration"]) < 0.6
    else:
        with av.open(str(result.path)) as container:
            packets = [p for p in container.demux(video=0) if p.size]
        assert any(p.pts != p.dts for p in packets), "the file keeps the camera's B-frames"


def test_a_watched_camera_shows_every_frame_evenly_although_it_is_read_in_batches(manager):
    """The reader hands frames over a few at a time; the decoder paces them out again, so a
    tile that looks every 10 ms sees (nearly) every frame, not the last of each batch."""
    from recorder.frames import Demand

    with _camera() as camera:
        manager.ensure_source(SourceSpec(1, "cam", camera.url))
        wait_until(lambda: manager.status(1)[0] == "online", 30, message="online")
        assert manager.reader(1) == "station"
        slot = manager.frames(1)
        token = slot.watch(Demand.ALL)
        assert slot.wait_newer(0, 5) is not None
        seen, steps = set(), []
        last_change = time.monotonic()
        end = last_change + 3.0
        while time.monotonic() < end:
            frame = slot.latest()
            if frame.seq not in seen:
                seen.add(frame.seq)
                now = time.monotonic()
                steps.append(now - last_change)
                last_change = now
            time.sleep(0.01)
        slot.unwatch(token)
    assert len(seen) >= 0.8 * 25 * 3, len(seen)  # 25 fps, a few may fall between looks
    steps.sort()
    assert steps[len(steps) // 2] >= 0.025, steps  # the median step is a frame, not a burst
