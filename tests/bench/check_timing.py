"""Are the recorder's timestamps what they were? The mux path's per-packet timing of one
revision against another's, on the same packets (issue #22 item 6 took `Fraction` out of it).

    .venv/bin/python tests/bench/check_timing.py                # this tree against OLD_REV
    .venv/bin/python tests/bench/check_timing.py --rev <commit> # ... against another commit

The same deterministic packet sequences go through `recorder` as it is in the working tree
and as it is at `--rev` (each in a process of its own, the old one from `git archive`):

* video in time bases 1/90000, 1/1000, 1/25, 1001/30000, 1/12800, 1/48000 and 1/8000, with
  and without B-frames (PTS ahead of DTS), packet durations set or not, packets without DTS,
  without PTS or without either (the wall clock places those), a reconnect (new streams,
  another time base, the camera's clock restarting elsewhere, a gap on the wall clock), a
  resumed pause (a splice);
* audio copied (AAC in 1/48000, 1/44100 and 1/1000) and audio transcoded (G.711 in 1/8000
  becomes AAC: the encoder's packets);
* for each sequence: every (PTS, DTS, time base, duration) the muxer is handed, the packet as
  it is left afterwards (it also goes to other recordings and the pre-roll), where a rotation
  would cut (`file_time` at each keyframe), the timeline's end and gaps; and the MD5 of the
  real MP4 file written from the same packets (the muxer's own rescaling included), for
  copied and re-encoded recordings.

Exit status 0 when every figure and every file is identical. Not a pytest test (the old tree
comes from git, and encoding the clips takes a few seconds).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OLD_REV = "2e5a921"  # the last commit with per-packet Fraction timing in recorder/mux.py
VIDEO_TIME_BASES = [(1, 90000), (1, 1000), (1, 25), (1001, 30000), (1, 12800), (1, 48000),
                    (1, 8000)]
AUDIO_TIME_BASES = [(1, 48000), (1, 44100), (1, 1000)]
FPS, FRAMES = 25, 150


# --- the child: one tree's results -----------------------------------------------------
def encode_video(bframes: int):
    """(owner, template stream, [(bytes, keyframe, pts s, dts s)]) from libx264, in memory."""
    import av

    owner = av.open(io.BytesIO(), "w", format="mp4")
    stream = owner.add_stream("libx264", rate=FPS, options={
        "preset": "ultrafast", "g": "25", "keyint_min": "25", "sc_threshold": "0",
        "bf": str(bframes), "threads": "1"})
    stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
    stream.codec_context.time_base = Fraction(1, FPS)
    owner.start_encoding()
    source = av.open(f"testsrc2=size=160x96:rate={FPS}", format="lavfi")
    packets = []

    def keep(encoded):
        packets.extend((bytes(p), p.is_keyframe, p.pts / FPS, p.dts / FPS) for p in encoded)

    for index, frame in enumerate(source.decode(video=0)):
        if index == FRAMES:
            break
        frame.pts = index
        keep(stream.encode(frame))
    keep(stream.encode(None))
    source.close()
    return owner, stream, packets


def encode_audio(codec: str, rate: int, samples: int):
    """(owner, template stream, [(bytes, True, pts s, dts s)]): a tone, `2 * FRAMES`
    packets of `samples` samples."""
    import av
    import numpy as np

    owner = av.open(io.BytesIO(), "w", format="mp4" if codec == "aac" else "nut")
    stream = owner.add_stream(codec, rate=rate)
    stream.codec_context.layout = "mono"
    owner.start_encoding()
    fmt = "fltp" if codec == "aac" else "s16"
    packets, t = [], 0
    for _ in range(FRAMES * 2):
        tone = np.sin(np.arange(t, t + samples) * 2 * np.pi * 440 / rate) * 0.3
        data = tone.astype(np.float32) if fmt == "fltp" else (tone * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format=fmt, layout="mono")
        frame.sample_rate, frame.pts = rate, t
        t += samples
        packets += [bytes(p) for p in stream.encode(frame)]
    packets += [bytes(p) for p in stream.encode(None)]
    seconds = samples / rate
    return owner, stream, [(data, True, i * seconds, i * seconds) for i, data in enumerate(packets)]


class _FakeContainer:
    """Stands in for the output file: records what `mux_one` is handed. Its streams are
    those of a real container in memory that is never written (an AAC stream for
    transcoded audio encodes for real)."""

    def __init__(self, log: list):
        import av

        self.log = log
        self._real = av.open(io.BytesIO(), "w", format="mp4")

    def add_stream_from_template(self, template):
        return self._real.add_stream_from_template(template)

    def add_stream(self, codec: str, rate: int):
        return self._real.add_stream(codec, rate=rate)

    def mux_one(self, packet) -> None:
        tb = packet.time_base
        self.log.append(["mux", packet.pts, packet.dts, [tb.numerator, tb.denominator],
                         packet.duration, packet.stream.index])


def sequence(rng: random.Random, frames: list, time_bases: list, clock: list, wall0: float,
             duration_s: float, holes: bool) -> list:
    """The packets of one stream: [(session, data, keyframe, pts, dts, duration, wall)], the
    camera's timestamps in `time_bases[session]` on a clock that starts at `clock[session]`
    seconds (shared by a camera's streams). A reconnect two thirds in: the camera's clock
    restarts elsewhere, 3 s later on the wall clock. With `holes`, some packets have no DTS,
    no PTS or neither. `duration_s` 0: no packet duration set."""
    out = []
    for index, (data, key, pts_s, dts_s) in enumerate(frames):
        session = int(index >= len(frames) * 2 // 3)
        num, den = time_bases[session]
        dts = round((clock[session] + dts_s) * den / num)
        pts = max(dts, round((clock[session] + pts_s) * den / num) + rng.choice((0, 0, 0, 1, -1)))
        if holes and index % 17 == 5:
            dts = None
        if holes and index % 29 == 11:
            pts = None
        if holes and index % 53 == 40:
            pts = dts = None
        duration = round(duration_s * den / num)
        wall = wall0 + dts_s + 3.0 * session + rng.uniform(0, 0.02)
        out.append((session, data, key, pts, dts, duration, wall))
    return out


def run_case(name: str, video: list, audio: list, templates: dict, transcode: bool,
             work: Path) -> dict:
    """Feed one interleaved sequence to a timing capture and a real file; their results."""
    import av

    from recorder.mp4file import Mp4Recording
    from recorder.mux import MuxOutput
    from recorder.timeline import Splice

    log: list = []

    class Capture(MuxOutput):
        def open_container(self):
            self.container = _FakeContainer(log)
            return self.container

    sources = [type("Source", (), {"video": templates["video"][i],
                                   "audio": templates["audio"][i]})() for i in range(2)]
    sessions = [object(), object()]
    splice = Splice(sessions[1])
    outputs = [Capture()]
    if transcode:
        from recorder.encoding import EncodeProfile
        from recorder.transcode import TranscodeRecording
        profile = EncodeProfile(video="libx264",
                                video_options={"preset": "ultrafast", "threads": "1"})
        outputs.append(TranscodeRecording(work / f"{name}.mp4", profile))
    else:
        outputs.append(Mp4Recording(work / f"{name}.mp4"))
    merged = sorted([("video", p) for p in video] + [("audio", p) for p in audio],
                    key=lambda item: item[1][6])  # by wall time, as a reader hands them over
    videos = 0
    pause = range(len(video) * 5 // 6, len(video) * 5 // 6 + 10)  # then resumed: a splice
    inputs = hashlib.md5()
    for kind, (index, data, key, pts, dts, duration, wall) in merged:
        source = sources[index]
        videos += kind == "video"
        if videos in pause:
            continue
        packet = av.Packet(data)
        packet.stream = getattr(source, kind)
        packet.time_base = Fraction(*templates["time_bases"][kind][index])
        packet.pts, packet.dts, packet.duration = pts, dts, duration
        packet.is_keyframe = key
        inputs.update(repr((kind, index, len(data), key, pts, dts, duration, wall)).encode())
        session = splice if videos >= pause.stop else sessions[index]
        for output in outputs:
            if kind == "video" and key and getattr(output, "started", False):
                log.append(["file_time", output.file_time(packet, wall, session)])
            if isinstance(output, Capture):
                output.write_copy(packet, wall, session, source)
            else:
                output.write(packet, wall, session, source)
            tb = packet.time_base
            log.append(["after", packet.pts, packet.dts, [tb.numerator, tb.denominator],
                        packet.duration, packet.stream is getattr(source, kind)])
    outputs[0].flush_audio()
    result = outputs[1].close()
    return {
        "inputs": inputs.hexdigest(),
        "log": log,
        "timeline": [outputs[0].timeline.end_s, outputs[0].timeline.gaps, outputs[0].packets],
        "files": [result.md5, result.packets, result.duration_s, result.gaps, result.error],
    }


def child(out_path: str) -> None:
    import av

    work = Path(tempfile.mkdtemp(prefix="check-timing-"))
    rng = random.Random(22)
    video = {b: [encode_video(b) for _ in range(2)] for b in (0, 2)}  # 2: a stream per session
    aac = [encode_audio("aac", 48000, 1024) for _ in range(2)]
    g711 = [encode_audio("pcm_mulaw", 8000, 160) for _ in range(2)]
    results: dict = {"pyav": av.__version__}

    def case(name, bframes, video_tbs, audio=None, audio_tbs=None, transcode=False):
        frames = video[bframes][0][2]
        durations = rng.random() < 0.5
        clock = [rng.uniform(0, 40000), rng.uniform(0, 40000)]  # camera seconds per session
        wall0 = 1_700_000_000 + rng.random()
        v = sequence(rng, frames, video_tbs, clock, wall0, 1 / FPS if durations else 0,
                     "holes" in name)
        a, templates_a = [], [None, None]
        if audio is not None:
            a = sequence(rng, audio[0][2], audio_tbs, clock, wall0, 0.02 if durations else 0,
                         False)
            templates_a = [entry[1] for entry in audio]
        templates = {"video": [entry[1] for entry in video[bframes]], "audio": templates_a,
                     "time_bases": {"video": video_tbs, "audio": audio_tbs}}
        results[name] = run_case(name, v, a, templates, transcode, work)

    for bframes in (0, 2):
        for tb in VIDEO_TIME_BASES:
            other = VIDEO_TIME_BASES[(VIDEO_TIME_BASES.index(tb) + 3) % len(VIDEO_TIME_BASES)]
            for holes in ("", "-holes"):
                case(f"bf{bframes}-{tb[0]}_{tb[1]}{holes}", bframes, [tb, other])
        for atb in AUDIO_TIME_BASES:
            case(f"bf{bframes}+aac-{atb[0]}_{atb[1]}", bframes, [(1, 90000)] * 2, aac,
                 [atb, atb])
        case(f"bf{bframes}+g711-1_8000", bframes, [(1, 90000)] * 2, g711, [(1, 8000)] * 2)
    for tb in ((1, 90000), (1001, 30000)):
        case(f"transcode-{tb[0]}_{tb[1]}+g711", 0, [tb, tb], g711, [(1, 8000)] * 2, True)
    Path(out_path).write_text(json.dumps(results))


# --- the parent: both trees, compared -----------------------------------------------------
def run_tree(tree: Path, out: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(out)],
                   env=env, cwd=tree, check=True)
    return json.loads(out.read_text())


def old_tree(rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "recorder"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def compare(old: dict, new: dict) -> int:
    cases = [k for k in old if k != "pyav"]
    bad = 0
    muxed = files = 0
    for case in cases:
        a, b = old[case], new.get(case)
        if b is None:
            print(f"{case}: missing in the new tree")
            bad += 1
            continue
        if a["inputs"] != b["inputs"]:
            print(f"{case}: the two trees were given different packets")
            bad += 1
            continue
        muxed += sum(1 for entry in a["log"] if entry[0] == "mux")
        files += 1
        for key in ("log", "timeline", "files"):
            if a[key] != b[key]:
                bad += 1
                first = next((i for i, (x, y) in enumerate(zip(a[key], b[key])) if x != y),
                             min(len(a[key]), len(b[key])))
                print(f"{case}: {key} differs at {first}: "
                      f"{a[key][first:first + 2]} != {b[key][first:first + 2]}")
    print(f"{len(cases)} cases, {muxed} packets handed to the muxer, {files} MP4 files: "
          + ("identical" if not bad else f"{bad} differences"))
    return 1 if bad else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rev", default=OLD_REV, help="the revision to compare with")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    with tempfile.TemporaryDirectory(prefix="check-timing-") as tmp:
        tmp_path = Path(tmp)
        old = run_tree(old_tree(args.rev, tmp_path / "old"), tmp_path / "old.json")
        new = run_tree(ROOT, tmp_path / "new.json")
    print(f"recorder at {args.rev} against the working tree (PyAV {new['pyav']}):")
    return compare(old, new)


if __name__ == "__main__":
    sys.exit(main())
