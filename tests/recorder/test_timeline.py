"""The timestamp rules on glitchy camera clocks: the file time starts at zero, never goes
back, falls back to the wall clock without timestamps, and a reconnect leaves a visible gap."""

from __future__ import annotations

from recorder.timeline import TIME_BASE, MonotonicDts, Splice, Timeline


def test_file_time_starts_at_zero_and_follows_the_camera_clock():
    timeline, session = Timeline(), object()
    assert timeline.place(1000.0, wall=50.0, session=session) == 0.0
    assert abs(timeline.place(1000.04, wall=50.2, session=session) - 0.04) < 1e-9  # camera clock


def test_missing_timestamps_fall_back_to_the_wall_clock():
    timeline, session = Timeline(), object()
    timeline.place(None, wall=100.0, session=session)
    assert abs(timeline.place(None, wall=100.5, session=session) - 0.5) < 1e-9


def test_dts_never_goes_back_whatever_the_camera_sends():
    dts = MonotonicDts()
    seconds = [0.0, 0.04, 0.04, 0.02, 0.08, -5.0, 0.12]  # repeats, a step back, a wild value
    values = [dts("video", s) for s in seconds]
    assert all(b > a for a, b in zip(values, values[1:]))
    assert values[-1] == round(0.12 / TIME_BASE)
    assert dts("audio", 0.0) == 0  # each stream has its own clock


def test_a_reconnect_is_placed_at_its_wall_time_with_the_gap_logged():
    timeline = Timeline()
    first, second = object(), object()
    for i in range(25):
        timeline.place(500 + i * 0.04, wall=10 + i * 0.04, session=first)
        timeline.extend(i * 0.04 + 0.04)
    # the camera comes back 5 s later with its clock restarted near zero
    resumed = timeline.place(0.1, wall=16.0, session=second)
    assert abs(resumed - 6.0) < 1e-9
    # the gap as data: wall time of the last packet before, of the first packet after
    assert timeline.gaps == [(10.96, 16.0)]
    # a reconnect whose wall time says "earlier" still never overlaps what was written
    third = object()
    timeline.extend(7.0)
    assert timeline.place(3.0, wall=12.0, session=third) >= 7.0


def test_position_tells_where_a_packet_would_land_without_placing_it():
    """Rotation asks a keyframe's file time before choosing its file: nothing may change."""
    timeline, session = Timeline(), object()
    assert timeline.position(7.0, wall=100.0, session=session) == 0.0  # nothing placed yet
    for i in range(50):
        timeline.extend(timeline.place(7.0 + i * 0.04, wall=100 + i * 0.04, session=session))
    assert abs(timeline.position(9.0, wall=102.0, session=session) - 2.0) < 1e-9
    assert abs(timeline.position(None, wall=102.5, session=session) - 2.5) < 1e-9
    # a reconnect: where the wall clock puts it; a resumed pause: right after the file's end
    assert abs(timeline.position(0.0, wall=105.0, session=object()) - 5.0) < 1e-9
    assert timeline.position(0.0, wall=105.0, session=Splice(session)) == timeline.end_s
    assert timeline.gaps == [] and timeline.last_wall == 100 + 49 * 0.04
