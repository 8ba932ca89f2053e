"""A pre-encoded camera clip, and an exact check of a recording against it.

The RTSP test camera can serve a clip instead of encoding live
(``RtspCamera(clip=...)``).  Because every packet it sends is then known in
advance, "the file holds every packet the camera sent" can be checked
exactly: the recorded video packets must be, byte for byte, a contiguous run
of the clip's packets.  The comparison looks at the coded picture data only
(the VCL NAL units): a camera puts SPS/PPS in front of keyframes and a muxer
may or may not keep them, which says nothing about lost pictures.

    clip = cached_clip(seconds=100)          # encoded once with GStreamer
    index = ClipIndex(clip)
    check = index.check([recorded_mp4])      # CheckResult: lost, mismatched ...

``encode_clip`` runs GStreamer in the system Python (see camera.py for why).
The clip moves (a scrolling test pattern) so that x264 really spends the
bitrate, and has its running time burned in, which makes each frame unique.
"""
from __future__ import annotations

import hashlib
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.camera import SYSTEM_PYTHON

_ENCODE = """
import sys
import gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst
Gst.init(None)
pipeline = Gst.parse_launch(sys.argv[1])
pipeline.set_state(Gst.State.PLAYING)
msg = pipeline.get_bus().timed_pop_filtered(
    Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR)
pipeline.set_state(Gst.State.NULL)
if msg.type == Gst.MessageType.ERROR:
    raise SystemExit("encoding failed: %s" % (msg.parse_error()[0].message,))
"""
VCL_TYPES = frozenset(range(1, 6))  # coded slices; 5 = IDR


def encode_clip(path: Path, seconds: float, *, width: int = 1920, height: int = 1080,
                fps: int = 25, gop_seconds: float = 2.0, bitrate_kbps: int = 4000) -> Path:
    """Encode the camera clip: H.264 High 4:2:0, no B-frames, a keyframe exactly every
    ``gop_seconds`` (scene cuts off), constant bitrate, in an MP4."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    gop = max(1, round(fps * gop_seconds))
    partial = path.with_name(path.name + ".part")
    launch = (
        f"videotestsrc num-buffers={round(seconds * fps)} pattern=smpte horizontal-speed=8 "
        f"! video/x-raw,format=I420,width={width},height={height},framerate={fps}/1 "
        '! timeoverlay font-desc="Sans 48" '
        f"! x264enc speed-preset=veryfast bitrate={bitrate_kbps} key-int-max={gop} bframes=0 "
        f'aud=false option-string="scenecut=0:min-keyint={gop}" '
        "! video/x-h264,profile=high ! h264parse ! mp4mux "
        f'! filesink location="{partial}"')
    subprocess.run([SYSTEM_PYTHON, "-c", _ENCODE, launch], check=True, timeout=3600)
    partial.replace(path)
    return path


def cached_clip(seconds: float, *, width: int = 1920, height: int = 1080, fps: int = 25,
                gop_seconds: float = 2.0, bitrate_kbps: int = 4000,
                cache_dir: Path | None = None) -> Path:
    """The clip for these parameters, encoded on first use and kept in a cache folder."""
    folder = Path(cache_dir or Path(tempfile.gettempdir()) / "recording-station-clips")
    name = f"clip_{width}x{height}_{fps}fps_gop{gop_seconds:g}s_{bitrate_kbps}k_{seconds:g}s.mp4"
    path = folder / name
    if not path.is_file():
        encode_clip(path, seconds, width=width, height=height, fps=fps,
                    gop_seconds=gop_seconds, bitrate_kbps=bitrate_kbps)
    return path


def _nal_units(data: bytes, length_size: int):
    """NAL units of one packet, whether length-prefixed (MP4) or Annex B (start codes)."""
    if data[:4] == b"\x00\x00\x00\x01" or data[:3] == b"\x00\x00\x01":
        for chunk in data.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01"):
            if chunk:
                yield chunk.rstrip(b"\x00")
        return
    pos = 0
    while pos + length_size <= len(data):
        size = int.from_bytes(data[pos:pos + length_size], "big")
        pos += length_size
        yield data[pos:pos + size]
        pos += size


def picture_hash(data: bytes, length_size: int = 4) -> str:
    """Hash of a packet's coded picture (its VCL NAL units), blind to SPS/PPS/SEI/AUD."""
    digest = hashlib.sha1()
    for nal in _nal_units(data, length_size):
        if nal and nal[0] & 0x1F in VCL_TYPES:
            digest.update(len(nal).to_bytes(4, "big"))
            digest.update(nal)
    return digest.hexdigest()


@dataclass
class VideoPackets:
    """The video packets of one or more files played one after another."""

    hashes: list[str] = field(default_factory=list)
    keyframes: list[bool] = field(default_factory=list)
    dts_s: list[float] = field(default_factory=list)  # file time, per file (not joined)
    file_starts: list[int] = field(default_factory=list)


def read_packets(paths) -> VideoPackets:
    import av  # the project venv's PyAV; this module is also imported for encode_clip alone

    out = VideoPackets()
    for path in paths:
        out.file_starts.append(len(out.hashes))
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            extra = stream.codec_context.extradata or b""
            length_size = (extra[4] & 3) + 1 if extra[:1] == b"\x01" and len(extra) > 4 else 4
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                out.hashes.append(picture_hash(bytes(packet), length_size))
                out.keyframes.append(bool(packet.is_keyframe))
                ts = packet.dts if packet.dts is not None else packet.pts
                out.dts_s.append(float(ts * packet.time_base) if ts is not None else float("nan"))
    return out


@dataclass
class CheckResult:
    """How a recording compares with the clip the camera served."""

    packets: int              # video packets in the file(s)
    first_index: int | None   # clip packet the recording starts at
    starts_at_keyframe: bool  # ... and it is a keyframe (in the clip and in the file)
    lost: int                 # clip packets missing inside the recorded run
    foreign: int              # packets that are not the next clip packet nor a later one
    max_step_s: float         # largest DTS step between neighbouring packets (in one file)
    monotonic: bool           # DTS strictly increasing within each file

    @property
    def ok(self) -> bool:
        return (self.packets > 0 and self.starts_at_keyframe and self.lost == 0
                and self.foreign == 0 and self.monotonic)


class ClipIndex:
    """The clip's packets, to compare recordings with."""

    def __init__(self, clip: Path):
        self.clip = Path(clip)
        self.packets = read_packets([self.clip])
        self.position: dict[str, int] = {}
        for i, h in enumerate(self.packets.hashes):
            self.position.setdefault(h, i)
        if len(self.position) != len(self.packets.hashes):
            raise ValueError(f"{clip}: pictures repeat, packets cannot be told apart")

    def check(self, paths) -> CheckResult:
        """Compare the video packets of ``paths`` (played in order) with the clip."""
        rec = read_packets(paths)
        first = self.position.get(rec.hashes[0]) if rec.hashes else None
        lost = foreign = 0
        expected = first
        for h in rec.hashes[1:] if first is not None else ():
            expected += 1
            at = self.position.get(h)
            if at == expected:
                continue
            if at is not None and at > expected:
                lost += at - expected
                expected = at
            else:
                foreign += 1
                expected -= 1
        starts = set(rec.file_starts)
        steps = [b - a for i, (a, b) in enumerate(zip(rec.dts_s, rec.dts_s[1:]), 1)
                 if i not in starts]
        return CheckResult(
            packets=len(rec.hashes), first_index=first,
            starts_at_keyframe=(first is not None and self.packets.keyframes[first]
                                and rec.keyframes[0]),
            lost=lost, foreign=foreign if first is not None else len(rec.hashes),
            max_step_s=max(steps, default=0.0),
            monotonic=all(s > 0 for s in steps))
