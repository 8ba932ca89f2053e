"""Soak (issue #12): a station left recording as an operator leaves it, measured for what
grows when nobody looks.

    .venv/bin/python tests/bench/soak.py --minutes 30

One headless station records N sources (default 16) of the GStreamer RTSP clip camera
(640x360, 25 fps, a keyframe a second, a clip longer than the run, so every picture is
unique) under one tag, with file rotation (`segment_s`, default 60) and retention at a small
`retention_max_gb`, while a client polls the native API at 20 requests a second and an MJPEG
viewer watches one source. Every `--sample-s` seconds: the station's RSS, open file
descriptors, threads, catalog size, the recordings' size on disk, the API's latency.

Verdict (exit code 0 only if all hold):
- RSS, descriptors and threads flat after warm-up: the peak of the last third of the run at
  most 5 % above the peak of the first third after warm-up (descriptors and threads: at most
  2 above, they are small integers);
- zero lost or repeated packets: every file still on disk is, byte for byte, a contiguous run
  of the clip's packets; each rotation whose two files are both still there (retention deletes
  the oldest) continues exactly where the previous file ended; every file starts on a keyframe;
- rotation happened (each source has several files) and retention kept the recordings under
  their cap (plus what rotation and one retention pass may hold: the open files, a minute of
  writing);
- the API's p99 latency in the last third no worse than twice the first third's (or 20 ms).

Not a pytest test by name; `tests/e2e/test_soak.py` runs a 90-second version in `make test`.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.station_process import HeadlessStation, wait_for  # noqa: E402
from tests.support.camera import RtspCamera  # noqa: E402
from tests.support.clip import ClipIndex, cached_clip  # noqa: E402

TAG = "soak"
GB = 1e9


# --- what the process holds --------------------------------------------------------------
def proc_status(pid: int) -> dict[str, float]:
    """RSS (MB), threads and open descriptors of a process, from /proc."""
    out = {"fds": float(len(os.listdir(f"/proc/{pid}/fd")))}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                out["rss_mb"] = int(line.split()[1]) / 1024
            elif line.startswith("Threads:"):
                out["threads"] = float(line.split()[1])
    return out


def folder_bytes(folder: Path, pattern: str = "*.mp4") -> int:
    total = 0
    for path in folder.rglob(pattern):
        try:
            total += path.stat().st_size
        except OSError:
            pass  # deleted by retention while we looked
    return total


def catalog_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("catalog.sqlite3*") if p.exists())


# --- the load ----------------------------------------------------------------------------
class ApiPoller(threading.Thread):
    """Open-loop GETs at `rate` a second (a slow answer does not slow the schedule down):
    the latency of each, with the time it was sent."""

    PATHS = ("/api/v1/source", f"/api/v1/record/running?tag_name={TAG}", "/api/v1/tag/begin",
             "/api/v1/storage")

    def __init__(self, url: str, rate: float):
        super().__init__(name="api-poller", daemon=True)
        self.url, self.interval = url, 1.0 / rate
        self.stop = threading.Event()
        self.latencies: list[tuple[float, float]] = []
        self.errors = 0

    def run(self) -> None:
        next_at, i = time.monotonic(), 0
        while not self.stop.is_set():
            path = self.PATHS[i % len(self.PATHS)]
            i += 1
            sent = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url + path, timeout=10) as response:
                    response.read()
                self.latencies.append((time.monotonic(), time.perf_counter() - sent))
            except OSError:
                self.errors += 1
            next_at += self.interval
            self.stop.wait(max(0.0, next_at - time.monotonic()))


class MjpegViewer(threading.Thread):
    """One client watching a source's MJPEG stream the whole time; counts the pictures."""

    def __init__(self, url: str):
        super().__init__(name="mjpeg-viewer", daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.parts = 0
        self.reconnects = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=10) as response:
                    while not self.stop.is_set():
                        chunk = response.read(65536)
                        if not chunk:
                            break
                        self.parts += chunk.count(b"Content-Type: image/jpeg")
            except OSError:
                pass
            if not self.stop.is_set():
                self.reconnects += 1
                self.stop.wait(1.0)


# --- the run -----------------------------------------------------------------------------
@dataclass
class Sample:
    at_s: float
    rss_mb: float
    fds: float
    threads: float
    catalog_mb: float
    recordings_mb: float


@dataclass
class Soak:
    args: argparse.Namespace
    samples: list[Sample] = field(default_factory=list)
    latencies: list[tuple[float, float]] = field(default_factory=list)
    api_errors: int = 0
    mjpeg_parts: int = 0
    mjpeg_reconnects: int = 0
    started_at: float = 0.0
    files_checked: int = 0
    files_deleted: int = 0
    boundaries_checked: int = 0
    lost: int = 0
    repeated_or_foreign: int = 0
    not_at_keyframe: int = 0
    records_per_source: list[int] = field(default_factory=list)
    bad_records: list[str] = field(default_factory=list)
    write_rate_bps: float = 0.0


def run(args: argparse.Namespace) -> Soak:
    soak = Soak(args)
    work = Path(tempfile.mkdtemp(prefix="rs-soak-", dir=args.work_dir))
    clip = cached_clip(args.minutes * 60 + 60, width=640, height=360, fps=25, gop_seconds=1.0,
                       bitrate_kbps=args.kbps)
    index = ClipIndex(clip)
    camera = RtspCamera(clip=clip)
    camera.start()
    station = HeadlessStation(args.station, work / "data", env={
        "RS_SEGMENT_S": str(args.segment_s), "RS_RETENTION_MAX_GB": str(args.retention_max_gb),
        "RS_RETENTION_CHECK_S": str(args.retention_check_s),
        "RS_DISK_FLOOR_MB": str(args.disk_floor_mb)})
    poller = ApiPoller(station.url, args.api_rate)
    viewer = None
    try:
        ids = [station.call("POST", "/api/v1/source", {"name": f"cam-{i:02d}", "uri_rtsp": camera.url})["id"]
               for i in range(args.sources)]
        (group,) = station.call("POST", "/api/v1/group", {"name": "all"})
        for sid in ids:
            station.call("POST", f"/api/v1/group/{group['id']}/source/{sid}")
        wait_for(lambda: all(s["status"] == "online" for s in station.call("GET", "/api/v1/source")),
                 90, "every source online")
        station.call("POST", "/api/v1/record", {"tag_name": TAG, "group_name": "all"})
        soak.started_at = time.monotonic()
        poller.start()
        viewer = MjpegViewer(f"{station.url}/api/v1/source/{ids[0]}/video?delay=0.2")
        viewer.start()
        end = soak.started_at + args.minutes * 60
        recordings = work / "data" / "recordings"
        while time.monotonic() < end:
            status = proc_status(station.proc.pid)
            soak.samples.append(Sample(
                time.monotonic() - soak.started_at, status["rss_mb"], status["fds"],
                status["threads"], catalog_bytes(work / "data") / 1e6,
                folder_bytes(recordings) / 1e6))
            time.sleep(min(args.sample_s, max(0.0, end - time.monotonic())))
        poller.stop.set()
        viewer.stop.set()
        records = station.call("PUT", "/api/v1/record", {"tag_name": TAG})
        everything = station.call("GET", f"/api/v1/record?tag_name={TAG}")
    finally:
        poller.stop.set()
        if viewer is not None:
            viewer.stop.set()
        station.stop()
        camera.stop()
    poller.join(15)
    soak.latencies, soak.api_errors = poller.latencies, poller.errors
    if viewer is not None:
        viewer.join(15)
        soak.mjpeg_parts, soak.mjpeg_reconnects = viewer.parts, viewer.reconnects
    del records
    check_files(soak, everything, index, args.sources)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept: {work}")
    return soak


def check_files(soak: Soak, records: list[dict], index: ClipIndex, sources: int) -> None:
    """Every file still there an exact run of the clip; every rotation whose two files are
    both still there seamless."""
    by_source: dict[int, list[dict]] = {}
    for record in records:
        source = record["source"][0]["id"] if record.get("source") else -1
        by_source.setdefault(source, []).append(record)
        if record["status"] not in ("finished", "deleted"):
            soak.bad_records.append(f"{record['id']}: {record['status']} {record.get('error')}")
    soak.records_per_source = sorted(len(v) for v in by_source.values())
    written = 0
    for files in by_source.values():
        files.sort(key=lambda r: r["begin_utc"])
        present = [r for r in files if r["status"] == "finished" and Path(r["location"]).is_file()]
        soak.files_deleted += sum(r["status"] == "deleted" for r in files)
        written += sum(r.get("size_bytes") or 0 for r in files)
        for record in present:
            result = index.check([record["location"]])
            soak.files_checked += 1
            soak.lost += result.lost
            soak.repeated_or_foreign += result.foreign
            soak.not_at_keyframe += not result.starts_at_keyframe
        for before, after in zip(files, files[1:]):
            if before in present and after in present:
                result = index.check([before["location"], after["location"]])
                soak.boundaries_checked += 1
                # a packet lost or repeated at the cut shows as lost/foreign across the pair
                single = index.check([before["location"]]), index.check([after["location"]])
                soak.lost += result.lost - sum(r.lost for r in single)
                soak.repeated_or_foreign += result.foreign - sum(r.foreign for r in single)
    soak.write_rate_bps = written / max(1.0, soak.args.minutes * 60)
    if len(by_source) != sources:
        soak.bad_records.append(f"records for {len(by_source)} sources, expected {sources}")


# --- the verdict -------------------------------------------------------------------------
def thirds(values: list[tuple[float, float]], warmup_s: float, total_s: float):
    """(first third after warm-up, last third) of time-stamped values."""
    span = (total_s - warmup_s) / 3
    first = [v for t, v in values if warmup_s <= t < warmup_s + span]
    last = [v for t, v in values if t >= total_s - span]
    return first, last


def verdict(soak: Soak) -> list[tuple[str, str, bool]]:
    args = soak.args
    total = args.minutes * 60
    warmup = args.warmup_s if args.warmup_s is not None else min(120.0, total * 0.25)
    rows = []
    for name, attr, slack in (("RSS (MB)", "rss_mb", None), ("open descriptors", "fds", 2),
                              ("threads", "threads", 2)):
        first, last = thirds([(s.at_s, getattr(s, attr)) for s in soak.samples], warmup, total)
        if not first or not last:
            rows.append((name, "too few samples", False))
            continue
        a, b = max(first), max(last)
        allowed = a * 1.05 if slack is None else max(a * 1.05, a + slack)
        rows.append((name, f"{a:.1f} -> {b:.1f} (peak, first vs last third after warm-up; "
                           f"at most {allowed:.1f})", b <= allowed))
    first, last = thirds([(s.at_s, s.catalog_mb) for s in soak.samples], warmup, total)
    if first and last:
        rows.append(("catalog (MB)", f"{max(first):.2f} -> {max(last):.2f}",
                     max(last) <= max(first) * 1.5 + 1.0))
    start = soak.started_at
    lat = [(t - start, v * 1000) for t, v in soak.latencies]
    first, last = thirds(lat, warmup, total)
    if first and last:
        p99a = statistics.quantiles(first, n=100)[98] if len(first) > 100 else max(first)
        p99b = statistics.quantiles(last, n=100)[98] if len(last) > 100 else max(last)
        rows.append(("API p99 (ms)", f"{p99a:.1f} -> {p99b:.1f} ({len(lat)} requests, "
                     f"{soak.api_errors} errors)", p99b <= max(2 * p99a, 20.0) and not soak.api_errors))
    rows.append(("MJPEG viewer", f"{soak.mjpeg_parts} pictures, {soak.mjpeg_reconnects} reconnects",
                 soak.mjpeg_parts > total and soak.mjpeg_reconnects == 0))
    rows.append(("files checked against the clip",
                 f"{soak.files_checked} files, {soak.boundaries_checked} rotations seamless-checked, "
                 f"{soak.lost} lost, {soak.repeated_or_foreign} repeated/foreign, "
                 f"{soak.not_at_keyframe} not starting at a keyframe",
                 soak.files_checked > 0 and soak.boundaries_checked > 0 and soak.lost == 0
                 and soak.repeated_or_foreign == 0 and soak.not_at_keyframe == 0))
    expected_files = max(2, int(total // args.segment_s))
    rows.append(("rotation", f"files per source {min(soak.records_per_source, default=0)}.."
                 f"{max(soak.records_per_source, default=0)} (segment_s={args.segment_s})",
                 min(soak.records_per_source, default=0) >= expected_files))
    cap_mb = args.retention_max_gb * GB / 1e6
    # retention deletes finished files only, once a `retention_check_s`: the open files and
    # that much writing may stand above the cap between passes
    every = args.retention_check_s
    slack_mb = soak.write_rate_bps * (every + args.segment_s) / 1e6
    after = [s.recordings_mb for s in soak.samples if s.at_s >= args.segment_s + every]
    peak = max(after, default=0.0)
    rows.append(("retention", f"peak {peak:.0f} MB on disk (cap {cap_mb:.0f} MB + {slack_mb:.0f} MB "
                 f"between passes), {soak.files_deleted} files deleted",
                 bool(after) and peak <= cap_mb + slack_mb and soak.files_deleted > 0))
    rows.append(("records", "all finished or deleted" if not soak.bad_records
                 else "; ".join(soak.bad_records[:5]), not soak.bad_records))
    return rows


def report(soak: Soak, rows) -> str:
    args = soak.args
    lines = [f"Soak: {args.sources} sources, {args.minutes:g} min, segment_s={args.segment_s}, "
             f"retention_max_gb={args.retention_max_gb}, API {args.api_rate:g} req/s, 1 MJPEG viewer",
             "", "| check | figures | ok |", "|---|---|---|"]
    lines += [f"| {name} | {figures} | {'yes' if ok else '**NO**'} |" for name, figures, ok in rows]
    lines += ["", "samples (s, RSS MB, fds, threads, catalog MB, recordings MB):"]
    step = max(1, len(soak.samples) // 12)
    lines += [f"  {s.at_s:7.0f} {s.rss_mb:8.1f} {s.fds:5.0f} {s.threads:5.0f} {s.catalog_mb:7.2f} "
              f"{s.recordings_mb:8.1f}" for s in soak.samples[::step]]
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--sources", type=int, default=16)
    p.add_argument("--segment-s", type=int, default=60)
    p.add_argument("--retention-max-gb", type=float, default=0.25)
    p.add_argument("--disk-floor-mb", type=int, default=0)
    p.add_argument("--retention-check-s", type=float, default=60.0,
                   help="how often the station's retention looks (its setting's default: 60)")
    p.add_argument("--kbps", type=int, default=800, help="the clip's bitrate")
    p.add_argument("--api-rate", type=float, default=20.0)
    p.add_argument("--sample-s", type=float, default=10.0)
    p.add_argument("--warmup-s", type=float, default=None,
                   help="ignored by the flatness checks (default: a quarter of the run, at most 2 min)")
    p.add_argument("--work-dir", default=None)
    p.add_argument("--keep", action="store_true", help="keep the station's data folder")
    p.add_argument("--station", nargs="+", default=[str(ROOT / ".venv/bin/recording-station")])
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    soak = run(args)
    rows = verdict(soak)
    print(report(soak, rows), flush=True)
    print(json.dumps({name: ok for name, _, ok in rows}))
    return 0 if all(ok for _, _, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
