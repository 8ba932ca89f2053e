"""The scripted scene clips are what a camera's sub-stream is and what the tests count on:
H.264 yuv420p, no B-frames, a keyframe exactly every second, the scene's length, and the
walking box in view exactly from its entry to its exit."""
from __future__ import annotations

import av
import numpy as np
import pytest

from tests.support.scenes import SCENES, analysis_pictures, scene_clip


@pytest.mark.parametrize("name", sorted(SCENES))
def test_a_scene_clip_is_a_camera_sub_stream(name):
    with av.open(str(scene_clip(name))) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        assert (ctx.name, ctx.pix_fmt, ctx.width, ctx.height) == ("h264", "yuv420p", 640, 360)
        assert ctx.profile in ("Baseline", "Constrained Baseline", "Main")
        packets = [p for p in container.demux(stream) if p.size]
    assert len(packets) == round(SCENES[name].seconds * 10)
    keyframes = [float(p.pts * p.time_base) for p in packets if p.is_keyframe]
    assert keyframes == [float(s) for s in range(round(SCENES[name].seconds))]
    assert all(p.pts == p.dts for p in packets)     # no B-frames: decode order is display order


def test_the_walking_box_is_in_view_exactly_between_its_entry_and_exit():
    scene = SCENES["walking_box"]
    pictures = list(analysis_pictures(scene_clip("walking_box"), fps=10))
    still = pictures[0][1].astype(np.int16)
    row = slice(int(still.shape[0] * 0.6), int(still.shape[0] * 0.85))   # the box's height
    changed = [t for t, grey, _ in pictures
               if np.abs(grey[row].astype(np.int16) - still[row]).max() > 60]
    assert changed[0] == pytest.approx(scene.enters_s + 0.1, abs=1e-6)  # first frame showing it
    assert changed[-1] == pytest.approx(scene.leaves_s - 0.1, abs=1e-6)
