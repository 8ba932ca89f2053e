"""Motion detection end to end (#24) on a real station process: the RTSP test camera serves
the walking-box scene (tests/support/scenes.py) as the source's main and preview stream; the
station analyses the preview, opens a `motion` event within 0.5 s of the box's entry (the
clip's own time, dated by the camera's PLAY of the preview) and closes it after the box has
gone; the source in `record_mode: motion` records a file that starts at a keyframe at least
5 s before the box enters and ends the post-capture after it leaves, decoded back with PyAV
and checked picture by picture."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from tests.conftest import _camera, wait_until
from tests.support.scenes import SCENES, scene_clip
from tests.support.event_stream import wall_seconds
from tests.support.station_process import StationProcess

pytestmark = [pytest.mark.rtsp, pytest.mark.system]
SCENE = SCENES["walking_box"]
POST_S = 3.0
ENV = {"RS_DISK_FLOOR_MB": "0", "RS_MOTION_PRE_S": "5"}


def _motion_events(station: StationProcess, source_id: int) -> list[dict]:
    status, events, _ = station.call("GET", f"/api/v1/event?kind=motion&source_id={source_id}")
    assert status == 200, events
    return sorted(events, key=lambda e: e["id"])


def _box_frames(path: Path) -> tuple[list[float], list[bool], bool]:
    """(time of each picture, whether the box shows in it, the first is a keyframe). The box
    shows where a picture differs from the file's first (the still scene) by more than the
    sensor noise and the coding can: 25 grey levels over at least 200 of its pixels (the
    box's first sliver, a frame after it enters, has 1400)."""
    times, boxed, first_key, still = [], [], False, None
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            grey = frame.to_ndarray(format="gray").astype(np.int16)
            if still is None:
                still, first_key = grey, frame.key_frame
            times.append(float(frame.time))
            boxed.append(int((np.abs(grey - still) > 25).sum()) >= 200)
    return times, boxed, first_key


@pytest.mark.timeout(120)
def test_the_walking_box_opens_an_event_and_records_from_pre_to_post_capture(tmp_path: Path):
    clip = scene_clip("walking_box")
    camera = _camera(width=640, height=360, fps=10, clips={"/main": clip, "/sub": clip},
                     log_play=True).start()
    station = StationProcess(tmp_path, env=ENV)
    try:
        main, sub = camera.urls
        status, source, _ = station.call("POST", "/api/v1/source", {
            "name": "yard", "uri_rtsp": main, "uri_preview": sub, "record_mode": "motion"})
        assert status == 200, source
        sid = source["id"]
        status, motion, _ = station.call("PUT", f"/api/v1/source/{sid}/motion",
                                         {"post_capture_s": POST_S})
        assert status == 200 and motion["settings"]["post_capture_s"] == POST_S, motion
        wait_until(lambda: station.call("GET", f"/api/v1/source/{sid}/motion")[1]["analysing"]
                   == "preview", 20, message="the preview analysed")

        (event,) = wait_until(lambda: [e for e in _motion_events(station, sid) if e["end"]],
                              SCENE.seconds + 10, message="a motion event opened and closed")
        preview_play = camera.play_times()["/sub"][0]  # the preview's clip time 0, wall time
        entered = preview_play + SCENE.enters_s
        latency = wall_seconds(event["begin"]) - entered
        assert -0.3 <= latency <= 0.5, f"the event began {latency:+.2f} s from the box's entry"
        left = preview_play + SCENE.leaves_s
        assert left - 1.0 <= wall_seconds(event["end"]) <= left + 1.0, "closed as the box left"
        assert event["data"] == {"zones": []}

        def finished() -> list[dict]:
            status, records, _ = station.call("GET", "/api/v1/record?tag_name=motion")
            assert status == 200, records
            return [r for r in records if r["status"] == "finished"]

        (record,) = wait_until(finished, POST_S + 10, message="the motion record finished")
        assert [r["id"] for r in finished()] == [record["id"]], "one record for one motion"
    finally:
        station.stop()
        camera.stop()

    times, boxed, first_key = _box_frames(Path(record["location"]))
    assert first_key, "the record starts at a keyframe"
    first_box = boxed.index(True)
    last_box = len(boxed) - 1 - boxed[::-1].index(True)
    pre = times[first_box] - times[0]
    post = times[-1] - times[last_box]
    assert pre >= 5.0, f"the file starts {pre:.1f} s before the box enters"
    assert pre <= 5.0 + 1.1 + 1.0, "from the keyframe before, not much earlier"
    assert POST_S - 0.5 <= post <= POST_S + 1.5, f"it ends {post:.1f} s after the box left"
    span = times[last_box] - times[first_box]
    assert SCENE.leaves_s - SCENE.enters_s - 1.0 <= span <= SCENE.leaves_s - SCENE.enters_s
