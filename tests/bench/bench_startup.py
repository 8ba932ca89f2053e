"""Start-up of the installed package against the virtualenv (`make run`), in the same run:
how long from launch until the window shows and until its tiles show live pictures, on a
virtual X screen (Xvfb), as a user sees it. Also the installed size against the virtualenv's.

    make dist && dpkg -i dist/recording-station_*.deb
    .venv/bin/python tests/bench/bench_startup.py [--runs 5] [--cold]

Each launch starts with a new home folder (first run: the catalog is made and the demo's four
test-pattern cameras are created), then the same home again (a second start). `--cold` drops
the page cache before every launch (root), as after a reboot. Issue #13's target: live tiles
within 3 s of launch; installed size under 250 MB.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.installed import files_size, operator_env  # noqa: E402
from tests.support.screen import Screen, colourful  # noqa: E402

INSTALLED = Path("/usr/bin/recording-station")
VENV = ROOT / ".venv" / "bin" / "recording-station"


def window_shown(pixels) -> bool:
    return float((pixels.max(axis=2) > 40).mean()) > 0.2


def launch(screen: Screen, command: Path, home: Path, cold: bool) -> tuple[float, float]:
    """(seconds to the window, seconds to live tiles) of one launch."""
    if cold:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    env = {**operator_env(home), "RS_GUI_LOGIN": "false"}  # #26: no sign-in dialog to time
    started = time.monotonic()
    process = subprocess.Popen([str(command), "--port", "0"], env=screen.env(env),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        window, _ = screen.wait_for(window_shown, timeout=60, every=0.02)
        window = time.monotonic() - started
        screen.wait_for(colourful, timeout=60, every=0.02)
        tiles = time.monotonic() - started
    finally:
        process.terminate()
        process.wait(30)
    return window, tiles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="drop the page cache before each launch")
    args = parser.parse_args()
    if not INSTALLED.exists():
        raise SystemExit("install the package first: make dist && dpkg -i dist/*.deb")
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with Screen() as screen:
        for run in range(args.runs):
            # alternate which goes first, so neither always finds the other's files cached
            order = [("installed", INSTALLED), ("venv", VENV)]
            for name, command in order if run % 2 == 0 else order[::-1]:
                home = Path(tempfile.mkdtemp(prefix="rs-bench-home-"))
                try:
                    results.setdefault((name, "first start"), []).append(
                        launch(screen, command, home, args.cold))
                    results.setdefault((name, "second start"), []).append(
                        launch(screen, command, home, args.cold))
                finally:
                    shutil.rmtree(home, ignore_errors=True)
    print(f"launch to window / to live tiles, seconds, {args.runs} runs each "
          f"({'cold' if args.cold else 'warm'} page cache); median (max)")
    print(f"{'':12} {'start':13} {'window':>14} {'live tiles':>14}")
    for (name, start), times in results.items():
        windows, tiles = [t[0] for t in times], [t[1] for t in times]
        print(f"{name:12} {start:13} {statistics.median(windows):8.2f} ({max(windows):.2f})"
              f" {statistics.median(tiles):8.2f} ({max(tiles):.2f})")
    site = next((ROOT / ".venv" / "lib").glob("python3*/site-packages"))
    installed = files_size(Path("/opt/recording-station"))
    declared = int(subprocess.run(["dpkg-query", "-W", "-f", "${Installed-Size}", "recording-station"],
                                  capture_output=True, text=True, check=True).stdout)
    print(f"installed size: {installed / 1e6:.1f} MB in /opt/recording-station "
          f"(Installed-Size {declared * 1024 / 1e6:.1f} MB); "
          f"the virtualenv's site-packages: {files_size(site) / 1e6:.1f} MB (with test tools)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
