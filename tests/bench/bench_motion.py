"""Motion detection benchmark (issue #24): 16 cameras whose 640x360 10 fps preview streams are
all analysed by one headless station, beside the decode floor measured in the same run.

    .venv/bin/python tests/bench/bench_motion.py --cameras 16 --seconds 120

One GStreamer RTSP test camera process serves each camera as two mount points, `/cNN-main`
(the recorded stream, a 1280x720 10 fps clip) and `/cNN-sub` (the preview stream, 640x360
10 fps): the same scripted scene (tests/support/motion_scene.WalkingBox: a white box walks
across SMPTE bars every `--period-s` seconds, with a sensor's grain) pre-encoded once, served
from its first frame at real time to every client. The camera notes when each client's clip
began to play (`--log-play`), so the wall time at which the box enters each preview stream
is known: the clip's entry time plus that moment.

Phases, one after the other, on one station (`record_mode: continuous` unless `--no-record`,
so the recorders write the main streams throughout):

1. `motion on`: every source analysed with the default settings (`GET
   /api/v1/source/{id}/motion` says `analysing: preview`). Over the window: the station's
   CPU (/proc/<pid>/stat, user + system, all threads) per camera; every `motion` event on
   the live event stream (`GET /api/v1/event/stream?kind=motion`) matched to the box entry
   it belongs to: the event's `begin` minus the entry (how the station dates it) and the
   moment it reached the stream's reader minus the entry (motion-to-event latency, which
   includes the 0.5 s make time); entries with no event (missed) and events with no entry
   (false); each source's analysed rate and cost per picture as the API reports them.
2. `motion off`: the same sources with `enabled: false` (PUT .../motion): the station reading
   (and recording) without analysis, the floor the detector's cost sits on.
3. Decode floor: PyAV (the FFmpeg the station uses) decoding the preview clip from its file
   in one thread, CPU per picture x 10 fps: what decoding one preview stream costs at the
   least; with `--rtsp-floor` also a separate process decoding all 16 preview streams over
   RTSP with PyAV (FFmpeg's own RTSP reader, which costs more than the station's).

After the station stops, each source's continuous files are checked against the main clip
(tests/support/clip.ClipIndex: every packet, byte for byte, a contiguous run): packets lost.

Not a pytest test (the file name does not match test_*.py): figures, not pass/fail.
"""
from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_recorder import files_per_source, memory_mb, utc_seconds  # noqa: E402
from tests.bench.station_process import (  # noqa: E402
    HeadlessStation, cpu_seconds, machine_cpu, wait_for)
from tests.support.camera import RtspCamera, skip_reason  # noqa: E402
from tests.support.clip import ClipIndex  # noqa: E402
from tests.support.event_stream import EventStreamClient  # noqa: E402
from tests.support.motion_scene import WalkingBox  # noqa: E402

MODE_TAG = "continuous"


@dataclass
class Phase:
    name: str
    window_s: float = 0.0
    station_cpu_s: float = 0.0
    camera_cpu_s: float = 0.0
    machine_busy: float = 0.0
    load: tuple[str, str] = ("", "")

    def per_camera(self, cameras: int) -> float:
        return 100 * self.station_cpu_s / self.window_s / cameras if self.window_s else math.nan


@dataclass
class Results:
    cameras: int
    phases: list[Phase] = field(default_factory=list)
    begin_s: list[float] = field(default_factory=list)    # event begin - entry
    arrived_s: list[float] = field(default_factory=list)  # on the SSE stream - entry
    entries: int = 0
    missed: int = 0
    false_events: int = 0
    replays: int = 0          # sources whose preview client played more than once
    status: list[dict] = field(default_factory=list)      # GET .../motion at the window's end
    floor_file_ms: float = math.nan                       # PyAV decode per preview picture
    floor_rtsp: Phase | None = None
    lost_packets: int | None = None
    record_packets: int = 0
    files_exact: tuple[int, int] = (0, 0)
    rss: tuple[float, float] = (0.0, 0.0)


def loadavg() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    values = sorted(values)
    if not values:
        return math.nan
    return values[min(len(values) - 1, max(0, math.ceil(p / 100 * len(values)) - 1))]


def spread(values: list[float]) -> str:
    if not values:
        return "none"
    return (f"p50 {percentile(values, 50):.2f} s, p95 {percentile(values, 95):.2f} s, "
            f"min {min(values):.2f} s, max {max(values):.2f} s (n={len(values)})")


class Window:
    """CPU of the station and the camera, and the machine's, over a stretch of time."""

    def __init__(self, name: str, pids: tuple[int, int]):
        self.phase, self.pids = Phase(name), pids
        self.cpu0 = [cpu_seconds(p) for p in pids]
        self.busy0, self.t0, self.load0 = machine_cpu(), time.monotonic(), loadavg()

    def close(self) -> Phase:
        cpu1, busy1, t1 = [cpu_seconds(p) for p in self.pids], machine_cpu(), time.monotonic()
        phase = self.phase
        phase.window_s = t1 - self.t0
        phase.station_cpu_s, phase.camera_cpu_s = (cpu1[0] - self.cpu0[0],
                                                   cpu1[1] - self.cpu0[1])
        phase.machine_busy = (busy1[0] - self.busy0[0]) / max(1, busy1[1] - self.busy0[1])
        phase.load = (self.load0, loadavg())
        return phase


# --- decode floors ----------------------------------------------------------------------
def decode_floor_file(clip: Path, seconds: float = 20.0) -> float:
    """Milliseconds of one thread's CPU per picture decoding the preview clip (PyAV, one
    decoder thread, as the station's decoder), over its first `seconds`."""
    import av

    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        frames, started = 0, time.thread_time()
        for frame in container.decode(stream):
            frames += 1
            if frame.time is not None and frame.time >= seconds:
                break
        return 1000 * (time.thread_time() - started) / max(1, frames)


def decode_urls(urls: list[str]) -> None:
    """`--decode-urls`: decode every URL's video in a thread of its own until killed."""
    import av

    def decode(url: str) -> None:
        with av.open(url, options={"rtsp_transport": "tcp"}, timeout=10) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            for _frame in container.decode(stream):
                pass

    threads = [threading.Thread(target=decode, args=(u,), daemon=True) for u in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def rtsp_floor(urls: list[str], seconds: float, camera_pid: int) -> Phase:
    proc = subprocess.Popen([sys.executable, __file__, "--decode-urls", *urls],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(5.0)  # every stream connected and decoding
        window = Window("PyAV RTSP decode of the preview streams", (proc.pid, camera_pid))
        time.sleep(seconds)
        return window.close()
    finally:
        proc.kill()
        proc.wait()


# --- the run -----------------------------------------------------------------------------
def match_events(events: list[tuple[float, dict]], entries: dict[int, list[float]],
                 window: tuple[float, float], period_s: float, results: Results) -> None:
    """Each `opened` motion event to the box entry of its source nearest its begin (within
    half a period). Only the window counts: its entries (with 3 s left for an event), the
    events of those entries, and as false the events that began in it with no entry."""
    def counted(t: float) -> bool:
        return window[0] <= t <= window[1] - 3.0

    matched: dict[int, set[int]] = {sid: set() for sid in entries}
    for arrived, message in events:
        event = message["event"]
        sid = event["source_id"]
        if message["change"] != "opened" or sid not in entries:
            continue
        begin = utc_seconds(event["begin"])
        best = min(range(len(entries[sid])), key=lambda k: abs(entries[sid][k] - begin),
                   default=None)
        if best is None or abs(entries[sid][best] - begin) > period_s / 2 \
                or best in matched[sid]:
            results.false_events += counted(begin)
            continue
        matched[sid].add(best)
        if counted(entries[sid][best]):
            results.begin_s.append(begin - entries[sid][best])
            results.arrived_s.append(arrived - entries[sid][best])
    for sid, times in entries.items():
        for k, entry in enumerate(times):
            if counted(entry):
                results.entries += 1
                results.missed += k not in matched[sid]


def run(args, scene: WalkingBox, main_clip: Path, sub_clip: Path, work: Path) -> Results:
    results = Results(args.cameras)
    clips = {}
    for i in range(args.cameras):
        clips[f"/c{i:02d}-main"] = main_clip
        clips[f"/c{i:02d}-sub"] = sub_clip
    camera = RtspCamera(clips=clips, log_play=True, startup_timeout=60).start()
    station = HeadlessStation(args.station, work / "data", env={"RS_FSYNC_S": "2"})
    stream = None
    try:
        time.sleep(1.0)
        rss0 = memory_mb(station.proc.pid)
        stream = EventStreamClient(station.url, "kind=motion")
        ids = {}
        for i in range(args.cameras):
            body = {"model": "Source", "name": f"cam-{i:02d}",
                    "uri_rtsp": camera.urls[2 * i], "uri_preview": camera.urls[2 * i + 1]}
            if args.record:
                body["record_mode"] = "continuous"
            ids[station.call("POST", "/api/v1/source", body)["id"]] = i
        wait_for(lambda: all(s["status"] == "online"
                             for s in station.call("GET", "/api/v1/source")), 120,
                 "all sources online")
        wait_for(lambda: all(station.call("GET", f"/api/v1/source/{sid}/motion")["analysing"]
                             == "preview" for sid in ids), 60, "every source analysed")
        time.sleep(3.0)  # the detectors have learnt the scene

        # 1. motion on
        window = Window("motion on", (station.proc.pid, camera.pid))
        on_start = time.time()
        time.sleep(args.seconds)
        on_end = time.time()
        results.phases.append(window.close())
        results.status = [station.call("GET", f"/api/v1/source/{sid}/motion") for sid in ids]
        time.sleep(3.0)  # the last events' messages arrive
        events = []
        while not stream.messages.empty():
            events.append(stream.messages.get())
        plays = camera.play_times()
        entries = {}
        for sid, i in ids.items():
            started = plays.get(f"/c{i:02d}-sub", [])
            results.replays += len(started) > 1
            if started:
                entries[sid] = [started[-1] + t for t in scene.entries()]
        match_events(events, entries, (on_start, on_end), scene.period_s, results)

        # 2. motion off: reading (and recording) alone
        for sid in ids:
            station.call("PUT", f"/api/v1/source/{sid}/motion", {"enabled": False})
        wait_for(lambda: all(station.call("GET", f"/api/v1/source/{sid}/motion")["analysing"]
                             == "off" for sid in ids), 30, "analysis off everywhere")
        time.sleep(3.0)
        window = Window("motion off (reading and recording only)",
                        (station.proc.pid, camera.pid))
        time.sleep(args.off_seconds)
        results.phases.append(window.close())
        results.rss = (rss0, memory_mb(station.proc.pid))

        # 3. decode floors, the station still running as before
        results.floor_file_ms = decode_floor_file(sub_clip)
        if args.rtsp_floor:
            results.floor_rtsp = rtsp_floor([camera.urls[2 * i + 1] for i in range(args.cameras)],
                                            args.off_seconds, camera.pid)
        files = files_per_source(station, MODE_TAG) if args.record else []
    finally:
        if stream is not None:
            stream.close()
        station.stop()  # SIGTERM: the continuous files are finalized
        camera.stop()

    if args.record:
        index = ClipIndex(main_clip)
        lost = packets = exact = 0
        for records in files:
            check = index.check([r["location"] for r in records])
            lost += check.lost + check.foreign
            packets += check.packets
            exact += check.ok
        results.lost_packets, results.record_packets = lost, packets
        results.files_exact = (exact, len(files))
        if not args.keep:
            shutil.rmtree(work / "data" / "recordings", ignore_errors=True)
    return results


# --- report ------------------------------------------------------------------------------
def report(results: Results, args, scene: WalkingBox) -> str:
    n = results.cameras
    on, off = results.phases[0], results.phases[1]
    rates = [s["rate_fps"] for s in results.status]
    costs = [s["cost_ms"] for s in results.status]
    fps = results.status[0]["settings"]["fps"] if results.status else math.nan
    analysis = sum(r * c for r, c in zip(rates, costs)) / 10 / max(1, len(rates))
    floor_file = results.floor_file_ms * scene.fps / 10  # ms per s -> % of a core
    rows = [
        (f"station CPU per camera, motion on ({n} preview streams analysed"
         f"{', main streams recorded' if args.record else ''})", f"{on.per_camera(n):.2f} %"),
        ("station CPU per camera, motion off (reading"
         f"{' and recording' if args.record else ''} only)", f"{off.per_camera(n):.2f} %"),
        ("motion's share per camera (on - off)",
         f"{on.per_camera(n) - off.per_camera(n):.2f} %"),
        (f"decode floor: PyAV decoding the 640x360 {scene.fps} fps preview clip, one thread",
         f"{floor_file:.2f} % ({results.floor_file_ms:.2f} ms a picture)"),
    ]
    if results.floor_rtsp is not None:
        rows.append((f"decode floor: one PyAV process decoding the {n} preview streams over "
                     "RTSP", f"{results.floor_rtsp.per_camera(n):.2f} %"))
    rows += [
        ("analysis alone (API: rate x cost per picture)",
         f"{analysis:.2f} % ({sum(costs) / max(1, len(costs)):.2f} ms a picture)"),
        (f"pictures analysed per second (settings: {fps:g})",
         f"mean {sum(rates) / max(1, len(rates)):.2f}, min {min(rates, default=math.nan):.2f}"),
        ("motion event begin - box entry (clip time)", spread(results.begin_s)),
        ("motion event on the SSE stream - box entry", spread(results.arrived_s)),
        ("box entries: events / missed / false events",
         f"{results.entries - results.missed} / {results.missed} / {results.false_events}"),
    ]
    if results.lost_packets is not None:
        rows.append(("packets lost by the recorders (main streams, every file checked)",
                     f"{results.lost_packets} in {results.record_packets} "
                     f"({results.files_exact[0]}/{results.files_exact[1]} sources exact)"))
    lines = ["| metric | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]
    notes = [""]
    for phase in results.phases + ([results.floor_rtsp] if results.floor_rtsp else []):
        notes.append(f"- {phase.name}: window {phase.window_s:.1f} s, CPU {phase.station_cpu_s:.1f} s, "
                     f"camera process {phase.camera_cpu_s:.1f} s; machine busy "
                     f"{100 * phase.machine_busy:.0f}% of {os.cpu_count()} cores; load average "
                     f"{phase.load[0]} -> {phase.load[1]}")
    notes.append(f"- station RSS {results.rss[0]:.0f} -> {results.rss[1]:.0f} MB; "
                 f"sources whose preview client played more than once: {results.replays}")
    return "\n".join(lines + notes)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cameras", type=int, default=16)
    p.add_argument("--seconds", type=float, default=120.0, help="the motion-on window")
    p.add_argument("--off-seconds", type=float, default=45.0,
                   help="the motion-off window (and the RTSP decode floor's)")
    p.add_argument("--period-s", type=float, default=15.0, help="a box walks in this often")
    p.add_argument("--noise", type=int, default=4, help="the scene's grain (0..100)")
    p.add_argument("--no-record", dest="record", action="store_false",
                   help="read only: no continuous recording of the main streams")
    p.add_argument("--rtsp-floor", action="store_true",
                   help="also measure a PyAV process decoding the preview streams over RTSP")
    p.add_argument("--station", default=str(Path(sys.executable).with_name("recording-station")),
                   help="the recording-station command")
    p.add_argument("--workdir", type=Path, default=None, help="where files go (default: a temp dir)")
    p.add_argument("--clip-dir", type=Path, default=None, help="cache of encoded clips")
    p.add_argument("--keep", action="store_true", help="keep the recorded files")
    p.add_argument("--decode-urls", nargs="+", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.station = args.station.split()
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.decode_urls:
        decode_urls(args.decode_urls)
        return 0
    reason = skip_reason()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    # Each client plays the clip from its start: it must outlast set-up and every phase.
    total = args.seconds + 2 * args.off_seconds + 150
    seconds = 60 * math.ceil(total / 60)
    common = dict(seconds=seconds, fps=10, gop_s=1.0, period_s=args.period_s, enter_s=5.0,
                  walk_s=3.0, noise=args.noise)
    sub = WalkingBox(width=640, height=360, bitrate_kbps=400, **common)
    main_scene = WalkingBox(width=1280, height=720, bitrate_kbps=1500, box=(120, 180), **common)
    print(f"clips: {seconds} s, 640x360 and 1280x720 at 10 fps (encoded once, then cached)",
          flush=True)
    sub_clip, main_clip = sub.clip(args.clip_dir), main_scene.clip(args.clip_dir)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-motion-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"{args.cameras} cameras, {args.seconds:g} s with motion, {args.off_seconds:g} s "
          f"without (load average {loadavg()}) ...", flush=True)
    results = run(args, sub, main_clip, sub_clip, work)
    print("\npython tests/bench/bench_motion.py " + " ".join(sys.argv[1:]) + "\n")
    print(report(results, args, sub))
    return 0


if __name__ == "__main__":
    sys.exit(main())
