"""Issue #24's check, end to end: every scripted scene (tests/support/scenes.py) served by ONE
real RTSP test camera, each on mount points of its own as a source's main and preview stream,
watched by ONE real station process, one source per scene. Each scene must give exactly the
events it should: the walking box one `motion` event opening within 0.5 s of its entry (the
clip's own time, dated by the camera's PLAY of that preview), the static scene, the light
step (an infrared switch), the rain, the clock under an exclude mask and the scene that turns
monochrome none, and no source a `constant_motion`.

tests/vision/test_scenes.py runs the same scenes through the detector directly; this one adds
what lies between a camera and the detector in the station: RTSP, the preview decoder, the
swscale grey picture and colour measure, the analysis slot, stream time carried into wall
time, the events service and the API. A clip ends (EOS): the station loses the camera (its
`camera_lost` events are expected and ignored), reconnects and the clip plays again; the test
waits until every preview's first play is over (its length after its PLAY) and judges
that first play."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import _camera, wait_until
from tests.support.event_stream import wall_seconds
from tests.support.scenes import SCENES, scene_clip
from tests.support.station_process import StationProcess

pytestmark = [pytest.mark.rtsp, pytest.mark.system]
BOX = SCENES["walking_box"]
# The clock's exclude mask: its region grown by 2 % of the picture on each side (the blur and
# the dilation spread a change by a few pixels; an operator draws the mask around the digits).
_x, _y, _w, _h = SCENES["clock"].region
CLOCK_MASK = {"name": "", "kind": "exclude",
              "points": [[_x - 0.02, _y - 0.02], [_x + _w + 0.02, _y - 0.02],
                         [_x + _w + 0.02, _y + _h + 0.02], [_x - 0.02, _y + _h + 0.02]]}


def _events(station: StationProcess, kind: str) -> list[dict]:
    status, events, _ = station.call("GET", f"/api/v1/event?kind={kind}")
    assert status == 200, events
    return sorted(events, key=lambda e: e["id"])


@pytest.mark.timeout(120)
def test_every_scene_gives_exactly_its_events_through_a_station(tmp_path: Path):
    clips = {}
    for name in SCENES:
        clip = scene_clip(name)
        clips[f"/{name}_main"], clips[f"/{name}_sub"] = clip, clip
    camera = _camera(width=640, height=360, fps=10, clips=clips, log_play=True).start()
    url = dict(zip(clips, camera.urls))
    station = StationProcess(tmp_path, env={"RS_DISK_FLOOR_MB": "0"})
    try:
        # Every source is created disabled and given its motion settings first, so that the
        # clock is masked from its clip's first picture on; then all are enabled at once.
        ids: dict[str, int] = {}
        for name in SCENES:
            status, source, _ = station.call("POST", "/api/v1/source", {
                "name": name, "uri_rtsp": url[f"/{name}_main"],
                "uri_preview": url[f"/{name}_sub"], "enabled": False})
            assert status == 200, source
            ids[name] = source["id"]
        status, motion, _ = station.call("PUT", f"/api/v1/source/{ids['clock']}/motion",
                                         {"zones": [CLOCK_MASK]})
        assert status == 200 and motion["settings"]["zones"][0]["kind"] == "exclude", motion
        for sid in ids.values():
            status, source, _ = station.call("PUT", f"/api/v1/source/{sid}", {"enabled": True})
            assert status == 200 and source["enabled"], source

        rates = {name: 0.0 for name in SCENES}

        def analysed() -> bool:
            """Each source's analyser status; the highest real rate each has reached."""
            for name, sid in ids.items():
                status, motion, _ = station.call("GET", f"/api/v1/source/{sid}/motion")
                assert status == 200, motion
                if motion["analysing"] == "preview":
                    rates[name] = max(rates[name], motion["rate_fps"])
            return all(rate > 0 for rate in rates.values())

        wait_until(analysed, 30, interval=0.5, message="every preview analysed")

        def played_through() -> bool:
            """Every preview's first play is over (its length after its PLAY, and 2 s for
            the last pictures' analysis and the box event's release), whenever the station
            reconnects after the end (its backoff is not what this test is about)."""
            analysed()
            plays = camera.play_times()
            if not all(plays.get(f"/{name}_sub") for name in SCENES):
                return False
            return all(time.time() >= plays[f"/{name}_sub"][0] + scene.seconds + 2.0
                       for name, scene in SCENES.items())

        wait_until(played_through, max(s.seconds for s in SCENES.values()) + 20, interval=0.5,
                   message="every preview clip played to its end")
        plays = camera.play_times()  # (stop() drops the camera's log)
        camera.stop()
        motion_events = _events(station, "motion")
        constant = _events(station, "constant_motion")
    finally:
        station.stop()
        camera.stop()

    # Every source was really analysed at about its 5 pictures a second (the rate is over the
    # last 10 s, so the start's ramp and the end's reconnection lower it).
    assert all(rate >= 3.0 for rate in rates.values()), rates
    by_source = {sid: [e for e in motion_events if e["source_id"] == sid]
                 for sid in ids.values()}
    for name, sid in ids.items():
        if name == "walking_box":
            continue
        assert by_source[sid] == [], f"{name}: a scene without a visitor raised motion"
    assert constant == [], "no source is in constant motion"

    first_play = plays["/walking_box_sub"][0]
    box = [e for e in by_source[ids["walking_box"]]
           if wall_seconds(e["begin"]) < first_play + BOX.seconds]  # not the replay's
    assert len(box) == 1, f"one event for the box's one crossing: {box}"
    (event,) = box
    latency = wall_seconds(event["begin"]) - (first_play + BOX.enters_s)
    print(f"walking box: event {latency:+.2f} s from the entry; rates {rates}")
    assert abs(latency) <= 0.5, f"the event began {latency:+.2f} s from the box's entry"
    assert event["end"] is not None, "closed after the box left"
    assert wall_seconds(event["end"]) <= first_play + BOX.leaves_s + 1.0
    assert event["data"] == {"zones": []}
