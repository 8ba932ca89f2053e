"""Are the access units the station's RTSP reader hands on what they were? The H.264 and
H.265 depacketizers of the working tree against those of another revision, on what the RTSP
test camera really sends (issue #22 item 6 changed how a unit is gathered).

    .venv/bin/python tests/bench/check_depay.py                 # against OLD_REV
    .venv/bin/python tests/bench/check_depay.py --rev <commit>

The camera's interleaved RTP packets are captured for `--seconds` (the recording benchmark's
1080p clip, and live H.265), then given to both depacketizers as they came and, in a few more
rounds, with packets lost, repeated and swapped at random; the new one gets them as the new
reader gives them, in batches read into one buffer that is overwritten after each. The units
(RTP time, bytes, keyframe) must be the same, one for one. Exit status 0 when they all are.
Needs the RTSP test camera (as `make bench`).
"""
from __future__ import annotations

import argparse
import importlib.util
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from recorder.rtsp_input import RtspInput  # noqa: E402
from tests.support.camera import RtspCamera, skip_reason  # noqa: E402
from tests.support.clip import cached_clip  # noqa: E402

OLD_REV = "2e5a921"  # the last commit that grew a bytearray per RTP fragment


def capture(camera: RtspCamera, seconds: float) -> tuple[object, list[bytes]]:
    """The camera's video media and its RTP packets, as the station's reader receives them."""
    reader = RtspInput(camera.url)
    try:
        video = next(t for t in reader.tracks.values() if t.media.kind == "video")
        received = bytearray(reader.conn.buffer)
        reader.conn.sock.settimeout(1.0)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            chunk = reader.conn.sock.recv(1 << 16)
            if not chunk:
                break
            received += chunk
    finally:
        reader.close()
    packets, pos = [], 0
    while pos + 4 <= len(received) and received[pos] == 0x24:
        end = pos + 4 + ((received[pos + 2] << 8) | received[pos + 3])
        if end > len(received):
            break
        if received[pos + 1] == video.channel:
            packets.append(bytes(received[pos + 4:end]))
        pos = end
    return video.media, packets


def load_old(rev: str, into: Path):
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:recorder/rtp_depay.py"],
                            check=True, capture_output=True).stdout
    path = into / "old_rtp_depay.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("old_rtp_depay", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mangle(packets: list[bytes], rng: random.Random) -> list[bytes]:
    out: list[bytes] = []
    for packet in packets:
        roll = rng.random()
        if roll < 0.02:
            continue  # lost
        if roll < 0.03:
            out.append(packet)  # repeated
        elif roll < 0.04 and out:
            out.insert(len(out) - 1, packet)  # swapped with the one before
            continue
        out.append(packet)
    return out


def units(depay, packets: list[bytes], batches: random.Random | None = None) -> list:
    """What `depay` makes of `packets`: each in a buffer of its own (as the old reader gave
    them), or, with `batches`, as the new reader does: batches of a random number of packets
    read into one buffer that is overwritten after each (`detach` first)."""
    out: list = []
    if batches is None:
        for packet in packets:
            depay.push(memoryview(bytearray(packet)), 0, len(packet), out)
        return [(ts, bytes(data), key) for ts, data, key in out]
    buffer = bytearray(1 << 20)
    view, index = memoryview(buffer), 0
    while index < len(packets):
        batch = packets[index:index + batches.randint(1, 60)]
        index += len(batch)
        pos = 0
        for packet in batch:
            view[pos:pos + len(packet)] = packet
            depay.push(view, pos, pos + len(packet), out)
            pos += len(packet)
        out = [(ts, bytes(data), key) for ts, data, key in out]  # as the reader's packets
        depay.detach()
        view[:pos] = b"\xaa" * pos  # the next read overwrites the buffer
    return out

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rev", default=OLD_REV)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--rounds", type=int, default=5, help="rounds with packets lost and swapped")
    args = p.parse_args(argv)
    if skip_reason():
        print(skip_reason(), file=sys.stderr)
        return 2
    from recorder import rtp_depay as new
    with tempfile.TemporaryDirectory() as tmp:
        old = load_old(args.rev, Path(tmp))
    clip = cached_clip(180)  # the recording benchmark's (cached)
    cameras = [("h264 (clip)", RtspCamera(clip=clip))]
    if not skip_reason("h265"):
        cameras.append(("h265 (live)", RtspCamera(codec="h265", width=640, height=360)))
    bad = 0
    for name, camera in cameras:
        with camera:
            media, packets = capture(camera, args.seconds)
        kind = {"H264": "H264Depay", "H265": "H265Depay"}[media.encoding]
        for round_ in range(args.rounds + 1):
            given = packets if round_ == 0 else mangle(packets, random.Random(round_))
            a = units(getattr(old, kind)(media), given)
            b = units(getattr(new, kind)(media), given, batches=random.Random(100 + round_))
            same = a == b
            bad += not same
            print(f"{name}, {'as sent' if round_ == 0 else f'mangled #{round_}'}: "
                  f"{len(given)} RTP packets -> {len(a)} units, "
                  + ("identical" if same else f"DIFFERENT ({len(b)} units)"))
    print("identical" if not bad else f"{bad} rounds differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
