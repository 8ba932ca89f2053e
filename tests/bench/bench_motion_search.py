"""Motion search over stored grids (issue #28): 30 days of busy motion for one camera and for
16 cameras, written through the real store, searched for a small region; storage per
camera-day beside the 1 MB budget; on SQLite and PostgreSQL.

    .venv/bin/python tests/bench/bench_motion_search.py [--days 30] [--cameras 16] [--runs 5]

The grids are generated (seeded) with this pattern, per camera and day:
- daytime (07:00-19:00 UTC): 30 % of the minutes have motion, 2 % at night;
- a busy minute holds one to three walkers: each a blob of 2x3 cells (a person at ~15 m on
  a 32x18 grid) entering at a random second, walking one cell every one or two seconds
  left or right (bouncing off the sides, drifting a row up or down now and then) for 5-40 s;
  about 35 busy seconds a minute.
The "busiest" figure is the budget's worst case: every minute of the day with two walkers
moving the whole minute (60 busy seconds).

Written with the store's bulk insert (`GridStore.insert`, one statement per 5000 minutes)
into a station's real catalog (`build_station`: the migrations, the indexes); the search is
`station.motion_search.search` (one indexed query per source, numpy on the packed bits,
the records service asked for the hits' records), timed `--runs` times: the first run (the
database's pages cold in its own cache, warm in the OS's) and the median of the others.
PostgreSQL needs Debian's postgresql 15 (`make test` installs it); without it, SQLite only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from app.models import MotionMinute  # noqa: E402
from app.motion_search.grids import GRID_COLS, GRID_ROWS, StoredMinute, pack  # noqa: E402
from app.schemas import SourceIn  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.station import build_station  # noqa: E402
from tests.support.postgres import BIN, PostgresServer  # noqa: E402

START = datetime(2026, 11, 1, tzinfo=timezone.utc)
REGION = (0.40, 0.40, 0.55, 0.60)   # a door: 5x4 cells of the 32x18
BUDGET = 1 << 20                    # bytes per camera-day


def walkers(rng: np.random.Generator, grids: np.ndarray, count: int, whole: bool) -> None:
    """`count` 2x3-cell blobs walking through the minute's grids (module docstring): each
    moves a column every one or two seconds, bouncing off the picture's sides, and drifts a
    row up or down at three moves in ten."""
    span_c, span_r = GRID_COLS - 3, GRID_ROWS - 2
    for _ in range(count):
        start = 0 if whole else int(rng.integers(0, 55))
        seconds = np.arange(start, 60 if whole else min(60, start + int(rng.integers(5, 41))))
        moves = (seconds - start) // int(rng.integers(1, 3))
        walked = int(rng.integers(0, span_c + 1)) + int(rng.choice([-1, 1])) * moves
        cols = np.abs((walked + span_c) % (2 * span_c) - span_c)  # bounced off the sides
        drift = np.concatenate([[0], np.cumsum(rng.choice([-1, 0, 0, 0, 0, 0, 0, 1],
                                                          size=int(moves[-1]))).astype(int)])
        rows = np.clip(int(rng.integers(0, span_r + 1)) + drift[moves], 0, span_r)
        for dr in range(2):
            for dc in range(3):
                grids[seconds, rows + dr, cols + dc] = True


def camera_days(source_id: int, days: int, seed: int, busiest: bool = False):
    """The StoredMinutes of one camera over `days` days (module docstring's pattern)."""
    rng = np.random.default_rng(seed)
    for day in range(days):
        midnight = int((START + timedelta(days=day)).timestamp())
        for minute in range(1440):
            daytime = 7 * 60 <= minute < 19 * 60
            if not busiest and rng.random() >= (0.30 if daytime else 0.02):
                continue
            grids = np.zeros((60, GRID_ROWS, GRID_COLS), bool)
            walkers(rng, grids, 2 if busiest else int(rng.integers(1, 4)), busiest)
            yield StoredMinute(source_id, midnight + minute * 60, *pack(grids))


def write(station, minutes, batch: int = 5000) -> tuple[int, float]:
    """Bulk-insert; (rows, seconds)."""
    started, rows, chunk = time.perf_counter(), 0, []
    for minute in minutes:
        chunk.append(minute)
        if len(chunk) >= batch:
            station.motion_grids.insert(chunk)
            rows, chunk = rows + len(chunk), []
    station.motion_grids.insert(chunk)
    return rows + len(chunk), time.perf_counter() - started


def stored(station, source_ids: list[int]) -> tuple[int, int]:
    """(rows, bytes of their cells) of these sources."""
    with station.catalog.session() as s:
        count, size = s.execute(select(func.count(), func.sum(func.length(MotionMinute.cells)))
                                .where(MotionMinute.source_id.in_(source_ids))).one()
    return int(count), int(size or 0)


def timed_search(station, source_ids: list[int], days: int,
                 runs: int) -> tuple[float, float, float, int]:
    """(first run s, median of the others s, their median CPU s of this process, hits). The
    CPU time is the figure on a shared machine (a wait for a core is not the search's); with
    PostgreSQL the server's own work is in the wall time only."""
    begin, end = START, START + timedelta(days=days)
    times, cpu, hits = [], [], 0
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        hits = len(station.motion_search.search(source_ids, begin, end, [REGION]))
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return times[0], statistics.median(times[1:] or times), statistics.median(cpu[1:] or cpu), hits


def bench(label: str, url: str | None, folder: Path, args) -> None:
    station = build_station(Settings(data_dir=folder / "data", port=0, demo=False,
                                     database_url=url or ""))
    try:
        ids = [station.sources.create(SourceIn(name=f"cam{i}", uri_rtsp="rtsp://127.0.0.1:9/x",
                                               enabled=False)).id
               for i in range(args.cameras + 1)]
        busiest_id, one, many = ids[0], ids[1:2], ids[1:]
        rows, spent = write(station, camera_days(busiest_id, 1, 99, busiest=True))
        _, busiest_bytes = stored(station, [busiest_id])
        print(f"[{label}] busiest day (every minute, 2 walkers all minute): {rows} rows, "
              f"{busiest_bytes / 1e6:.3f} MB/camera-day (budget {BUDGET / 1e6:.3f} MB) "
              f"{'OK' if busiest_bytes <= BUDGET else 'OVER'}")
        total_rows = total_s = 0.0
        for index, source_id in enumerate(many):
            rows, spent = write(station, camera_days(source_id, args.days, index))
            total_rows, total_s = total_rows + rows, total_s + spent
        count, size = stored(station, many)
        per_day = size / (len(many) * args.days)
        print(f"[{label}] pattern: {count} rows for {len(many) * args.days} camera-days, written "
              f"in {total_s:.1f} s ({total_rows / total_s:.0f} rows/s incl. generating), "
              f"{per_day / 1e3:.1f} kB/camera-day (budget {BUDGET / 1e6:.3f} MB), "
              f"{size / max(count, 1):.0f} B/row")
        for name, sources, target in (("1 camera", one, 0.5), (f"{len(many)} cameras", many, 2.0)):
            first, median, cpu, hits = timed_search(station, sources, args.days, args.runs)
            days = len(sources) * args.days
            print(f"[{label}] search {name} x {args.days} days = {days} camera-days, region "
                  f"{REGION}: first {first:.3f} s, median {median:.3f} s wall, {cpu:.3f} s CPU "
                  f"(target < {target} s) {'OK' if median < target else 'SLOW'}; {hits} hits")
        started, started_cpu = time.perf_counter(), time.process_time()
        heat = station.motion_search.heatmap(one[0], START, START + timedelta(days=args.days))
        print(f"[{label}] heat map of 1 camera x {args.days} days: "
              f"{time.perf_counter() - started:.3f} s wall, "
              f"{time.process_time() - started_cpu:.3f} s CPU; "
              f"{sum(map(sum, heat.counts))} cell-seconds")
    finally:
        station.catalog.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-motion-search-") as tmp:
        bench("SQLite", None, Path(tmp) / "sqlite", args)
        print(f"load average {os.getloadavg()[0]:.1f} after {time.perf_counter() - started:.0f} s")
        if args.sqlite_only or not (BIN / "postgres").exists():
            print("PostgreSQL: skipped")
            return
        server = PostgresServer().start()
        try:
            bench("PostgreSQL", server.new_database(), Path(tmp) / "pg", args)
            print(f"load average {os.getloadavg()[0]:.1f} after "
                  f"{time.perf_counter() - started:.0f} s")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
