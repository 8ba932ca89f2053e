"""Tiles that rest (#24 item 7): what "update on motion" saves on a wall of quiet cameras.

    .venv/bin/python tests/bench/bench_wall_rest.py --tiles 16 --seconds 20

Every source is the scripted `static` scene of the motion tests (tests/support/scenes.py: a
textured still picture with a camera's faint sensor noise, no motion) served by the RTSP test
camera as a 640x360 main stream and a 320x180 preview stream, 10 fps each, and analysed for
motion as every source is by default. The main window shows them all in the grid; the same
wall is measured with "update on motion" off (every tile converts and paints every preview
picture) and then on (no source moves, so every tile rests: no BGRX made, nothing painted;
the preview is still decoded, for the motion analyser). CPU is the station process's own
(all its threads) per second of wall time, in per cent of one core; the camera runs in
another process and is not counted. Runs offscreen unless DISPLAY is set.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.schemas import SourceIn  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.station import build_station, start_station, stop_station  # noqa: E402
from tests.support.camera import RtspCamera  # noqa: E402
from tests.support.scenes import scene_clip  # noqa: E402
from ui.application import ensure_application  # noqa: E402
from ui.bridge import EventBridge  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402


def pump(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.005)


def measure(app, window, seconds: float) -> tuple[float, float]:
    """(CPU % of a core, pictures painted per tile per second) over `seconds`."""
    tiles = list(window.wall.tiles.values())
    painted0 = sum(t.frames_painted for t in tiles)
    wall0, cpu0 = time.monotonic(), time.process_time()
    pump(app, seconds)
    elapsed = time.monotonic() - wall0
    cpu = 100 * (time.process_time() - cpu0) / elapsed
    fps = (sum(t.frames_painted for t in tiles) - painted0) / elapsed / len(tiles)
    return cpu, fps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiles", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=8.0)
    args = parser.parse_args()
    app = ensure_application()
    main_clip, small = scene_clip("static"), scene_clip("static", width=320, height=180)
    camera = RtspCamera(width=640, height=360, fps=10, clips={"/main": main_clip, "/sub": small})
    camera.start()
    station = build_station(Settings(data_dir=Path(tempfile.mkdtemp()), port=0, demo=False))
    start_station(station)
    bridge = EventBridge(station.bus)
    try:
        for n in range(args.tiles):
            station.sources.create(SourceIn(name=f"quiet {n + 1}", uri_rtsp=camera.urls[0],
                                            uri_preview=camera.urls[1]))
        window = MainWindow(station, bridge, "http://127.0.0.1:9")
        window.setProperty("close_choice", "stop")
        window.resize(1600, 1000)
        window.show()
        pump(app, args.warmup)
        window.update_on_motion.setChecked(False)
        pump(app, 2)
        off = measure(app, window, args.seconds)
        window.update_on_motion.setChecked(True)
        pump(app, 2)
        on = measure(app, window, args.seconds)
        analysed = sum(1 for sid in window.wall.tiles if station.motion.status(sid).analysing
                       != "off")
        resting = sum(1 for t in window.wall.tiles.values() if t.resting)
        print(f"{args.tiles} tiles of a still scene, {analysed} analysed for motion, "
              f"{args.seconds:.0f} s each:")
        print(f"  update on motion off: {off[0]:5.1f} % of a core, "
              f"{off[1]:4.1f} pictures painted per tile per second")
        print(f"  update on motion on:  {on[0]:5.1f} % of a core, "
              f"{on[1]:4.1f} pictures painted per tile per second ({resting} tiles resting)")
        window.update_on_motion.setChecked(False)  # the option is kept in the data dir only
        window.close()
    finally:
        bridge.close()
        stop_station(station)
        camera.stop()


if __name__ == "__main__":
    main()
