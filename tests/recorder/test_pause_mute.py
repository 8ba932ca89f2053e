"""Pause, resume and mute of a running recording (a media recorder's controls, used by the
Device Connect dialect): the file leaves the paused time out and goes on from a keyframe;
muted audio is dropped, the video carries on."""

from __future__ import annotations

import time


from app.events import RecordingPaused
from app.schemas import GroupIn, SourceIn
from tests.conftest import TESTSRC, decode_video, wait_until
from tests.support.media import packet_times


def _group(station, name: str, uri: str) -> int:
    source = station.sources.create(SourceIn(name=name, uri_rtsp=uri))
    group = station.groups.create(GroupIn(name=f"g-{name}"))
    station.groups.add_source(group.id, source.id)
    wait_until(lambda: station.sources.get(source.id).status == "online", 20, message="online")
    time.sleep(1.1)
    return source.id


def test_pause_leaves_the_paused_time_out_of_the_same_file(station):
    events = []
    station.bus.subscribe(events.append)
    _group(station, "p", TESTSRC)
    [record] = station.recordings.start("paused", "g-p")
    time.sleep(1.5)
    station.recordings.pause(record.id, origin="test")
    assert station.recordings.control_state(record.id) == {"paused": True, "muted": False}
    time.sleep(2.0)
    station.recordings.resume(record.id, origin="test")
    time.sleep(1.5)
    [done] = station.recordings.stop("paused")
    assert done.status.value == "finished", done.error
    info = decode_video(done.location)
    assert info["monotonic"] and info["first_pts"] == 0
    # about 3 s written of 5 s wall time, no hole where the pause was
    assert 2.3 < info["duration"] < 3.9, info["duration"]
    times = packet_times(done.location, "video")
    assert max(b - a for a, b in zip(times, times[1:])) < 0.2
    assert [(e.paused, e.origin) for e in events if isinstance(e, RecordingPaused)] == \
        [(True, "test"), (False, "test")]


def test_mute_drops_audio_and_keeps_video(station, rtsp_camera_pcma):
    _group(station, "m", rtsp_camera_pcma.url)
    [record] = station.recordings.start("muted", "g-m")
    time.sleep(1.5)
    station.recordings.set_audio_muted(record.id, True)
    assert station.recordings.control_state(record.id)["muted"] is True
    time.sleep(2.0)
    station.recordings.set_audio_muted(record.id, False)
    time.sleep(1.5)
    [done] = station.recordings.stop("muted")
    video, audio = packet_times(done.location, "video"), packet_times(done.location, "audio")
    assert max(b - a for a, b in zip(video, video[1:])) < 0.2  # video never stopped
    holes = [b - a for a, b in zip(audio, audio[1:])]
    assert max(holes) > 1.5  # the muted stretch has no audio
    assert audio[-1] > video[-1] - 1.0  # audio came back after unmute
