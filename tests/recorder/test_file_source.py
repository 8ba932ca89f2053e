"""A `file://` source (looped at real time) recorded and checked packet by packet against
the file that was sent: every recorded packet is the next one of the source, in order, across
loop boundaries, with timestamps rising one frame at a time."""

from __future__ import annotations

import hashlib
import time
from fractions import Fraction
from pathlib import Path

import av

from recorder.manager import RecorderManager
from recorder.worker import SourceSpec
from tests.conftest import wait_until

RATE = 25


def _make_clip(path: Path, frames: int = 40, gop: int = 10) -> None:
    """A clip whose frames all differ (the moving test pattern), a keyframe every `gop`."""
    with av.open("testsrc2=size=320x240:rate=25", format="lavfi") as src, \
            av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=RATE, options={"preset": "ultrafast", "bf": "0"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.codec_context.gop_size = gop
        stream.codec_context.time_base = Fraction(1, RATE)
        for index, frame in enumerate(src.decode(video=0)):
            if index >= frames:
                break
            frame.pts = index
            out.mux(stream.encode(frame.reformat(format="yuv420p")))
        out.mux(stream.encode(None))


def _packets(path: Path) -> list[tuple[str, bool, float]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [(hashlib.md5(bytes(p)).hexdigest(), p.is_keyframe, float(p.pts * stream.time_base))
                for p in container.demux(stream) if p.size]


def test_recording_of_a_looped_file_holds_every_packet_in_order(tmp_path: Path):
    clip = tmp_path / "clip.mp4"
    _make_clip(clip)
    sent = [digest for digest, _, _ in _packets(clip)]
    assert len(set(sent)) == len(sent) == 40

    manager = RecorderManager()
    try:
        manager.ensure_source(SourceSpec(1, "file", f"file://{clip}"))
        wait_until(lambda: manager.status(1)[0] == "online", 20, message="online")
        time.sleep(0.9)
        manager.start_recording(1, "r", tmp_path / "rec.mp4")
        time.sleep(4.0)  # two and a half rounds of the clip
        result = manager.stop_recording(1, "r")
    finally:
        manager.shutdown()
    assert result.error is None
    recorded = _packets(result.path)
    assert recorded[0][1], "the file starts at a keyframe"
    start = sent.index(recorded[0][0])
    expected = [sent[(start + i) % len(sent)] for i in range(len(recorded))]
    assert [digest for digest, _, _ in recorded] == expected  # no packet lost, none reordered
    assert len(recorded) >= 4.0 * RATE - 5
    times = [t for _, _, t in recorded]
    assert times[0] == 0
    steps = {round(b - a, 3) for a, b in zip(times, times[1:])}
    assert steps == {1 / RATE}, steps  # one frame apart, also where the clip starts over
