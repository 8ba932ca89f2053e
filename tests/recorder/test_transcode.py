"""Re-encoding: a source's `ffmpeg_cmd` applied through the real core (catalog, recorder,
files decoded back), RTC scale levels, and audio: G.711 from a real RTSP camera becomes
AAC, `-an` drops it; UDP transport."""

from __future__ import annotations

import os
import time
from pathlib import Path

import av

from app.schemas import GroupIn, SourceIn
from recorder.encoding import COPY, scaled
from recorder.manager import RecorderManager
from recorder.worker import SourceSpec
from tests.conftest import decode_audio, decode_video, md5_of, wait_until

PATTERN_720P = "testsrc://testsrc2?size=1280x720&rate=25&gop=1"
# The same picture at 10 fps: the pattern's own 720p encoder and the LD transcoder beside it
# keep up even when the suite's other workers share the 2 cores (at 25 fps a starved
# transcoder skips to the next keyframe, by design, and the frame counts then differ).
PATTERN_720P_10FPS = "testsrc://testsrc2?size=1280x720&rate=10&gop=1"


def _record(station, name: str, uri: str, ffmpeg_cmd: str | None, seconds: float):
    source = station.sources.create(SourceIn(name=name, uri_rtsp=uri, ffmpeg_cmd=ffmpeg_cmd))
    group = station.groups.create(GroupIn(name=f"g-{name}"))
    station.groups.add_source(group.id, source.id)
    wait_until(lambda: station.sources.get(source.id).status == "online", 20, message="online")
    time.sleep(1.2)  # a GOP of pre-roll
    station.recordings.start(f"t-{name}", f"g-{name}")
    time.sleep(seconds)
    [record] = station.recordings.stop(f"t-{name}")
    assert record.status.value == "finished", record.error
    assert record.hash_md5 == md5_of(Path(record.location))
    return record


def _frame_times(path: str) -> list[float]:
    with av.open(path) as container:
        stream = container.streams.video[0]
        return [float(f.pts * stream.time_base) for f in container.decode(stream)]


def test_ffmpeg_cmd_is_applied_to_the_recording(station):
    record = _record(station, "small", PATTERN_720P,
                     "ffmpeg -i {input} -c:v libx264 -preset ultrafast -b:v 400k "
                     "-vf scale=320:-2 -r 10 -g 10 -an {output}", 3.0)
    info = decode_video(record.location)
    assert info["codec"] == "h264" and (info["width"], info["height"]) == (320, 180)
    assert info["first_pts"] == 0 and info["monotonic"]
    times = _frame_times(record.location)
    steps = [b - a for a, b in zip(times, times[1:])]
    assert all(0.07 < s < 0.13 for s in steps), steps  # 10 fps, not the source's 25
    assert abs(len(times) - record.duration_s * 10) <= 3
    with av.open(record.location) as container:
        keys = [p.pts for p in container.demux(container.streams.video[0]) if p.is_keyframe]
        assert len(keys) >= 3  # -g 10: a keyframe a second
        assert not container.streams.audio


def test_rtc_level_scales_and_copy_stays_untouched(tmp_path: Path):
    manager = RecorderManager()
    try:
        manager.ensure_source(SourceSpec(1, "hd", PATTERN_720P_10FPS))
        wait_until(lambda: manager.status(1)[0] == "online", 20, message="online")
        time.sleep(1.2)
        manager.start_recording(1, "ld", tmp_path / "ld.mp4", scaled("LD"))
        manager.start_recording(1, "copy", tmp_path / "copy.mp4", COPY)
        time.sleep(2.5)
        ld, copy = manager.stop_recording(1, "ld"), manager.stop_recording(1, "copy")
    finally:
        manager.shutdown()
    assert ld.error is None and copy.error is None
    low, full = decode_video(ld.path), decode_video(copy.path)
    assert (low["width"], low["height"]) == (640, 360) and (full["width"], full["height"]) == (1280, 720)
    assert low["monotonic"] and low["first_pts"] == 0
    # the same frames: re-encoding keeps every frame of the source (no rate given)
    assert abs(low["frames"] - full["frames"]) <= 2, (low["frames"], full["frames"])


def test_g711_audio_becomes_aac_and_an_drops_it(station, rtsp_camera_pcma):
    # both at once (the camera gives each client its own pipeline): 4 s kept, 2 s muted
    sources = {name: station.sources.create(SourceIn(name=name, uri_rtsp=uri, ffmpeg_cmd=cmd)).id
               for name, uri, cmd in (("alaw", rtsp_camera_pcma.url, None),
                                      ("mute", rtsp_camera_pcma.url + "#udp", "-an"))}
    wait_until(lambda: all(station.sources.get(i).status == "online" for i in sources.values()),
               20, message="online")
    time.sleep(1.2)  # a GOP of pre-roll
    for name, source_id in sources.items():
        station.recordings.start_sources(f"t-{name}", [source_id])
    time.sleep(2.0)
    [dropped] = station.recordings.stop("t-mute")
    time.sleep(2.0)
    [kept] = station.recordings.stop("t-alaw")
    for record in (kept, dropped):
        assert record.status.value == "finished", record.error
        assert record.hash_md5 == md5_of(Path(record.location))
    video = decode_video(kept.location)
    codec, seconds, rate = decode_audio(kept.location)
    assert video["codec"] == "h264" and codec == "aac" and rate == 8000
    assert abs(seconds - video["duration"]) < 0.6, (seconds, video["duration"])
    assert decode_audio(dropped.location) is None
    assert decode_video(dropped.location)["frames"] >= 40


def _udp_sockets() -> int:
    """UDP sockets this process holds (RTP/RTCP over UDP shows up here, RTSP over TCP not)."""
    inodes = set()
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        inodes.add(line.split()[9])
    own = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            own += 1
    return own


def test_udp_transport_is_selectable(rtsp_camera_small, tmp_path: Path):
    manager = RecorderManager()
    try:
        before = _udp_sockets()
        manager.ensure_source(SourceSpec(1, "tcp", rtsp_camera_small.url))
        wait_until(lambda: manager.status(1)[0] == "online", 20, message="online")
        assert _udp_sockets() == before  # TCP by default
        manager.ensure_source(SourceSpec(2, "udp", rtsp_camera_small.url + "#udp"))
        wait_until(lambda: manager.status(2)[0] == "online", 20, message="online")
        assert _udp_sockets() >= before + 2  # RTP and RTCP ports
        time.sleep(1.2)
        manager.start_recording(2, "r", tmp_path / "udp.mp4")
        time.sleep(2.0)
        result = manager.stop_recording(2, "r")
    finally:
        manager.shutdown()
    info = decode_video(result.path)
    assert result.error is None and info["frames"] >= 50 and info["monotonic"]
