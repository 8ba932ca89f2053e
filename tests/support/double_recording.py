"""The check of a double-recorded source (#23): a tag started and stopped on a source its mode
records continuously is its own file, made of the very packets (byte for byte) of a stretch
of the continuous file, and the continuous file has no gap: every video DTS step the same."""

from __future__ import annotations

import av


def video_packets(path: str) -> tuple[list[int], list[bytes]]:
    """The video packets of a file: their DTS and their bytes."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.dts is not None and p.size]
        return [p.dts for p in packets], [bytes(p) for p in packets]


def assert_exact_stretch(tag_file: str, continuous_file: str, min_packets: int = 25) -> None:
    """`tag_file` is a stretch of `continuous_file`, packet for packet, and the continuous
    file has no gap or jump."""
    tag_dts, tag = video_packets(tag_file)
    whole_dts, whole = video_packets(continuous_file)
    # equal lengths happen: a tag started within the continuous file's first GOP begins at the
    # same keyframe (its pre-roll), and the station's stop right after the tag's ends both
    assert len(tag) > min_packets and len(whole) >= len(tag), (len(tag), len(whole))
    steps = {b - a for a, b in zip(whole_dts, whole_dts[1:])}
    assert len(steps) == 1, f"the continuous file has a gap or a jump: {sorted(steps)[:5]}"
    at = whole.index(tag[0])
    assert whole[at:at + len(tag)] == tag, "the tag's file is not the continuous file's packets"
    assert {b - a for a, b in zip(tag_dts, tag_dts[1:])} == steps
