"""Recording engine benchmark (issue #3): the station side by side with one ffmpeg per camera.

    .venv/bin/python tests/bench/bench_recorder.py --streams 8,32 --seconds 60

For each stream count N, in one run and against the same GStreamer RTSP test camera
(1080p25 H.264, 4 Mbit/s, 2 s GOP; a pre-encoded clip served to every client at real time,
see tests/support/clip.py, because 32 live x264 encoders do not fit on a small machine):

* a fresh headless station reads N sources from the camera and records them all under one
  tag (one POST /api/v1/record), while N `ffmpeg -rtsp_transport tcp -i URL -c copy -f segment`
  processes record the same camera;
* CPU: CPU time (user+system, /proc) of the station process and of the ffmpeg processes over
  the same recording window, per stream, in % of one core;
* memory: the station's RSS growth from "no sources" to "N sources recording", per stream,
  against one ffmpeg process's RSS;
* lost packets: every file's video packets must be, byte for byte, a contiguous run of the
  clip's packets (the ffmpeg files are checked the same way, as a control);
* start: the round trip of POST /api/v1/record (N sources, then 1 source), and whether each
  file starts at the keyframe received last before the request;
* stop: the round trip of PUT /api/v1/record that finalizes the files (N files, then one).

Motion detection (issue #24, on for every source by default) is switched off on the
benchmark's sources (PUT /api/v1/source/{id}/motion): this compares recording with ffmpeg's
copying, which analyses nothing; `--motion` leaves it on (its cost: tests/bench/bench_motion.py).

Not a pytest test (the file name does not match test_*.py): figures, not pass/fail.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.station_process import (  # noqa: E402
    HeadlessStation, cpu_seconds, machine_cpu, wait_for)
from tests.support.camera import RtspCamera, skip_reason  # noqa: E402
from tests.support.clip import ClipIndex, cached_clip  # noqa: E402

FPS, GOP_S = 25, 2.0


# --- /proc --------------------------------------------------------------------------
def memory_mb(pid: int, key: str = "VmRSS") -> float:
    path = f"/proc/{pid}/smaps_rollup" if key == "Pss" else f"/proc/{pid}/status"
    with open(path) as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


# --- the station and its API -------------------------------------------------------
def utc_seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


# --- one stream count --------------------------------------------------------------
@dataclass
class Round:
    streams: int
    seconds: float
    station_cpu_s: float = 0.0
    reading_cpu_s: float = 0.0    # station CPU while reading the N sources, recording none
    reading_window_s: float = 0.0
    ffmpeg_cpu_s: float = 0.0
    camera_cpu_s: float = 0.0
    machine_busy: float = 0.0     # fraction of all cores busy during the window
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at the window's start, end
    window_s: float = 0.0
    station_rss0: float = 0.0
    station_rss1: float = 0.0
    ffmpeg_rss: list[float] = field(default_factory=list)
    ffmpeg_pss: list[float] = field(default_factory=list)
    start_group_s: float = 0.0
    start_one_s: float = 0.0
    stop_group_s: float = 0.0
    stop_one_s: float = 0.0
    one_file_s: float = 0.0
    ours: list = field(default_factory=list)       # CheckResult per file
    theirs: list = field(default_factory=list)
    at_keyframe_before: int = 0   # files starting at the last keyframe before the request
    keyframe_age_max_s: float = 0.0
    shortfall_max_s: float = 0.0  # recording window not covered by the file (lag at stop)
    rotations: int = 0            # file cuts checked (rotation on: --segment-s)

    def per_stream_cpu(self, seconds: float) -> float:
        return 100 * seconds / self.window_s / self.streams


def station_env(args) -> dict[str, str]:
    """The unattended-operation settings the station runs with (its defaults otherwise:
    storage guard on, fsync every 2 s, rotation every hour)."""
    env = {}
    if args.segment_s is not None:
        env["RS_SEGMENT_S"] = str(args.segment_s)
    if args.fsync_s is not None:
        env["RS_FSYNC_S"] = str(args.fsync_s)
    return env


def files_per_source(station: HeadlessStation, tag: str) -> list[list[dict]]:
    """Every record of the tag, grouped by source and in order (rotation makes several)."""
    by_source: dict[int, list[dict]] = {}
    for record in station.call("GET", f"/api/v1/record?tag_name={tag}"):
        by_source.setdefault(record["source"][0]["id"], []).append(record)
    return [sorted(rs, key=lambda r: r["begin_utc"]) for _, rs in sorted(by_source.items())]


def start_ffmpeg(ffmpeg: str, url: str, folder: Path, log) -> subprocess.Popen:
    folder.mkdir(parents=True)
    return subprocess.Popen(
        [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp",
         "-i", url, "-c", "copy", "-f", "segment", "-segment_time", "60",
         "-segment_format", "mp4", "-reset_timestamps", "1", str(folder / "seg%03d.mp4")],
        stdout=log, stderr=log)


def run_round(n: int, args, camera: RtspCamera, index: ClipIndex, work: Path) -> Round:
    result = Round(n, args.seconds)
    folder = work / f"streams-{n}"
    folder.mkdir(parents=True)
    station = HeadlessStation(args.station, folder / "data", env=station_env(args))
    ffmpegs: list[subprocess.Popen] = []
    ff_log = open(folder / "ffmpeg.log", "wb")
    try:
        time.sleep(1.0)
        result.station_rss0 = memory_mb(station.proc.pid)
        ids = []
        for i in range(n):
            src, _ = station.timed_call("POST", "/api/v1/source", {
                "model": "Source", "name": f"cam-{i:02d}", "uri_rtsp": camera.url})
            ids.append(src["id"])
            if not args.motion:  # the recorder against ffmpeg's copy: nothing else runs
                station.timed_call("PUT", f"/api/v1/source/{src['id']}/motion", {"enabled": False})
            ffmpegs.append(start_ffmpeg(args.ffmpeg, camera.url, folder / f"ffmpeg-{i:02d}", ff_log))
        (group,), _ = station.timed_call("POST", "/api/v1/group", {"name": "all"})
        (one,), _ = station.timed_call("POST", "/api/v1/group", {"name": "one"})
        for sid in ids:
            station.timed_call("POST", f"/api/v1/group/{group['id']}/source/{sid}")
        station.timed_call("POST", f"/api/v1/group/{one['id']}/source/{ids[0]}")

        def all_online():
            return all(s["status"] == "online" for s in station.timed_call("GET", "/api/v1/source")[0])

        wait_for(all_online, 60, "all sources online")
        wait_for(lambda: all(any((folder / f"ffmpeg-{i:02d}").glob("seg*.mp4")) for i in range(n)),
                 60, "every ffmpeg writing")
        if any(p.poll() is not None for p in ffmpegs):
            raise RuntimeError(f"an ffmpeg exited: {(folder / 'ffmpeg.log').read_text()[-2000:]}")
        time.sleep(2.5)  # every source has a whole GOP buffered
        # The station reading its sources without recording, for the notes.
        c0, t0 = cpu_seconds(station.proc.pid), time.monotonic()
        time.sleep(args.warmup)
        result.reading_cpu_s = cpu_seconds(station.proc.pid) - c0
        result.reading_window_s = time.monotonic() - t0

        # Phase 1: N sources recorded under one tag; the CPU window is the recording.
        pids = [station.proc.pid, camera.pid] + [p.pid for p in ffmpegs]
        cpu0, busy0, t0 = [cpu_seconds(p) for p in pids], machine_cpu(), time.monotonic()
        load0 = os.getloadavg()[0]
        sent = time.time()
        records, result.start_group_s = station.timed_call(
            "POST", "/api/v1/record", {"model": "Source", "tag_name": "bench", "group_name": "all"})
        time.sleep(max(0.0, args.seconds - (time.monotonic() - t0)))
        cpu1, busy1, t1 = [cpu_seconds(p) for p in pids], machine_cpu(), time.monotonic()
        result.window_s = t1 - t0
        result.station_cpu_s = cpu1[0] - cpu0[0]
        result.camera_cpu_s = cpu1[1] - cpu0[1]
        result.ffmpeg_cpu_s = sum(cpu1[2:]) - sum(cpu0[2:])
        result.machine_busy = (busy1[0] - busy0[0]) / (busy1[1] - busy0[1])
        result.load = (load0, os.getloadavg()[0])
        result.station_rss1 = memory_mb(station.proc.pid)
        result.ffmpeg_rss = [memory_mb(p.pid) for p in ffmpegs]
        result.ffmpeg_pss = [memory_mb(p.pid, "Pss") for p in ffmpegs]
        stop_sent = time.time()
        finished, result.stop_group_s = station.timed_call(
            "PUT", "/api/v1/record", {"model": "Source", "tag_name": "bench"})
        assert len(records) == len(finished) == n, (len(records), len(finished))

        # Phase 2: one source, one tag: start and stop latency for a single file.
        one_sent = time.time()
        _, result.start_one_s = station.timed_call(
            "POST", "/api/v1/record", {"model": "Source", "tag_name": "one", "group_name": "one"})
        time.sleep(args.seconds)
        one_stop_sent = time.time()
        _, result.stop_one_s = station.timed_call(
            "PUT", "/api/v1/record", {"model": "Source", "tag_name": "one"})
        files = {tag: files_per_source(station, tag) for tag in ("bench", "one")}
    finally:
        for p in ffmpegs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in ffmpegs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        ff_log.close()
        station.stop()

    # Checks against the clip, after everything stopped (no CPU window to disturb).
    windows = ([(f, sent, result.start_group_s, stop_sent) for f in files["bench"]]
               + [(f, one_sent, result.start_one_s, one_stop_sent) for f in files["one"]])
    # A keyframe arriving while the request is being served counts as "before" it too.
    for records, request_at, latency, stop_at in windows:
        for record in records:
            if record["status"] != "finished":
                raise RuntimeError(f"record {record['id']} ended {record['status']}: {record['error']}")
        # one source's files in order: with rotation, each cut must continue exactly
        check = index.check([record["location"] for record in records])
        result.rotations += len(records) - 1
        begin = utc_seconds(records[0]["begin_utc"])
        age = request_at - begin
        if check.starts_at_keyframe and -latency <= age <= GOP_S + 0.1:
            result.at_keyframe_before += 1
        result.keyframe_age_max_s = max(result.keyframe_age_max_s, age)
        result.shortfall_max_s = max(result.shortfall_max_s,
                                     (stop_at - begin) - check.packets / FPS)
        result.ours.append(check)
    result.one_file_s = sum(r["duration_s"] or 0.0 for r in files["one"][0])
    for i in range(n):
        segments = sorted((folder / f"ffmpeg-{i:02d}").glob("seg*.mp4"))
        result.theirs.append(index.check(segments))
    if not args.keep:
        shutil.rmtree(folder / "data" / "recordings", ignore_errors=True)
        for i in range(n):
            shutil.rmtree(folder / f"ffmpeg-{i:02d}", ignore_errors=True)
    return result


# --- report ------------------------------------------------------------------------
def report(rounds: list[Round], args) -> str:
    def ratio(a, b):
        return f"{a / b:.2f}x" if b else "n/a"

    lines = ["| streams | metric | station | ffmpeg (1 process per stream) | ratio | target |",
             "|---|---|---|---|---|---|"]
    for r in rounds:
        ours_cpu, their_cpu = r.per_stream_cpu(r.station_cpu_s), r.per_stream_cpu(r.ffmpeg_cpu_s)
        growth = (r.station_rss1 - r.station_rss0) / r.streams
        ff_rss = sum(r.ffmpeg_rss) / len(r.ffmpeg_rss)
        ff_pss = sum(r.ffmpeg_pss) / len(r.ffmpeg_pss)
        lost_ours = sum(c.lost + c.foreign for c in r.ours)
        lost_theirs = sum(c.lost + c.foreign for c in r.theirs)
        bad_ours = sum(not c.ok for c in r.ours)
        bad_theirs = sum(not c.ok for c in r.theirs)
        pkts_ours = sum(c.packets for c in r.ours)
        pkts_theirs = sum(c.packets for c in r.theirs)
        files = len(r.ours)
        rows = [
            ("CPU per stream (% of a core)", f"{ours_cpu:.2f}", f"{their_cpu:.2f}",
             ratio(ours_cpu, their_cpu), "<= 1.0x (aim 0.8x)"),
            ("memory per stream (MB)", f"{growth:.1f} RSS growth",
             f"{ff_rss:.1f} RSS ({ff_pss:.1f} PSS)", ratio(growth, ff_rss), "<= 10 MB"),
            ("lost or foreign packets", f"{lost_ours} in {pkts_ours} ({files - bad_ours}/{files} "
             "files exact)", f"{lost_theirs} in {pkts_theirs} ({r.streams - bad_theirs}/"
             f"{r.streams} exact)", "", "0"),
            (f"start: POST /record ({r.streams} sources)", f"{r.start_group_s * 1000:.0f} ms",
             "", "", "<= 100 ms"),
            ("start: POST /record (1 source)", f"{r.start_one_s * 1000:.0f} ms", "", "",
             "<= 100 ms"),
            ("files starting at the last keyframe before the call",
             f"{r.at_keyframe_before}/{files} (keyframe age <= {r.keyframe_age_max_s:.2f} s)",
             "", "", f"{files}/{files}"),
            (f"stop: PUT /record ({r.streams} files of {r.seconds:g} s)",
             f"{r.stop_group_s * 1000:.0f} ms", "", "", ""),
            (f"stop: PUT /record (1 file of {r.one_file_s:.1f} s)",
             f"{r.stop_one_s * 1000:.0f} ms", "", "", "< 500 ms"),
        ]
        lines += [f"| {r.streams} | " + " | ".join(row) + " |" for row in rows]
    notes = []
    for r in rounds:
        notes.append(
            f"- {r.streams} streams: window {r.window_s:.1f} s; CPU seconds station "
            f"{r.station_cpu_s:.2f}, all ffmpeg {r.ffmpeg_cpu_s:.2f}, camera {r.camera_cpu_s:.2f}; "
            f"station reading only (before recording): "
            f"{100 * r.reading_cpu_s / r.reading_window_s / r.streams:.2f}% of a core per stream; "
            f"machine busy {100 * r.machine_busy:.0f}% of {os.cpu_count()} cores, load average "
            f"{r.load[0]:.2f} -> {r.load[1]:.2f}; station RSS "
            f"{r.station_rss0:.0f} -> {r.station_rss1:.0f} MB; largest DTS step in our files "
            f"{max(c.max_step_s for c in r.ours) * 1000:.0f} ms; stop lag (window not in the "
            f"file) <= {r.shortfall_max_s * 1000:.0f} ms; file cuts (rotation) checked "
            f"seamless: {r.rotations}")
    return "\n".join(lines + [""] + notes)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--streams", default="8,32", help="comma-separated stream counts")
    p.add_argument("--seconds", type=float, default=60.0, help="recording window per phase")
    p.add_argument("--warmup", type=float, default=10.0,
                   help="seconds of reading (measured) before recording")
    p.add_argument("--ffmpeg", default=shutil.which("ffmpeg") or "ffmpeg")
    p.add_argument("--station", default=str(Path(sys.executable).with_name("recording-station")),
                   help="the recording-station command")
    p.add_argument("--workdir", type=Path, default=None, help="where files go (default: a temp dir)")
    p.add_argument("--clip-dir", type=Path, default=None, help="cache of encoded clips")
    p.add_argument("--keep", action="store_true", help="keep the recorded files")
    p.add_argument("--motion", action="store_true",
                   help="leave motion detection on (default: off on the benchmark's sources)")
    p.add_argument("--segment-s", type=int, default=None,
                   help="the station's segment_s (rotation); default: the station's own (3600)")
    p.add_argument("--fsync-s", type=float, default=None,
                   help="the station's fsync_s; default: the station's own (2)")
    args = p.parse_args(argv)
    args.streams = [int(x) for x in args.streams.split(",") if x.strip()]
    args.station = args.station.split()
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    reason = skip_reason()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    # Each client plays the clip from its start; it must outlast set-up, warm-up, both phases.
    needed = 2 * args.seconds + args.warmup + 25 + max(args.streams) * 0.5
    clip_seconds = 60 * -(-needed // 60)
    print(f"clip: {clip_seconds:.0f} s of 1080p{FPS}, 4 Mbit/s, {GOP_S:g} s GOP "
          "(encoded once, then cached)", flush=True)
    clip = cached_clip(clip_seconds, fps=FPS, gop_seconds=GOP_S, bitrate_kbps=4000,
                       cache_dir=args.clip_dir)
    index = ClipIndex(clip)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-recorder-"))
    rounds = []
    with RtspCamera(clip=clip) as camera:
        for n in args.streams:
            print(f"{n} streams: recording {args.seconds:g} s ...", flush=True)
            rounds.append(run_round(n, args, camera, index, work))
    command = "python tests/bench/bench_recorder.py " + " ".join(sys.argv[1:])
    print(f"\n{command}\n")
    print(report(rounds, args))
    if not args.keep and args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
