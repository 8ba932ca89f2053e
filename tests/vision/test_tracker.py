"""The tracker on synthetic detections: make time, release, zones, maximum event length and
constant motion over a sliding hour (times are the detections' own)."""
from __future__ import annotations

import pytest

from vision.detector import Detection
from vision.settings import MotionSettings
from vision.tracker import MotionTracker

FPS = 5.0


def detection(t: float, motion: bool, zones: tuple[str, ...] = ()) -> Detection:
    return Detection(t, 0.05 if motion else 0.0, motion, zones,
                     ((0.1, 0.1, 0.1, 0.1),) if motion else (), False, False)


def feed(tracker: MotionTracker, start: float, seconds: float, motion: bool,
         zones: tuple[str, ...] = ()):
    """Feed ``seconds`` of pictures at FPS from ``start``; the changes with their picture time."""
    out = []
    for i in range(round(seconds * FPS)):
        t = start + i / FPS
        out.extend((t, c) for c in tracker.feed(detection(t, motion, zones)))
    return out


def test_motion_shorter_than_the_make_time_opens_nothing():
    tracker = MotionTracker(MotionSettings(make_time_s=0.5))
    assert feed(tracker, 0.0, 0.4, True) == []      # pictures at 0.0 and 0.2: an insect
    assert feed(tracker, 0.4, 5.0, False) == []
    assert not tracker.active


def test_an_event_opens_at_the_motions_start_and_closes_after_the_release():
    tracker = MotionTracker(MotionSettings(make_time_s=0.5))
    quiet = feed(tracker, 0.0, 2.0, False)
    moving = feed(tracker, 2.0, 3.0, True)
    after = feed(tracker, 5.0, 5.0, False)
    assert quiet == []
    [(at, opened)] = moving
    assert opened.kind == "opened" and opened.t == 2.0 and at == 2.6   # 2.0 + make time
    [(at, closed)] = after
    assert closed.kind == "closed" and closed.t == 4.8
    assert at >= 4.8 + MotionTracker.RELEASE_S
    assert not tracker.active


def test_a_pause_shorter_than_the_release_keeps_one_event():
    tracker = MotionTracker(MotionSettings())
    changes = feed(tracker, 0.0, 2.0, True) + feed(tracker, 2.0, 1.4, False) \
        + feed(tracker, 3.4, 2.0, True) + feed(tracker, 5.4, 3.0, False)
    assert [c.kind for _, c in changes] == ["opened", "closed"]


def test_zones_grow_within_an_event():
    tracker = MotionTracker(MotionSettings())
    changes = feed(tracker, 0.0, 1.0, True, ("gate",)) + feed(tracker, 1.0, 1.0, True, ("drive",)) \
        + feed(tracker, 2.0, 1.0, True, ("gate", "drive")) + feed(tracker, 3.0, 3.0, False)
    assert [(c.kind, c.zones) for _, c in changes] == [
        ("opened", ("gate",)), ("zones", ("drive", "gate")), ("closed", ("drive", "gate"))]


def test_the_maximum_length_closes_and_opens_again_while_motion_goes_on():
    tracker = MotionTracker(MotionSettings(max_event_s=60.0, constant_motion_share=1.0))
    changes = feed(tracker, 0.0, 150.0, True) + feed(tracker, 150.0, 5.0, False)
    kinds = [c.kind for _, c in changes]
    assert kinds == ["opened", "closed", "opened", "closed", "opened", "closed"]
    opens = [c.t for _, c in changes if c.kind == "opened"]
    assert opens[0] == 0.0
    assert opens[1] - opens[0] == 60.0 and opens[2] - opens[1] == 60.0


def test_constant_motion_is_raised_once_and_re_armed_when_the_share_falls():
    tracker = MotionTracker(MotionSettings(max_event_s=600.0, constant_motion_share=0.5))
    # 40 minutes in motion: over half an hour of the last hour -> once.
    changes = feed(tracker, 0.0, 40 * 60.0, True)
    constant = [(at, c) for at, c in changes if c.kind == "constant_motion"]
    assert len(constant) == 1
    assert constant[0][0] == pytest.approx(30 * 60.0, abs=1.0)
    assert [c.kind for _, c in changes].count("opened") == 4    # max_event_s still applies
    # Quiet for 80 minutes: the share falls under a quarter; motion again for 40 minutes.
    again = feed(tracker, 40 * 60.0, 80 * 60.0, False) + feed(tracker, 120 * 60.0, 40 * 60.0, True)
    assert [c.kind for _, c in again].count("constant_motion") == 1
    assert tracker.busy_share(160 * 60.0) > 0.5


def test_constant_motion_stays_quiet_below_the_share():
    tracker = MotionTracker(MotionSettings(constant_motion_share=0.5))
    changes = []
    for minute in range(120):       # 20 s of motion a minute: a third of every hour
        changes += feed(tracker, minute * 60.0, 20.0, True)
        changes += feed(tracker, minute * 60.0 + 20.0, 40.0, False)
    assert "constant_motion" not in [c.kind for _, c in changes]
    assert 0.3 < tracker.busy_share(120 * 60.0) < 0.45


def test_keyframes_only_every_two_seconds_still_make_and_release_events():
    """A source without a preview stream is analysed on its main stream's keyframes: one
    picture per GOP. Make time and release must not need pictures closer than that."""
    tracker = MotionTracker(MotionSettings(make_time_s=0.5))
    changes = []
    for i, motion in enumerate([False, True, True, True, False, True, False, False]):
        changes += [(i * 2.0, c) for c in tracker.feed(detection(i * 2.0, motion))]
    assert [(at, c.kind, c.t) for at, c in changes] == [
        (4.0, "opened", 2.0), (14.0, "closed", 10.0)]


def test_time_going_back_closes_the_open_event_and_starts_afresh():
    tracker = MotionTracker(MotionSettings())
    opened = feed(tracker, 100.0, 2.0, True)
    assert [c.kind for _, c in opened] == ["opened"]
    restarted = feed(tracker, 0.0, 2.0, True) + feed(tracker, 2.0, 3.0, False)
    assert [(c.kind, c.t) for _, c in restarted] == [
        ("closed", 101.8), ("opened", 0.0), ("closed", 1.8)]


def test_the_busy_hour_slides():
    """Events of 10 s of motion every minute for two hours (open from the make time, 0.6 s,
    to the release, 2 s after the last picture at 9.8 s: 11.4 s): the share is that of one
    hour, not of the whole run, and it forgets what is older than an hour."""
    tracker = MotionTracker(MotionSettings(constant_motion_share=1.0))
    for minute in range(120):
        feed(tracker, minute * 60.0, 10.0, True)
        feed(tracker, minute * 60.0 + 10.0, 50.0, False)
    assert tracker.busy_share(120 * 60.0) == pytest.approx(11.4 / 60.0, abs=0.001)
    feed(tracker, 120 * 60.0, 30 * 60.0, False)
    assert tracker.busy_share(150 * 60.0) == pytest.approx(11.4 / 120.0, abs=0.001)
    feed(tracker, 150 * 60.0, 31 * 60.0, False)
    assert tracker.busy_share(181 * 60.0) == 0.0


def test_one_long_silence_is_not_taken_for_the_sources_rate():
    """A camera that goes away: the analyser feeds a quiet picture at the time the silence
    has reached (app/motion/analyser.py). The event closes at the first one past the release,
    not one release later."""
    tracker = MotionTracker(MotionSettings())
    assert [c.kind for _, c in feed(tracker, 0.0, 3.0, True)] == ["opened"]
    [closed] = tracker.feed(detection(2.8 + 2.5, False))      # 2.5 s of silence
    assert (closed.kind, closed.t) == ("closed", 2.8)
