"""Motion settings: defaults, JSON round trip, partial updates, and every bad value refused
with the field named as the client wrote it."""
from __future__ import annotations

import json
import math

import pytest

from vision.settings import MotionSettings, SettingsError, Zone

SQUARE = [[0.1, 0.1], [0.4, 0.1], [0.4, 0.4], [0.1, 0.4]]


def test_defaults_are_the_issues():
    s = MotionSettings()
    assert (s.algorithm, s.fps, s.sensitivity, s.make_time_s, s.post_capture_s,
            s.pre_capture_s, s.max_event_s, s.global_change, s.constant_motion_share) == (
        "diff", 5.0, 50, 0.5, 10.0, 5.0, 600.0, 0.8, 0.5)


def test_round_trip_through_json_keeps_everything():
    s = MotionSettings(algorithm="mog2", sensitivity=70, night_sensitivity=90,
                       night_min_area=0.01, zones=(
                           Zone("drive", "include", tuple(map(tuple, SQUARE)), 80),
                           Zone("", "exclude", ((0.5, 0.5), (0.9, 0.5), (0.7, 0.9)))))
    again = MotionSettings.from_dict(json.loads(json.dumps(s.to_dict())))
    assert again == s


def test_a_partial_dict_changes_only_what_it_names():
    base = MotionSettings(sensitivity=70, make_time_s=1.0)
    s = MotionSettings.from_dict({"min_area": 0.01}, base)
    assert (s.sensitivity, s.make_time_s, s.min_area) == (70, 1.0, 0.01)
    zoned = MotionSettings.from_dict(
        {"zones": [{"name": "gate", "kind": "include", "points": SQUARE}]}, base)
    assert zoned.zones[0].name == "gate" and zoned.zones[0].points[0] == (0.1, 0.1)
    assert MotionSettings.from_dict({"zones": []}, zoned).zones == ()


@pytest.mark.parametrize("changes, field", [
    ({"sensitivity": 0}, "sensitivity"),
    ({"sensitivity": 101}, "sensitivity"),
    ({"sensitivity": 50.5}, "sensitivity"),
    ({"sensitivity": True}, "sensitivity"),
    ({"sensitivity": "50"}, "sensitivity"),
    ({"fps": 0.5}, "fps"),
    ({"fps": math.nan}, "fps"),
    ({"min_area": -0.1}, "min_area"),
    ({"min_area": math.inf}, "min_area"),
    ({"max_event_s": 1}, "max_event_s"),
    ({"global_change": 0}, "global_change"),
    ({"algorithm": "knn"}, "algorithm"),
    ({"enabled": 1}, "enabled"),
    ({"night_sensitivity": 0}, "night_sensitivity"),
    ({"night_min_area": 2}, "night_min_area"),
    ({"colour": 3}, "colour"),
    ({"zones": "all"}, "zones"),
    ({"zones": [{"kind": "include", "points": SQUARE}]}, "zones[0].name"),
    ({"zones": [{"name": "a", "kind": "maybe", "points": SQUARE}]}, "zones[0].kind"),
    ({"zones": [{"name": "a", "kind": "include", "points": SQUARE[:2]}]}, "zones[0].points"),
    ({"zones": [{"name": "a", "kind": "include", "points": [[0, 0], [1, 0], [1, 1.5]]}]},
     "zones[0].points[2]"),
    ({"zones": [{"name": "a", "kind": "include", "points": [[0, 0], [1, 0], "xy"]}]},
     "zones[0].points[2]"),
    ({"zones": [{"name": "", "kind": "exclude", "points": SQUARE, "sensitivity": 50}]},
     "zones[0].sensitivity"),
    ({"zones": [{"name": "x" * 41, "kind": "include", "points": SQUARE}]}, "zones[0].name"),
    ({"zones": [{"name": "a\nb", "kind": "include", "points": SQUARE}]}, "zones[0].name"),
    ({"zones": [{"name": "a", "kind": "include", "points": SQUARE, "colour": 1}]},
     "zones[0].colour"),
    ({"zones": [{"name": "a", "kind": "include", "points": SQUARE}] * 2}, "zones[1].name"),
    ({"zones": [{"name": "", "kind": "exclude", "points": SQUARE}] * 33}, "zones"),
])
def test_bad_values_are_refused_naming_the_field(changes, field):
    with pytest.raises(SettingsError) as caught:
        MotionSettings.from_dict(changes)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


def test_not_an_object_is_refused():
    with pytest.raises(SettingsError):
        MotionSettings.from_dict(["sensitivity", 50])


def test_night_settings_fall_back_to_the_days():
    s = MotionSettings(sensitivity=40, min_area=0.003)
    assert (s.sensitivity_for(True), s.min_area_for(True)) == (40, 0.003)
    n = MotionSettings(sensitivity=40, night_sensitivity=90, night_min_area=0.01)
    assert (n.sensitivity_for(False), n.sensitivity_for(True)) == (40, 90)
    assert (n.min_area_for(False), n.min_area_for(True)) == (0.002, 0.01)
