"""MotionService (app.motion): settings stored in the catalog and applied live, analysers that
follow the sources, and motion events from a real camera serving the walking-box scene.

Real station (SQLite catalog), real recorder, the RTSP test camera serving the scripted
scene clip as main and preview stream (tests/support/scenes.py)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from app.errors import InvalidInput, NotFound
from app.events import EventChanged, MotionChanged
from app.schemas import SourceIn
from app.station import apply_settings, build_station, start_station, stop_station
from app.recordings.mode_keeper import PRE_MARGIN_S
from tests.conftest import TESTSRC, _camera, make_settings, wait_until
from tests.support.scenes import QUICK_BOX, scene_clip

# The walking box entering at 2.5 s and gone at 5.5 s: these tests follow the event the
# detector opens (the scene's own 6 s lead-in and 6 s crossing are waited out by the scene
# runs, tests/e2e/test_motion_scenes.py, and the motion record's pre-capture test)
SCENE = QUICK_BOX


@pytest.fixture
def station(tmp_path):
    st = build_station(make_settings(tmp_path))
    start_station(st)
    yield st
    stop_station(st)


@pytest.fixture
def box_camera():
    """The quick walking box on /main and /sub (640x360, 10 fps, a keyframe a second)."""
    clip = scene_clip(SCENE)
    camera = _camera(width=640, height=360, fps=10, clips={"/main": clip, "/sub": clip})
    camera.start()
    yield camera
    camera.stop()


def _utc(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _wall(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_settings_are_validated_stored_and_follow_the_station_pre_capture(station, tmp_path):
    src = station.sources.create(SourceIn(name="door", uri_rtsp="testsrc://testsrc2?size=320x180"))
    settings = station.motion.settings(src.id)
    assert settings.enabled and settings.pre_capture_s == station.settings.motion_pre_s
    with pytest.raises(InvalidInput) as bad:
        station.motion.change(src.id, {"sensitivity": 0}, "test")
    assert bad.value.field == "sensitivity"
    with pytest.raises(InvalidInput) as bad:
        station.motion.change(src.id, {"zones": [{"kind": "include", "name": "a",
                                                  "points": [[0, 0], [1, 2], [0, 1]]}]}, "t")
    assert bad.value.field.startswith("zones[0].points")
    with pytest.raises(InvalidInput) as bad:
        station.motion.change(src.id, {"colour": 3}, "test")
    assert bad.value.field == "colour"
    with pytest.raises(NotFound):
        station.motion.change(src.id + 100, {"sensitivity": 60}, "test")
    assert station.motion.settings(src.id) == settings, "nothing stored by a refused change"

    mask = {"name": "", "kind": "exclude", "points": [[0.8, 0], [1, 0], [1, 0.1]]}
    status = station.motion.change(src.id, {"sensitivity": 70, "zones": [mask]}, "test")
    assert status.settings.sensitivity == 70 and status.settings.zones[0].kind == "exclude"
    apply_settings(station, station.settings.model_copy(update={"motion_pre_s": 8}))
    assert station.motion.settings(src.id).pre_capture_s == 8, "the station's default follows"

    # another station process reading the same catalog sees what was stored
    stop_station(station)
    again = build_station(make_settings(tmp_path))
    try:
        stored = again.motion.settings(src.id)
        assert stored.sensitivity == 70 and len(stored.zones) == 1
        assert stored.zones[0].points[2] == (1.0, 0.1)
    finally:
        again.catalog.close()
    start_station(station)  # (the fixture stops it again)


@pytest.mark.system  # the whole scene is played (the e2e twin: tests/e2e)
def test_the_walking_box_opens_and_closes_a_motion_event(station, box_camera):
    main, sub = box_camera.urls
    seen: list = []
    station.bus.subscribe(lambda e: seen.append(e) if isinstance(e, (MotionChanged,
                                                                     EventChanged)) else None)
    src = station.sources.create(SourceIn(name="yard", uri_rtsp=main, uri_preview=sub))
    wait_until(lambda: station.motion.status(src.id).analysing == "preview", 20,
               message="the analyser on the preview stream")
    wait_until(lambda: station.motion.status(src.id).rate_fps > 0, 20, message="pictures")
    opened = wait_until(lambda: [e.event for e in seen if isinstance(e, EventChanged)
                                 and e.event.kind == "motion" and e.change == "opened"],
                        SCENE.seconds + 10, message="a motion event")[0]
    assert station.motion.active(src.id)
    assert any(isinstance(e, MotionChanged) and e.active and e.source_id == src.id for e in seen)
    closed = wait_until(lambda: [e.event for e in seen if isinstance(e, EventChanged)
                                 and e.event.kind == "motion" and e.change == "closed"],
                        SCENE.seconds, message="the motion event closed")[0]
    assert closed.id == opened.id and closed.data == {"zones": []}
    lasted = _wall(closed.end) - _wall(closed.begin)
    crossing = SCENE.leaves_s - SCENE.enters_s
    assert crossing - 1.5 <= lasted <= crossing + 1.0, f"the box crossed for {crossing} s: {lasted}"
    assert any(isinstance(e, MotionChanged) and not e.active for e in seen)
    # the analyser's grids (#28): the whole picture moved while the event was open, seen by a
    # search at once (the minute still in memory) and still after the store wrote it
    began, ended = _utc(closed.begin), _utc(closed.end)
    for _ in range(2):
        (hit,) = station.motion_search.search([src.id], began - timedelta(seconds=5),
                                              ended + timedelta(seconds=5), [(0, 0, 1, 1)])
        assert hit.begin <= began + timedelta(seconds=1) and hit.end >= ended, (hit, began, ended)
        station.motion_grids.flush()
    status = station.motion.status(src.id)
    assert 3.5 <= status.rate_fps <= 6.0 and 0 < status.cost_ms < 20
    assert not status.active

    # tuning: the mask comes once asked for
    wait_until(lambda: (d := station.motion.tune(src.id)) is not None and d.changed is not None,
               5, message="a detection with its mask")

    # disabled detection: the analyser stops; enabled again: it comes back
    station.motion.change(src.id, {"enabled": False}, "test")
    wait_until(lambda: station.motion.status(src.id).analysing == "off", 5, message="off")
    station.motion.change(src.id, {"enabled": True, "fps": 2}, "test")
    wait_until(lambda: station.motion.status(src.id).analysing == "preview", 5, message="on")
    station.sources.update(src.id, SourceIn(enabled=False))
    wait_until(lambda: station.motion.status(src.id).analysing == "off", 5, message="disabled")
    assert src.id not in station.recorder._analysis


def test_a_source_without_preview_is_analysed_on_keyframes(station, box_camera):
    main, _ = box_camera.urls
    src = station.sources.create(SourceIn(name="gate", uri_rtsp=main))
    wait_until(lambda: station.motion.status(src.id).analysing == "keyframes", 20,
               message="keyframe analysis")
    wait_until(lambda: station.motion.status(src.id).rate_fps > 0.3, 20, message="keyframes")
    assert station.motion.status(src.id).rate_fps <= 1.5  # a keyframe a second
    started = time.monotonic()
    station.sources.delete(src.id)
    wait_until(lambda: station.motion.analysed() == [], 5, message="the analyser gone")
    assert time.monotonic() - started < 5


def test_the_mode_keeper_takes_the_sources_own_pre_and_post_capture(station):
    src = station.sources.create(SourceIn(name="porch", uri_rtsp=TESTSRC, record_mode="motion"))
    # motion driven by hand: the detector is off, the capture settings are the source's
    station.motion.change(src.id, {"enabled": False, "pre_capture_s": 3, "post_capture_s": 1},
                          "test")
    wait_until(lambda: station.recorder._keep_s.get(src.id) == 3 + PRE_MARGIN_S, 5,
               message="the recorder keeps the source's pre-capture")

    def running() -> list:
        return [r for r in station.recordings.own_running() if r.source and r.source.id == src.id]

    event = station.events.open("motion", source_id=src.id, text="porch: motion")
    wait_until(running, 5, message="the motion record")
    station.events.close(event.id)
    closed = time.monotonic()
    wait_until(lambda: not running(), 5, message="the post-capture's end")
    assert 0.8 <= time.monotonic() - closed <= 2.5, "1 s of post-capture, not the default 10"


def test_a_new_address_keeps_the_analyser_and_its_slot(station, box_camera):
    main, sub = box_camera.urls
    src = station.sources.create(SourceIn(name="lane", uri_rtsp=main))
    wait_until(lambda: station.motion.status(src.id).analysing == "keyframes", 20,
               message="keyframe analysis")
    analyser = station.motion._analysers[src.id]
    slot = analyser.slot
    station.sources.update(src.id, SourceIn(uri_rtsp=main + "?again=1", uri_preview=sub))
    wait_until(lambda: slot.input == "preview", 10, message="the preview feeds the same slot")
    seq = slot.latest().seq if slot.latest() is not None else 0
    assert slot.wait_newer(seq, 10) is not None
    assert station.motion._analysers[src.id] is analyser


def test_constant_motion_is_one_instant_warning(station):
    """The tracker's constant_motion (an hour of scene needed to raise it for real: the
    tracker's own tests do) becomes one instant `constant_motion` event of the source."""
    from app.motion.analyser import SourceAnalyser
    from recorder.analysis import AnalysisSlot
    from vision.tracker import MotionChange

    src = station.sources.create(SourceIn(name="web", uri_rtsp=TESTSRC))
    analyser = SourceAnalyser(src.id, AnalysisSlot("keyframes", 5.0),
                              station.motion.settings(src.id), lambda *a: None)
    station.motion._on_change(analyser, MotionChange("constant_motion", 100.0), time.time())
    (event,) = station.events.list(kind="constant_motion", source_id=src.id)
    assert event.severity == "warning" and event.end == event.begin
    assert "spider web" in event.text and event.data == {"share": 0.5}


def test_a_camera_that_goes_silent_in_motion_has_its_motion_closed(station, box_camera):
    main, sub = box_camera.urls
    src = station.sources.create(SourceIn(name="drive", uri_rtsp=main, uri_preview=sub))
    wait_until(lambda: station.motion.active(src.id), SCENE.enters_s + 15,
               message="motion (the box walking in)")
    stopped = time.monotonic()
    box_camera.stop()
    wait_until(lambda: not station.motion.active(src.id), 6, message="the motion closed")
    assert time.monotonic() - stopped >= 1.5, "after RELEASE_S of silence, not at once"
    (event,) = station.events.list(kind="motion", source_id=src.id)
    assert event.end is not None
