"""A bright object over the brightest part of the scene is motion (found on the motion
benchmark's first scene: a plain white box over SMPTE bars' light-grey bar was invisible to
`diff`). The contrast stretch maps the 4th-96th percentile onto 0..255: when the brightest
bar covers more than 4 % of the picture, the stretch's top is that bar, and a stretch that
clips would turn the bar and a white box over it both to 255, no difference at all."""
from __future__ import annotations

import numpy as np
import pytest

from vision.detector import MotionDetector
from vision.settings import MotionSettings

H, W = 101, 180
# SMPTE 75 % bars' luma (grey, yellow, cyan, green, magenta, red, blue), as a camera's
# test pattern shows them: the grey bar, the brightest, covers a seventh of the picture.
BARS = (180, 162, 131, 112, 84, 65, 35)
BOX_W, BOX_H = 14, 30   # 2.3 % of the picture: a visitor, well above min_area


def bars(t: float) -> np.ndarray:
    """The bars with a faint sensor noise that differs picture by picture."""
    columns = np.repeat(np.array(BARS, np.float32), -(-W // len(BARS)))[:W]
    rng = np.random.default_rng(round(t * 10))
    picture = np.tile(columns, (H, 1)) + rng.normal(0.0, 1.5, (H, W))
    return np.clip(picture, 0, 255).astype(np.uint8)


def with_box(picture: np.ndarray, level: int, y: int, x: int = 6) -> np.ndarray:
    """A plain box of one grey ``level`` at (x, y): x = 6 is inside the grey bar (which spans
    columns 0..25)."""
    out = picture.copy()
    out[y:y + BOX_H, x:x + BOX_W] = level
    return out


def learnt(algorithm: str = "diff") -> tuple[MotionDetector, float]:
    """A detector that has seen the still bars for 4 s (the background and the stretch's
    history learned) and found nothing; the next picture's time."""
    detector = MotionDetector(MotionSettings(algorithm=algorithm))
    t = 0.0
    while t < 4.0:
        assert not detector.feed(bars(t), t).motion
        t = round(t + 0.2, 6)
    return detector, t


@pytest.mark.parametrize("algorithm", ["diff", "mog2"])
@pytest.mark.parametrize("level", [235, 255])   # video white, and full-range white
def test_a_white_box_over_the_light_grey_bar_is_motion(level, algorithm):
    detector, t = learnt(algorithm)
    seen = []
    for i in range(6):   # the box walks down the bar for a second
        seen.append(detector.feed(with_box(bars(t), level, 10 + 8 * i), t))
        t = round(t + 0.2, 6)
    assert all(d.motion for d in seen), [(d.t, d.level) for d in seen]
    (x, y, w, h), = seen[0].boxes
    assert x == pytest.approx(6 / W, abs=0.03) and w == pytest.approx(BOX_W / W, abs=0.04)
    assert y == pytest.approx(10 / H, abs=0.05) and h == pytest.approx(BOX_H / H, abs=0.08)


def test_the_same_box_a_shade_darker_than_the_bar_is_motion_too():
    """The stretch's other end: a box darker than the darkest bar (below the 4th percentile,
    where a clipping stretch makes everything 0)."""
    detector, t = learnt()
    d = detector.feed(with_box(bars(t), 0, 40, x=W - 20), t)   # inside the blue bar (35)
    assert d.motion and len(d.boxes) == 1
