"""A recording whose finish a full disk interrupted still plays (recorder.hybrid_head).

The file states are made byte for byte as FFmpeg leaves them: a recording file written with the
recorder's own muxer options and finished normally, then cut where the disk ran out (before
its final `moov`, or inside it), after FFmpeg had already rewritten the header at its start.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import pytest

from recorder.hybrid_head import restore_fragmented_head
from recorder.mp4file import Mp4Output
from tests.support.clip import cached_clip
from tests.support.small_disk import decodable_frames

FRAMES = 150  # 6 s at 25 fps


def _record(path: Path, *, finish: bool = True, copy_at: int | None = None,
            copy_to: Path | None = None) -> None:
    """Packets of a clip into `path` with the recorder's options; a copy of the file as it
    stood after `copy_at` packets (what a killed process leaves)."""
    clip = cached_clip(10, width=320, height=240, fps=25, gop_seconds=1, bitrate_kbps=600)
    container = Mp4Output(path).open_container()
    with av.open(str(clip)) as source:
        stream = source.streams.video[0]
        out = container.add_stream_from_template(stream)
        for n, packet in enumerate(source.demux(stream)):
            if packet.dts is None or n >= FRAMES:
                continue
            packet.stream = out
            container.mux(packet)
            if n == copy_at:
                shutil.copy(path, copy_to)
    container.close()


def _frames(path: Path) -> int:
    """Frames that play; 0 if the file does not open or has no video stream."""
    try:
        return decodable_frames(path)
    except (av.InvalidDataError, IndexError):  # "moov atom not found"; a moov cut short
        return 0


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, Path]:
    """A finished recording, and the same recording as it stood mid-way."""
    folder = tmp_path_factory.mktemp("hybrid")
    done, midway = folder / "done.mp4", folder / "midway.mp4"
    _record(done, copy_at=100, copy_to=midway)
    return done, midway


def _final_moov_at(data: bytes) -> int:
    at = data.rfind(b"moov") - 4
    assert at > 1000, "no final moov"
    return at


@pytest.mark.parametrize("cut", ["before the final moov", "inside the final moov"])
def test_a_finish_the_disk_refused_is_undone_and_the_fragments_play(finished, tmp_path, cut):
    done, _ = finished
    data = done.read_bytes()
    moov = _final_moov_at(data)
    # the disk took the last fragment, not all of it ... and the head was rewritten anyway
    end = moov - 3000 if cut.startswith("before") else moov + 200
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[:end])
    assert _frames(broken) == 0  # what CI saw: "moov atom not found"

    assert restore_fragmented_head(broken) is True
    frames = _frames(broken)
    if cut.startswith("before"):
        assert 100 <= frames < FRAMES, frames  # every whole fragment that reached the disk
    else:
        assert frames == FRAMES  # only the index was lost: the fragments hold every frame
    assert restore_fragmented_head(broken) is False  # nothing left to undo


def test_finished_and_unfinished_recordings_are_left_alone(finished, tmp_path):
    done, midway = finished
    for original in (done, midway):
        copy = tmp_path / original.name
        shutil.copy(original, copy)
        assert restore_fragmented_head(copy) is False
        assert copy.read_bytes() == original.read_bytes()
    assert decodable_frames(done) == FRAMES
    not_mp4 = tmp_path / "x.mp4"
    not_mp4.write_bytes(b"\x00" * 10)
    assert restore_fragmented_head(not_mp4) is False
    assert restore_fragmented_head(tmp_path / "missing.mp4") is False
