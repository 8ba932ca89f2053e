"""Several stations as one (issue #15): what sharing a PostgreSQL catalog costs, side by side
with one station holding the same sources, in the same run.

    .venv/bin/python tests/bench/bench_site.py [--sources 12] [--runs 30]

- listing: `GET /api/v1/source` and `GET /api/v1/station` on one station, latency;
- starting and stopping a group of `--sources` test-pattern cameras: one station owning them
  all (baseline) against three stations owning a third each, the request sent to one of them
  (which forwards to the other two);
- the heartbeat: one beat (an UPDATE and two SELECTs on the server, and the sources' status)
  timed in this process against the same database, and what it costs at one beat per 3 s;
- the proxy: a record's file downloaded from its owner, and the same file from another
  station (streamed through it): throughput, and CPU time of the station in the middle.

Needs Debian's PostgreSQL 15 (`make test` installs it). Runs as root (the server as postgres).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.postgres import PostgresServer  # noqa: E402
from tests.support.station_process import StationProcess  # noqa: E402

TOKEN = "bench-site-token"
SMALL = "testsrc://testsrc2?size=320x240&rate=25&gop=1"
LARGE = "testsrc://testsrc2?size=1280x720&rate=25&gop=2"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in clock ticks


class Bench:
    def __init__(self, tmp: Path, server: PostgresServer):
        self.tmp, self.server = tmp, server

    def site(self, names: list[str]) -> list[StationProcess]:
        self.url = self.server.new_database()
        env = {"RS_DATABASE_URL": self.url, "RS_TOKEN": TOKEN}
        folder = self.folder = Path(tempfile.mkdtemp(dir=self.tmp))  # their config folder
        return [StationProcess(folder, name=n, env={**env, "RS_STATION_NAME": n}) for n in names]

    @staticmethod
    def call(station: StationProcess, method: str, path: str, body=None):
        status, data, _ = station.call(method, path, body, token=TOKEN, timeout=60)
        assert status == 200, (method, path, status, data)
        return data

    def populate(self, stations: list[StationProcess], count: int, uri: str = SMALL) -> None:
        group = self.call(stations[0], "POST", "/api/v1/group", {"name": "all"})[0]
        for i in range(count):
            owner = stations[i % len(stations)]
            source = self.call(owner, "POST", "/api/v1/source", {"name": f"cam-{i}", "uri_rtsp": uri})
            self.call(stations[0], "POST", f"/api/v1/group/{group['id']}/source/{source['id']}/")
        deadline = time.monotonic() + 60
        while any(s["status"] != "online" for s in self.call(stations[0], "GET", "/api/v1/source")):
            if time.monotonic() > deadline:
                raise RuntimeError("sources did not come online")
            time.sleep(0.2)
        time.sleep(1.5)  # a keyframe group in every pre-roll

    def timed(self, runs: int, fn) -> list[float]:
        out = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t0) * 1000)
        return out

    def start_stop(self, station: StationProcess, runs: int) -> tuple[list[float], list[float]]:
        starts, stops = [], []
        for i in range(runs):
            t0 = time.perf_counter()
            started = self.call(station, "POST", "/api/v1/record", {"tag_name": f"t{i}", "group_name": "all"})
            starts.append((time.perf_counter() - t0) * 1000)
            time.sleep(1.0)
            t0 = time.perf_counter()
            stopped = self.call(station, "PUT", "/api/v1/record", {"tag_name": f"t{i}"})
            stops.append((time.perf_counter() - t0) * 1000)
            assert len(started) == len(stopped)
        return starts, stops


def fmt(values: list[float]) -> str:
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
    return f"median {statistics.median(values):7.1f} ms  p90 {p90:7.1f} ms"


def heartbeat_cost(url: str, key_dir: Path, beats: int = 200) -> float:
    """ms per beat of a registry on the site's database (this process, the server local)."""
    from app.catalog import Catalog
    from app.site.stations import StationRegistry

    catalog = Catalog(url, key_dir=key_dir).open()  # the site's credentials key
    registry = StationRegistry(catalog, station_id="bench-heartbeat", name="bench", url=None,
                               version="bench", local_status=lambda _sid: ("online", None),
                               storage_dir=Path(tempfile.gettempdir()), floor_bytes=lambda: 0)
    registry.start()  # registers; the thread beats too, every 3 s: negligible next to this loop
    t0 = time.perf_counter()
    for _ in range(beats):
        assert registry.beat()
    per_beat = (time.perf_counter() - t0) * 1000 / beats
    registry.stop()
    catalog.close()
    return per_beat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=12)
    parser.add_argument("--runs", type=int, default=30, help="listing requests per case")
    parser.add_argument("--cycles", type=int, default=5, help="start/stop cycles per case")
    args = parser.parse_args()
    server = PostgresServer().start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-site-"))
    bench = Bench(tmp, server)
    rows: list[tuple[str, str, str]] = []
    started: list[StationProcess] = []
    try:
        alone = bench.site(["alone"])
        started += alone
        bench.populate(alone, args.sources)
        trio = bench.site(["north", "south", "west"])
        started += trio
        bench.populate(trio, args.sources)
        for path in ("/api/v1/source", "/api/v1/station"):
            rows.append((f"GET {path}",
                         fmt(bench.timed(args.runs, lambda: bench.call(alone[0], "GET", path))),
                         fmt(bench.timed(args.runs, lambda: bench.call(trio[2], "GET", path)))))
        one_starts, one_stops = bench.start_stop(alone[0], args.cycles)
        site_starts, site_stops = bench.start_stop(trio[2], args.cycles)
        rows.append((f"start a group of {args.sources}", fmt(one_starts), fmt(site_starts)))
        rows.append((f"stop it (MD5 of {args.sources} files)", fmt(one_stops), fmt(site_stops)))

        # the heartbeat of a fourth station, on the site's database (its sources are listed)
        per_beat = heartbeat_cost(bench.url, bench.folder)

        # the proxy: a 720p record on north, fetched from north and through west
        big = bench.call(trio[0], "POST", "/api/v1/source", {"name": "big", "uri_rtsp": LARGE})
        group = bench.call(trio[0], "POST", "/api/v1/group", {"name": "big"})[0]
        bench.call(trio[0], "POST", f"/api/v1/group/{group['id']}/source/{big['id']}/")
        time.sleep(3)
        bench.call(trio[0], "POST", "/api/v1/record", {"tag_name": "big", "group_name": "big"})
        time.sleep(20)
        record = bench.call(trio[0], "PUT", "/api/v1/record", {"tag_name": "big"})[0]
        size_mb = record["size_bytes"] / 1e6
        auth = {"Authorization": f"Bearer {TOKEN}"}

        def fetch(station: StationProcess) -> tuple[float, float]:
            middle = trio[2]
            cpu0, t0 = cpu_seconds(middle.proc.pid), time.perf_counter()
            status, data, _ = station.request("GET", f"/api/v1/record/{record['id']}/video",
                                              headers=auth, timeout=120)
            seconds = time.perf_counter() - t0
            assert status == 200 and len(data) == record["size_bytes"]
            return size_mb / seconds, cpu_seconds(middle.proc.pid) - cpu0

        direct = [fetch(trio[0]) for _ in range(5)]
        proxied = [fetch(trio[2]) for _ in range(5)]
        rows.append((f"download a {size_mb:.1f} MB record",
                     f"{statistics.median(d[0] for d in direct):7.0f} MB/s from its owner",
                     f"{statistics.median(p[0] for p in proxied):7.0f} MB/s through another station"))
        rows.append(("  CPU of the station in the middle", "-",
                     f"{statistics.median(p[1] for p in proxied) / size_mb * 1000:7.1f} ms per MB"))
    finally:
        for st in started:  # whatever happened: no station left running
            if st.proc.poll() is None:
                st.stop()
        server.stop()

    print(f"\nSeveral stations as one: {args.sources} test-pattern sources, PostgreSQL 15 on "
          "loopback, all processes on this machine")
    print(f"{'':38} {'one station owns all':36} {'three stations, a third each':36}")
    for name, one, site in rows:
        print(f"{name:38} {one:36} {site:36}")
    print(f"heartbeat: {per_beat:.1f} ms per beat, one beat every 3 s = "
          f"{per_beat / 3000 * 100:.2f} % of a core per station")
    return 0


if __name__ == "__main__":
    sys.exit(main())
