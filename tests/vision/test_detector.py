"""The detector on synthetic grey pictures: what the settings in force change, picture by
picture (the scripted clips, test_scenes.py, check the whole behaviour)."""
from __future__ import annotations

import numpy as np
import pytest

from vision.detector import ANALYSIS_WIDTH, MotionDetector
from vision.settings import MotionSettings, Zone

H, W = 101, 180


def backdrop(seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.kron(rng.integers(60, 190, (H // 10 + 1, W // 10 + 1)), np.ones((10, 10)))
    return base[:H, :W].astype(np.uint8)


def with_square(picture: np.ndarray, x: int, y: int, size: int, delta: int) -> np.ndarray:
    out = picture.astype(np.int16)
    out[y:y + size, x:x + size] += delta
    return np.clip(out, 0, 255).astype(np.uint8)


def settle(detector: MotionDetector, picture: np.ndarray, *, colour=None, seconds=3.0) -> float:
    """Feed the still picture for a while at 5 pictures a second; the next picture's time."""
    t = 0.0
    while t < seconds:
        detector.feed(picture, t, colour=colour)
        t = round(t + 0.2, 6)
    return t


def test_a_square_is_motion_with_its_box_and_level():
    detector = MotionDetector(MotionSettings())
    t = settle(detector, backdrop())
    d = detector.feed(with_square(backdrop(), 40, 30, 20, 60), t, keep_mask=True)
    assert d.motion and not d.relearned and not d.night
    [(x, y, w, h)] = d.boxes
    assert x == pytest.approx(40 / W, abs=0.04) and y == pytest.approx(30 / H, abs=0.06)
    assert w == pytest.approx(20 / W, abs=0.05)
    assert 0.01 < d.level < 0.06
    assert d.changed is not None and d.changed.shape == (H, W) and d.changed.max() == 255


def test_a_change_smaller_than_min_area_is_not_motion():
    detector = MotionDetector(MotionSettings(min_area=0.05))
    t = settle(detector, backdrop())
    d = detector.feed(with_square(backdrop(), 40, 30, 20, 60), t)
    assert d.level > 0 and not d.motion and d.boxes == ()


@pytest.mark.parametrize("algorithm", ["diff", "mog2"])
def test_the_night_settings_are_in_force_while_the_picture_is_monochrome(algorithm):
    """A faint change (15 levels, about 30 once stretched) counts at night sensitivity 100
    (threshold 5), not at day sensitivity 1 (threshold 55)."""
    settings = MotionSettings(algorithm=algorithm, sensitivity=1, night_sensitivity=100)
    faint = with_square(backdrop(), 60, 40, 24, 15)
    day = MotionDetector(settings)
    t = settle(day, backdrop(), colour=20.0)
    assert not day.feed(faint, t, colour=20.0).motion
    night = MotionDetector(settings)
    t = settle(night, backdrop(), colour=0.5)
    d = night.feed(faint, t, colour=0.5)
    assert d.night and d.motion


def test_the_day_night_switch_relearns_and_is_no_motion():
    detector = MotionDetector(MotionSettings())
    t = settle(detector, backdrop(), colour=20.0)
    other = backdrop(seed=8)        # an infrared picture looks nothing like the day's
    seen = [detector.feed(other, round(t + i * 0.2, 6), colour=0.0) for i in range(15)]
    assert not any(d.motion for d in seen)
    assert any(d.relearned for d in seen)
    assert seen[-1].night


@pytest.mark.parametrize("algorithm", ["diff", "mog2"])
def test_an_include_zone_with_its_own_sensitivity(algorithm):
    zone = Zone("porch", "include", ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)),
                sensitivity=100)
    detector = MotionDetector(MotionSettings(algorithm=algorithm, sensitivity=1,
                                             zones=(zone,)))
    t = settle(detector, backdrop())
    inside = detector.feed(with_square(backdrop(), 20, 40, 24, 25), t)
    assert inside.motion and inside.zones == ("porch",)
    t = settle(detector, backdrop(), seconds=t + 3.0)
    outside = detector.feed(with_square(backdrop(), 130, 40, 24, 120), t)
    assert not outside.motion and outside.level == 0.0


def test_configure_keeps_the_learned_scene():
    detector = MotionDetector(MotionSettings(sensitivity=1))
    t = settle(detector, backdrop())
    detector.configure(MotionSettings(sensitivity=100))
    d = detector.feed(backdrop(), t)
    assert not d.motion and not d.relearned
    assert detector.feed(with_square(backdrop(), 40, 30, 20, 25), t + 0.2).motion


def test_a_wider_picture_is_scaled_to_the_analysis_width():
    detector = MotionDetector(MotionSettings())
    big = np.kron(backdrop(), np.ones((4, 4), np.uint8))
    t = settle(detector, big)
    d = detector.feed(with_square(big, 160, 120, 80, 60), t, keep_mask=True)
    assert d.motion and d.changed.shape[1] == ANALYSIS_WIDTH


def test_disabled_detects_nothing():
    detector = MotionDetector(MotionSettings(enabled=False))
    t = settle(detector, backdrop())
    assert not detector.feed(with_square(backdrop(), 40, 30, 40, 90), t).motion


def test_a_picture_that_is_not_grey_is_refused():
    with pytest.raises(ValueError):
        MotionDetector(MotionSettings()).feed(np.zeros((H, W, 3), np.uint8), 0.0)


def test_time_going_back_relearns_instead_of_comparing_with_another_streams_scene():
    detector = MotionDetector(MotionSettings())
    settle(detector, backdrop(), seconds=30.0)
    other = backdrop(seed=9)
    d = detector.feed(other, 0.0)
    assert d.relearned and not d.motion
    assert not detector.feed(other, 0.2).motion
    assert detector.feed(with_square(other, 40, 30, 20, 60), 1.6).motion


def exposure(picture: np.ndarray, kind: str, i: int) -> np.ndarray:
    """Picture ``i`` (5 a second) of a camera whose exposure changes from picture 30 on."""
    p = picture.astype(np.float32)
    k = max(0, i - 30)
    if kind == "brighter_slowly":
        p = p + min(k, 40) * 1.5            # +60 levels over 8 s
    elif kind == "contrast_slowly":
        p = p * (1 + min(k, 40) * 0.012)    # x1.5 over 8 s
    elif kind == "brighter_at_once":
        p = p + min(k, 5) * 10              # +50 levels in 1 s
    elif kind == "contrast_at_once":
        p = p * (1 + min(k, 5) * 0.1)
    elif kind == "flicker" and k:
        p = p * (1.0 + 0.15 * ((i // 3) % 2))   # a fluorescent lamp beating with the camera
    noise = np.random.default_rng(i).normal(0, 2, p.shape)
    return np.clip(p + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("algorithm", ["diff", "mog2"])
@pytest.mark.parametrize("kind", ["brighter_slowly", "contrast_slowly", "brighter_at_once",
                                  "contrast_at_once", "flicker"])
def test_exposure_changes_of_the_whole_picture_are_no_motion(kind, algorithm):
    detector = MotionDetector(MotionSettings(algorithm=algorithm))
    seen = [detector.feed(exposure(backdrop(), kind, i), i * 0.2, colour=10.0)
            for i in range(150)]
    assert not any(d.motion for d in seen), [d.t for d in seen if d.motion]


@pytest.mark.parametrize("algorithm", ["diff", "mog2"])
def test_a_visitor_is_seen_while_the_exposure_drifts(algorithm):
    detector = MotionDetector(MotionSettings(algorithm=algorithm))
    for i in range(40):
        detector.feed(exposure(backdrop(), "contrast_slowly", i), i * 0.2, colour=10.0)
    visitor = with_square(backdrop(), 70, 40, 20, 90)
    d = detector.feed(exposure(visitor, "contrast_slowly", 40), 8.0, colour=10.0)
    assert d.motion and len(d.boxes) == 1


def test_a_plane_cut_out_of_a_padded_buffer_is_analysed_like_a_copy():
    padded = np.zeros((H, W + 12), np.uint8)
    detector, copy = MotionDetector(MotionSettings()), MotionDetector(MotionSettings())
    for i in range(20):
        picture = backdrop() if i < 19 else with_square(backdrop(), 40, 30, 20, 60)
        padded[:, :W] = picture
        a, b = detector.feed(padded[:, :W], i * 0.2), copy.feed(picture.copy(), i * 0.2)
        assert (a.motion, a.level, a.boxes) == (b.motion, b.level, b.boxes)
    assert a.motion


def test_a_time_that_is_not_a_number_is_refused():
    with pytest.raises(ValueError):
        MotionDetector(MotionSettings()).feed(backdrop(), float("nan"))


def test_a_swaying_tree_is_background_to_mog2_and_a_visitor_is_still_seen():
    """What mog2 is for: a region that shows one of three textures at random, picture by
    picture (leaves in the wind), keeps diff's running average in motion; MOG2 learns the three
    as modes of its mixture. Both see a visitor walking in beside it."""
    rng = np.random.default_rng(3)
    still = backdrop()
    leaves = [np.clip(still[20:60, 100:150] + rng.normal(0, 40, (40, 50)), 0, 255)
              .astype(np.uint8) for _ in range(3)]
    seen = {}
    for algorithm in ("diff", "mog2"):
        detector = MotionDetector(MotionSettings(algorithm=algorithm))
        motion = []
        for i in range(510):
            picture = still.copy()
            picture[20:60, 100:150] = leaves[rng.integers(0, 3)]
            if i >= 500:
                picture = with_square(picture, 20, 50, 20, 80)
            motion.append(detector.feed(picture, i * 0.2, colour=10.0).motion)
        seen[algorithm] = (sum(motion[400:500]), sum(motion[500:]))
    assert seen["diff"][0] > 30                 # the tree, most of the time
    assert seen["mog2"][0] == 0
    assert seen["diff"][1] == seen["mog2"][1] == 10


@pytest.mark.parametrize("algorithm", ["diff", "mog2"])
@pytest.mark.parametrize("share", [0.3, 0.7])
def test_a_lorry_filling_most_of_the_picture_is_motion(share, algorithm):
    """A big object (here 70 % of the picture's width, full height) moves the picture's
    quartiles and its differences as an exposure change would; it must still be motion, not
    explained away by the exposure mapping or drowned by the noise floor."""
    rng = np.random.default_rng(5)
    width = int(W * share)
    lorry = np.kron(rng.integers(0, 255, (H // 5 + 1, width // 5 + 1)),
                    np.ones((5, 5)))[:H, :width].astype(np.uint8)
    detector = MotionDetector(MotionSettings(algorithm=algorithm))
    seen = []
    for i in range(60):
        picture = backdrop()
        if i >= 40:
            x = min(W - width, (i - 40) * 3)
            picture[:, x:x + width] = lorry
        seen.append(detector.feed(picture, i * 0.2, colour=10.0))
    assert not any(d.motion for d in seen[:40])
    assert all(d.motion for d in seen[40:]), [d.t for d in seen[40:] if not d.motion]
    assert not any(d.relearned for d in seen)
