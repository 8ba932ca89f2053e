"""Recording modes benchmark (issue #23): 32 sources recorded continuously, a manual tag on 8
of them, beside the same 32 sources in `manual` mode with the same tag on the same 8.

    .venv/bin/python tests/bench/bench_modes.py --minutes 10

Two runs of the same script, one after the other, each on a fresh headless station and the
same GStreamer RTSP test cameras (a pre-encoded 1080p25 H.264 clip, 4 Mbit/s, 2 s GOP, served
at real time to every client: see tests/support/clip.py):

* `continuous`: every source has `record_mode: continuous` (POST /api/v1/source), so each
  records under the tag `continuous` by itself; once they all record, a manual tag (`visit`)
  is started through the native API on 8 sources (one POST /api/v1/record for a group) and
  stopped at the end of the window: those 8 are "double-recorded", two files from the same
  packets;
* `manual` (the baseline): the same sources in `manual` mode, the same tag on the same 8;
  the other 24 are read, not recorded.

Figures per run, over the same window of N minutes:

* CPU: the station process's user+system time (/proc) in % of one core, per stream;
* memory: the station's RSS growth from "no sources" to the end of the window, per stream;
* packets lost: each double-recorded source's tag file and continuous file checked against
  the clip (byte for byte, a contiguous run of the clip's packets), the tag file compared
  packet by packet with the matching stretch of the continuous file, and the continuous
  file's DTS steps (no gap: every step one frame);
* `camera_lost` latency: a second camera serves the last `--lost` sources and is stopped
  (SIGTERM) every `--cycle-s` seconds, then started again once every one of its sources'
  `camera_lost` event opened. Per event: the station's own figure (the event's `begin`
  minus `data.last_packet`, the recorder's time of the last packet it read), and a client's
  (the moment the event reached a reader of GET /api/v1/event/stream, minus the same last
  packet time, and minus the moment the script stopped the camera). In the continuous run
  those sources record (target 2 s); in the manual run they are idle (target 5 s).

Not a pytest test (the file name does not match test_*.py): figures, not pass/fail.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_recorder import files_per_source, memory_mb, utc_seconds  # noqa: E402
from tests.bench.station_process import (  # noqa: E402
    HeadlessStation, cpu_seconds, machine_cpu, wait_for)
from tests.support.camera import RtspCamera, skip_reason  # noqa: E402
from tests.support.clip import CheckResult, ClipIndex, cached_clip  # noqa: E402
from tests.support.event_stream import EventStreamClient  # noqa: E402

FPS, GOP_S = 25, 2.0
TAG = "visit"            # the manual tag started through the native API
MODE_TAG = "continuous"  # the tag a continuous source records under (its default)
MODES = ("continuous", "manual")


# --- files --------------------------------------------------------------------------
def raw_packets(paths: list[str]) -> tuple[list[bytes], list[list[int]]]:
    """The video packets of files played in order: a digest of each packet's bytes, and the
    DTS of each file's packets (a list per file)."""
    import av

    digests, dts = [], []
    for path in paths:
        with av.open(path) as container:
            stream = container.streams.video[0]
            file_dts = []
            for packet in container.demux(stream):
                if packet.size == 0 or packet.dts is None:
                    continue
                digests.append(hashlib.blake2b(bytes(packet), digest_size=16).digest())
                file_dts.append(packet.dts)
            dts.append(file_dts)
    return digests, dts


@dataclass
class DoubleCheck:
    """One double-recorded source (or, in the manual run, one tagged source)."""

    tag: CheckResult
    continuous: CheckResult | None = None
    stretch_differ: int = 0      # tag packets not equal to the continuous file's at their place
    stretch_found: bool = True   # the tag's first packet is in the continuous file
    odd_steps: int = 0           # DTS steps in the continuous file other than one frame
    max_step_ms: float = 0.0

    @property
    def lost(self) -> int:
        files = [self.tag] + ([self.continuous] if self.continuous else [])
        return sum(c.lost + c.foreign for c in files) + self.stretch_differ

    @property
    def ok(self) -> bool:
        return (self.tag.ok and (self.continuous is None or self.continuous.ok)
                and self.stretch_found and self.stretch_differ == 0 and self.odd_steps == 0)


def check_double(index: ClipIndex, tag_files: list[str], continuous_files: list[str]) -> DoubleCheck:
    """The tag's files against the clip; with continuous files, those too, the tag's packets
    against the continuous file's at the same place, and the continuous file's DTS steps."""
    import av
    result = DoubleCheck(tag=index.check(tag_files))
    if not continuous_files:
        return result
    result.continuous = index.check(continuous_files)
    tag, _ = raw_packets(tag_files)
    whole, whole_dts = raw_packets(continuous_files)
    try:
        at = whole.index(tag[0])
    except (ValueError, IndexError):
        result.stretch_found = False
        return result
    stretch = whole[at:at + len(tag)]
    result.stretch_differ = sum(a != b for a, b in zip(tag, stretch)) + len(tag) - len(stretch)
    steps = [b - a for file_dts in whole_dts for a, b in zip(file_dts, file_dts[1:])]
    if steps:
        frame = max(set(steps), key=steps.count)  # the nominal step: the most common one
        result.odd_steps = sum(s != frame for s in steps)
        with av.open(continuous_files[0]) as container:
            base = container.streams.video[0].time_base
        result.max_step_ms = 1000 * float(max(steps) * base)
    return result


# --- one run ------------------------------------------------------------------------
@dataclass
class LostSample:
    station_s: float          # event begin - the recorder's last packet
    client_s: float | None    # arrival on the SSE stream - the recorder's last packet
    after_stop_s: float | None  # arrival on the SSE stream - the script's stop of the camera


@dataclass
class Run:
    mode: str
    streams: int
    tagged: int
    window_s: float = 0.0
    station_cpu_s: float = 0.0
    camera_cpu_s: float = 0.0
    machine_busy: float = 0.0
    load: tuple[str, str] = ("", "")
    rss0: float = 0.0
    rss1: float = 0.0
    start_tag_s: float = 0.0
    stop_tag_s: float = 0.0
    records_running: int = 0
    cycles: int = 0
    lost: list[LostSample] = field(default_factory=list)
    missed_events: int = 0       # a stop of the camera whose camera_lost did not come in time
    checks: list[DoubleCheck] = field(default_factory=list)

    def per_stream_cpu(self) -> float:
        return 100 * self.station_cpu_s / self.window_s / self.streams

    def rss_growth(self) -> float:
        return (self.rss1 - self.rss0) / self.streams


def loadavg() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def running(station: HeadlessStation, tag: str) -> list[dict]:
    return [r for r in station.call("GET", f"/api/v1/record?tag_name={tag}")
            if r["status"] == "recording"]


def lose_camera_once(station: HeadlessStation, stream: EventStreamClient, camera: RtspCamera,
                     lost_ids: set[int], run: Run) -> None:
    """Stop the second camera, wait for its sources' camera_lost, start it again and wait
    for camera_back to close them."""
    stopped = time.time()
    camera.stop()
    found = stream.opened("camera_lost", lost_ids, timeout=20)
    run.missed_events += len(lost_ids) - len(found)
    for arrived, event in found.values():
        last = event["data"].get("last_packet")
        begin = utc_seconds(event["begin"])
        run.lost.append(LostSample(
            station_s=begin - utc_seconds(last) if last else math.nan,
            client_s=arrived - utc_seconds(last) if last else None,
            after_stop_s=arrived - stopped))
    camera.start()
    wait_for(lambda: not [e for e in station.call(
        "GET", "/api/v1/event?kind=camera_lost&open=true&limit=1000")
        if e["source_id"] in lost_ids], 90, "camera_back for every lost source")
    run.cycles += 1


def run_mode(mode: str, args, cameras: tuple[RtspCamera, RtspCamera], index: ClipIndex,
             work: Path) -> Run:
    camera, second = cameras
    run = Run(mode, args.streams, args.tagged)
    folder = work / mode
    folder.mkdir(parents=True)
    station = HeadlessStation(args.station, folder / "data", env={"RS_FSYNC_S": str(args.fsync_s)})
    stream = None
    try:
        time.sleep(1.0)
        run.rss0 = memory_mb(station.proc.pid)
        stream = EventStreamClient(station.url, "kind=camera_lost")
        ids, lost_ids = [], set()
        for i in range(args.streams):
            on_second = i >= args.streams - args.lost
            src = station.call("POST", "/api/v1/source", {
                "model": "Source", "name": f"cam-{i:02d}", "record_mode": mode,
                "uri_rtsp": second.url if on_second else camera.url})
            ids.append(src["id"])
            if on_second:
                lost_ids.add(src["id"])
        (group,) = station.call("POST", "/api/v1/group", {"name": "tagged"})
        for sid in ids[:args.tagged]:
            station.call("POST", f"/api/v1/group/{group['id']}/source/{sid}")
        wait_for(lambda: all(s["status"] == "online" for s in station.call("GET", "/api/v1/source")),
                 120, "all sources online")
        if mode == "continuous":
            wait_for(lambda: len(running(station, MODE_TAG)) == args.streams, 120,
                     "every source recording by itself")
        time.sleep(2.5)  # every source has a whole GOP buffered

        pids = [station.proc.pid, camera.pid]
        cpu0, busy0, t0 = [cpu_seconds(p) for p in pids], machine_cpu(), time.monotonic()
        load0 = loadavg()
        _, run.start_tag_s = station.timed_call(
            "POST", "/api/v1/record", {"model": "Source", "tag_name": TAG, "group_name": "tagged"})
        end = t0 + args.minutes * 60
        next_loss = t0 + args.first_loss_s
        while next_loss + 30 < end and args.lost:
            time.sleep(max(0.0, next_loss - time.monotonic()))
            lose_camera_once(station, stream, second, lost_ids, run)
            next_loss = max(next_loss + args.cycle_s, time.monotonic() + 5)
        time.sleep(max(0.0, end - time.monotonic()))
        cpu1, busy1, t1 = [cpu_seconds(p) for p in pids], machine_cpu(), time.monotonic()
        run.window_s = t1 - t0
        run.station_cpu_s, run.camera_cpu_s = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
        run.machine_busy = (busy1[0] - busy0[0]) / (busy1[1] - busy0[1])
        run.load = (load0, loadavg())
        run.rss1 = memory_mb(station.proc.pid)
        run.records_running = len(running(station, MODE_TAG)) + len(running(station, TAG))
        stopped, run.stop_tag_s = station.timed_call(
            "PUT", "/api/v1/record", {"model": "Source", "tag_name": TAG})
        if len(stopped) != args.tagged:
            raise RuntimeError(f"{len(stopped)} tag files stopped, not {args.tagged}")
        tag_files = files_per_source(station, TAG)
        continuous_files = files_per_source(station, MODE_TAG) if mode == "continuous" else []
    finally:
        if stream is not None:
            stream.close()
        station.stop()  # SIGTERM: the continuous files are finalized

    # Checks after the station stopped (nothing left to disturb the CPU window).
    by_source = {records[0]["source"][0]["id"]: records for records in continuous_files}
    for records in tag_files:
        source_id = records[0]["source"][0]["id"]
        whole = by_source.get(source_id, [])
        if mode == "continuous" and not whole:
            raise RuntimeError(f"source {source_id}: no continuous record")
        run.checks.append(check_double(index, [r["location"] for r in records],
                                       [r["location"] for r in whole]))
    if not args.keep:
        shutil.rmtree(folder / "data" / "recordings", ignore_errors=True)
    return run


# --- report -------------------------------------------------------------------------
def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    values = sorted(v for v in values if v is not None and not math.isnan(v))
    if not values:
        return math.nan
    return values[min(len(values) - 1, max(0, math.ceil(p / 100 * len(values)) - 1))]


def latency(values: list[float | None]) -> str:
    return (f"p50 {percentile(values, 50):.2f} s, p95 {percentile(values, 95):.2f} s, "
            f"max {percentile(values, 100):.2f} s")


def report(runs: dict[str, Run], args) -> str:
    cont, base = runs["continuous"], runs["manual"]

    def ratio(a, b):
        return f"{a / b:.2f}x" if b else "n/a"

    def lost_row(run: Run) -> str:
        files = sum(1 + (c.continuous is not None) for c in run.checks)
        exact = sum(c.tag.ok + (c.continuous.ok if c.continuous else 0) for c in run.checks)
        packets = sum(c.tag.packets + (c.continuous.packets if c.continuous else 0)
                      for c in run.checks)
        return f"{sum(c.lost for c in run.checks)} in {packets} ({exact}/{files} files exact)"

    rows = [
        ("CPU per stream (% of a core)", f"{cont.per_stream_cpu():.2f}",
         f"{base.per_stream_cpu():.2f}", ratio(cont.per_stream_cpu(), base.per_stream_cpu())),
        ("station RSS growth per stream (MB)", f"{cont.rss_growth():.1f}",
         f"{base.rss_growth():.1f}", ratio(cont.rss_growth(), base.rss_growth())),
        ("station RSS at the end (MB)", f"{cont.rss1:.0f}", f"{base.rss1:.0f}", ""),
        ("files being written at the end of the window", str(cont.records_running),
         str(base.records_running), ""),
        (f"lost or differing packets, the {args.tagged} tagged sources' files", lost_row(cont),
         lost_row(base), ""),
        ("tag file = the matching stretch of the continuous file, packet by packet",
         f"{sum(c.stretch_found and c.stretch_differ == 0 for c in cont.checks)}/"
         f"{len(cont.checks)}", "", ""),
        ("continuous file without a gap (every DTS step one frame)",
         f"{sum(c.odd_steps == 0 for c in cont.checks)}/{len(cont.checks)} (largest step "
         f"{max((c.max_step_ms for c in cont.checks), default=math.nan):.0f} ms)", "", ""),
        ("camera_lost: event begin - last packet (station)",
         latency([s.station_s for s in cont.lost]),
         latency([s.station_s for s in base.lost]), ""),
        ("camera_lost: on the SSE stream - last packet",
         latency([s.client_s for s in cont.lost]),
         latency([s.client_s for s in base.lost]), ""),
        ("camera_lost: on the SSE stream - camera stopped",
         latency([s.after_stop_s for s in cont.lost]),
         latency([s.after_stop_s for s in base.lost]), ""),
        ("camera_lost events (camera stops x sources; missed)",
         f"{len(cont.lost)} ({cont.cycles} x {args.lost}; {cont.missed_events} missed)",
         f"{len(base.lost)} ({base.cycles} x {args.lost}; {base.missed_events} missed)", ""),
        (f"start / stop of the tag on {args.tagged} sources (ms)",
         f"{cont.start_tag_s * 1000:.0f} / {cont.stop_tag_s * 1000:.0f}",
         f"{base.start_tag_s * 1000:.0f} / {base.stop_tag_s * 1000:.0f}", ""),
    ]
    lines = [f"| metric | continuous + tag on {args.tagged} | manual, tag on {args.tagged} "
             "(baseline) | ratio |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    notes = [""]
    for run in (cont, base):
        notes.append(
            f"- {run.mode}: window {run.window_s:.1f} s; station CPU {run.station_cpu_s:.1f} s, "
            f"first camera {run.camera_cpu_s:.1f} s; machine busy {100 * run.machine_busy:.0f}% "
            f"of {os.cpu_count()} cores; load average {run.load[0]} -> {run.load[1]}; station "
            f"RSS {run.rss0:.0f} -> {run.rss1:.0f} MB")
    return "\n".join(lines + notes)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0, help="the window of each run")
    p.add_argument("--streams", type=int, default=32)
    p.add_argument("--tagged", type=int, default=8, help="sources with the manual tag")
    p.add_argument("--lost", type=int, default=4,
                   help="sources on the second camera, which is stopped now and then")
    p.add_argument("--cycle-s", type=float, default=40.0, help="seconds between camera stops")
    p.add_argument("--first-loss-s", type=float, default=20.0,
                   help="the first camera stop, seconds into the window")
    p.add_argument("--modes", default=",".join(MODES), help="the runs, in this order")
    p.add_argument("--fsync-s", type=float, default=2.0, help="the station's fsync_s")
    p.add_argument("--station", default=str(Path(sys.executable).with_name("recording-station")),
                   help="the recording-station command")
    p.add_argument("--workdir", type=Path, default=None, help="where files go (default: a temp dir)")
    p.add_argument("--clip-dir", type=Path, default=None, help="cache of encoded clips")
    p.add_argument("--keep", action="store_true", help="keep the recorded files")
    args = p.parse_args(argv)
    args.station = args.station.split()
    args.modes = [m for m in args.modes.split(",") if m]
    if not set(args.modes) <= set(MODES):
        p.error(f"--modes: {MODES}")
    if not 0 < args.tagged <= args.streams - args.lost:
        p.error("--tagged: the tagged sources are on the first camera")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    reason = skip_reason()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    # Each client plays the clip from its start: it must outlast set-up and the window.
    clip_seconds = 60 * math.ceil((args.minutes * 60 + 90) / 60)
    print(f"clip: {clip_seconds} s of 1080p{FPS}, 4 Mbit/s, {GOP_S:g} s GOP "
          "(encoded once, then cached)", flush=True)
    clip = cached_clip(clip_seconds, fps=FPS, gop_seconds=GOP_S, bitrate_kbps=4000,
                       cache_dir=args.clip_dir)
    index = ClipIndex(clip)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-modes-"))
    runs = {}
    with RtspCamera(clip=clip) as camera, RtspCamera(clip=clip) as second:
        for mode in args.modes:
            print(f"{mode}: {args.streams} sources, {args.minutes:g} min (load average "
                  f"{loadavg()}) ...", flush=True)
            runs[mode] = run_mode(mode, args, (camera, second), index, work)
    command = "python tests/bench/bench_modes.py " + " ".join(sys.argv[1:])
    print(f"\n{command}\n")
    if set(runs) == set(MODES):
        print(report(runs, args))
    else:
        for run in runs.values():
            print(run)
    if not args.keep and args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
