"""Native API under load while recording (issue #4).

    .venv/bin/python tests/bench/bench_api_load.py --rate 200 --seconds 30

One run, one fresh headless station in its own process, 8 built-in test-pattern sources
(`testsrc://`, H.264 encoded inside the station as a camera would send it), or with
`--camera` 8 sources reading the RTSP test camera (1080p25, 4 Mbit/s; the station only
remuxes, as with real cameras):

1. warm-up: the 8 sources record 3 s under tag `warm` (8 finished records to list);
2. baseline: a second process (an aiohttp client on loopback) sends `GET /api/v1/source` and
   `GET /api/v1/record?tag_name=warm` alternately at `--rate` requests/s, open loop (each
   request leaves at its scheduled time whether or not earlier ones have answered), while the
   sources are read but nothing records;
3. loaded: the same load while all 8 sources record under tag `load`;
4. the `load` files are decoded: frame count, timestamps strictly increasing with no gap
   (a lost packet is a missing timestamp step), against the recording's wall duration at the
   pattern's frame rate.

Prints p50/p90/p99/max latency of both phases side by side with the loaded/baseline ratio
(target: p99 < 20 ms while recording), the station's CPU, and the per-file packet check.
Not a pytest test (the file name does not match test_*.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.station_process import HeadlessStation, machine_cpu, wait_for  # noqa: E402


# --- the load generator (runs in its own process: `--client`) ----------------------
async def drive(base: str, paths: list[str], rate: float, seconds: float) -> dict:
    import aiohttp

    loop = asyncio.get_running_loop()
    service, from_due, statuses = [], [], {}

    async def one(session, url: str, due: float) -> None:
        sent = loop.time()
        try:
            async with session.get(url) as resp:
                await resp.read()
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
        except aiohttp.ClientError as exc:
            statuses[type(exc).__name__] = statuses.get(type(exc).__name__, 0) + 1
            return
        done = loop.time()
        service.append((done - sent) * 1000)
        from_due.append((done - due) * 1000)

    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as s:
        for i in range(8):  # open the connections before the clock starts
            await one(s, base + paths[i % len(paths)], loop.time())
        service.clear(), from_due.clear(), statuses.clear()
        total = int(rate * seconds)
        start = loop.time() + 0.1
        tasks = []
        for i in range(total):
            due = start + i / rate
            if (delay := due - loop.time()) > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(s, base + paths[i % len(paths)], due)))
        await asyncio.gather(*tasks)
        elapsed = loop.time() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"service_ms": service, "from_due_ms": from_due, "statuses": statuses,
            "sent": total, "elapsed_s": elapsed, "cpu_s": usage.ru_utime + usage.ru_stime}


def client_main(args) -> None:
    result = asyncio.run(drive(args.client, args.paths.split(","), args.rate, args.seconds))
    json.dump(result, sys.stdout)


# --- the station -------------------------------------------------------------------
# --- measuring ---------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def phase(station: HeadlessStation, args, paths: list[str]) -> dict:
    command = [sys.executable, __file__, "--client", station.url, "--paths", ",".join(paths),
               "--rate", str(args.rate), "--seconds", str(args.seconds)]
    cpu0, wall0, machine0 = station.cpu_seconds(), time.monotonic(), machine_cpu()
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.seconds + 120)
    cpu1, wall1, machine1 = station.cpu_seconds(), time.monotonic(), machine_cpu()
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    result = json.loads(done.stdout)
    result["station_cpu_pct"] = 100 * (cpu1 - cpu0) / (wall1 - wall0)
    result["client_cpu_pct"] = 100 * result["cpu_s"] / (wall1 - wall0)
    busy = (machine1[0] - machine0[0]) / max(1, machine1[1] - machine0[1])
    result["others_cpu_pct"] = 100 * busy * (os.cpu_count() or 1) - result["station_cpu_pct"] \
        - result["client_cpu_pct"]
    result["loadavg"] = os.getloadavg()[0]
    return result


def check_file(path: str, begin_utc: str, end_utc: str, fps: int) -> dict:
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        pts = [p.pts for p in container.demux(stream) if p.pts is not None]
        time_base = stream.time_base
    pts.sort()
    steps = [b - a for a, b in zip(pts, pts[1:])]
    nominal = Fraction(1, fps) / time_base
    gaps = [s for s in steps if s > 1.5 * nominal]
    span = (len(pts) * nominal * time_base) if pts else 0
    wall = (datetime.fromisoformat(end_utc.replace("Z", "+00:00"))
            - datetime.fromisoformat(begin_utc.replace("Z", "+00:00"))).total_seconds()
    return {"frames": len(pts), "expected": round(wall * fps), "wall_s": wall, "span_s": float(span),
            "gaps": len(gaps), "duplicates": sum(1 for s in steps if s <= 0),
            "max_step_frames": float(max(steps) / nominal) if steps else 0.0}


def summary(name: str, result: dict) -> dict:
    service = result["service_ms"]
    ok = result["statuses"].get("200", 0) + result["statuses"].get(200, 0)
    return {"phase": name, "requests": result["sent"], "ok": ok,
            "rate": result["sent"] / result["elapsed_s"],
            "p50": percentile(service, 50), "p90": percentile(service, 90),
            "p99": percentile(service, 99), "max": max(service) if service else float("nan"),
            "p99_due": percentile(result["from_due_ms"], 99),
            "mean": statistics.fmean(service) if service else float("nan"),
            "cpu": result["station_cpu_pct"], "client_cpu": result["client_cpu_pct"],
            "others_cpu": result["others_cpu_pct"], "loadavg": result["loadavg"], "errors": {k: v for k, v in result["statuses"].items()
                                                          if str(k) != "200"}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each phase")
    parser.add_argument("--sources", type=int, default=8)
    parser.add_argument("--pattern", default="testsrc://testsrc2?size=640x360&rate=25&gop=2")
    parser.add_argument("--camera", action="store_true",
                        help="record the RTSP test camera (a 1080p25 4 Mbit/s clip, see "
                             "tests/support/clip.py) instead of test patterns encoded in the station")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args)
        return 0

    camera = None
    if args.camera:
        from tests.support.camera import RtspCamera
        from tests.support.clip import cached_clip

        camera = RtspCamera(clip=cached_clip(180)).start()
        args.pattern = camera.url
    fps = int(args.pattern.split("rate=")[1].split("&")[0]) if "rate=" in args.pattern else 25
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    station = HeadlessStation([sys.executable, "-m", "app"], work / "data", cwd=ROOT)
    try:
        ids = [station.call("POST", "/api/v1/source", {"name": f"pattern-{i}", "uri_rtsp": args.pattern})["id"]
               for i in range(args.sources)]
        group = station.call("POST", "/api/v1/group", {"name": "all"})[0]
        for sid in ids:
            station.call("POST", f"/api/v1/group/{group['id']}/source/{sid}")
        wait_for(lambda: all(s["status"] == "online" for s in station.call("GET", "/api/v1/source")),
                 60, "the sources to come online")
        station.call("POST", "/api/v1/record", {"tag_name": "warm", "group_name": "all"})
        time.sleep(3)
        station.call("PUT", "/api/v1/record", {"tag_name": "warm"})
        paths = ["/api/v1/source", "/api/v1/record?tag_name=warm"]

        baseline = summary("baseline (reading, not recording)", phase(station, args, paths))
        started = station.call("POST", "/api/v1/record", {"tag_name": "load", "group_name": "all"})
        assert len(started) == args.sources
        loaded = summary(f"loaded ({args.sources} recording)", phase(station, args, paths))
        records = station.call("PUT", "/api/v1/record", {"tag_name": "load"})
        checks = [check_file(r["location"], r["begin_utc"], r["end_utc"], fps) for r in records]
    finally:
        station.stop()
        if camera is not None:
            camera.stop()

    print(f"\nNative API load: {args.rate:.0f} req/s for {args.seconds:.0f} s per phase, "
          f"{args.sources} sources {args.pattern}, {os.cpu_count()} cores")
    print(f"{'phase':36} {'req':>6} {'ok':>6} {'req/s':>7} {'p50 ms':>7} {'p90 ms':>7} "
          f"{'p99 ms':>7} {'max ms':>7} {'p99*':>7} {'CPU %':>6} {'client':>6} {'others':>6} {'load':>5}")
    for row in (baseline, loaded):
        print(f"{row['phase']:36} {row['requests']:6d} {row['ok']:6d} {row['rate']:7.1f} {row['p50']:7.2f} "
              f"{row['p90']:7.2f} {row['p99']:7.2f} {row['max']:7.1f} {row['p99_due']:7.2f} {row['cpu']:6.0f} "
              f"{row['client_cpu']:6.0f} {row['others_cpu']:6.0f} {row['loadavg']:5.1f}"
              + (f"  errors {row['errors']}" if row["errors"] else ""))
    print(f"{'ratio loaded/baseline':36} {'':6} {'':6} {'':7} {loaded['p50'] / baseline['p50']:7.2f} "
          f"{loaded['p90'] / baseline['p90']:7.2f} {loaded['p99'] / baseline['p99']:7.2f}")
    print("(p99* = from each request's scheduled send time, so a stalled client would show; CPU % of "
          "one core: the station, the load client, every other process on the machine; load = "
          "1-min load average at the end)")
    print(f"target p99 < 20 ms while recording: {'met' if loaded['p99'] < 20 else 'MISSED'}")
    print("\nrecordings under load (packets: timestamps strictly increasing, one step per frame):")
    print(f"{'file':6} {'frames':>7} {'wall*fps':>8} {'wall s':>7} {'gaps':>5} {'dups':>5} {'max step':>8}")
    lost = 0
    for i, c in enumerate(checks):
        lost += c["gaps"] + c["duplicates"]
        print(f"{i:<6d} {c['frames']:7d} {c['expected']:8d} {c['wall_s']:7.2f} {c['gaps']:5d} "
              f"{c['duplicates']:5d} {c['max_step_frames']:8.2f}")
    short = max(c["expected"] - c["frames"] for c in checks)
    print(f"packets lost: {'none' if lost == 0 else lost}; largest shortfall against wall time: "
          f"{short} frames ({short / fps:.2f} s)")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
