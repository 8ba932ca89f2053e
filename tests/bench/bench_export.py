"""Export of one hour of a 4 Mbit/s camera (issue #16 item 4), against a plain file copy of
the same bytes in the same run.

    .venv/bin/python tests/bench/bench_export.py [--seconds 60] [--minutes 60] [--runs 3]

1. The GStreamer RTSP test camera (1080p25, 2 s GOP, 4 Mbit/s) is recorded for `--seconds`
   by a real station.
2. An hour of footage is made from that file without waiting an hour: `--minutes` copies of
   it (each a whole recording, starting on a keyframe at zero, as a rollover writes them)
   filed in the catalog as consecutive finished records of one source.
3. `station.exports.export` cuts the whole hour (begin mid-GOP in the first file, so the edit
   list is written) into one MP4; the baseline copies the same files with `shutil.copyfile`.
   Both read a warm page cache (each is run once unmeasured first); the best of `--runs`.

The machine may be shared with other work: the figures say what this run saw.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.models import Record, Source, Tag, utcnow  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.station import build_station, start_station, stop_station  # noqa: E402
from app.schemas import SourceIn  # noqa: E402
from recorder.mp4file import probe_duration  # noqa: E402
from tests.support.camera import RtspCamera  # noqa: E402


def record_sample(station, seconds: float) -> tuple[int, Path]:
    camera = RtspCamera(width=1920, height=1080, fps=25, gop_seconds=2, bitrate_kbps=4000)
    camera.start()
    try:
        source = station.sources.create(SourceIn(name="cam", uri_rtsp=camera.url))
        deadline = time.monotonic() + 30
        while station.sources.get(source.id).status.value != "online":
            assert time.monotonic() < deadline, "camera never came online"
            time.sleep(0.1)
        station.recordings.start_sources("sample", [source.id])
        time.sleep(seconds)
        record = station.recordings.stop("sample")[0]
        station.sources.delete(source.id)  # its reader stops: the camera may go
    finally:
        camera.stop()
    return source.id, Path(record.location)


def file_an_hour(station, sample: Path, minutes: int, folder: Path) -> tuple[int, list[Path], object]:
    """`minutes` copies of the sample as consecutive records of a new source."""
    duration = probe_duration(sample)
    paths = []
    with station.catalog.session() as s:
        source = Source(name="hour", uri_rtsp="testsrc://testsrc2", enabled=False,
                        station_id=station.station_id)
        tag = Tag(name="hour")
        s.add(source)
        s.add(tag)
        s.commit()
        s.refresh(source)
        s.refresh(tag)
        t0 = utcnow() - timedelta(hours=2)
        for i in range(minutes):
            path = folder / f"hour-{i:03d}.mp4"
            shutil.copyfile(sample, path)
            paths.append(path)
            begin = t0 + timedelta(seconds=i * duration)
            s.add(Record(tag_id=tag.id, source_id=source.id, status="finished",
                         begin_utc=begin, end_utc=begin + timedelta(seconds=duration),
                         location=str(path), size_bytes=path.stat().st_size,
                         duration_s=duration, station_id=station.station_id))
        s.commit()
        return source.id, paths, t0


def best(runs: int, fn) -> float:
    fn()  # warm the page cache, open the codecs once
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="camera recording to repeat")
    parser.add_argument("--minutes", type=int, default=60, help="files of it in the hour")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        tmp = Path(tmp)
        station = build_station(Settings(data_dir=tmp / "data", port=0, demo=False,
                                         disk_floor_mb=0))
        start_station(station)
        try:
            _cam, sample = record_sample(station, args.seconds)
            hour = tmp / "hour"
            hour.mkdir()
            source_id, paths, t0 = file_an_hour(station, sample, args.minutes, hour)
            total = sum(p.stat().st_size for p in paths)
            piece_s = probe_duration(sample)
            span = piece_s * args.minutes
            begin, end = t0 + timedelta(seconds=0.52), t0 + timedelta(seconds=span)
            copies = tmp / "copies"
            copies.mkdir()

            out_bytes: list[int] = []

            def export() -> None:
                made = station.exports.export([source_id], begin, end)
                out_bytes.append(made.size_bytes)
                station.exports.discard(made)

            def copy() -> None:
                for p in paths:
                    shutil.copyfile(p, copies / p.name)

            t_export = best(args.runs, export)
            t_copy = best(args.runs, copy)
        finally:
            stop_station(station)
    mb = total / 1e6
    print(f"footage: {args.minutes} files x {piece_s:.1f} s "
          f"= {span / 60:.1f} min, {mb:.0f} MB ({total * 8 / span / 1e6:.2f} Mbit/s)")
    print(f"export (stream copy, edit list): {t_export:.2f} s  ({mb / t_export:.0f} MB/s), "
          f"output {out_bytes[-1] / 1e6:.0f} MB")
    print(f"baseline shutil.copyfile of the same files: {t_copy:.2f} s  ({mb / t_copy:.0f} MB/s)")
    print(f"export / copy: {t_export / t_copy:.2f}x  (best of {args.runs}, warm cache, shared machine)")


if __name__ == "__main__":
    main()
