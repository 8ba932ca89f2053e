"""The README's events screenshot (docs/events.png): the main window at 1366x768 with four
live test-pattern tiles recording, one of them lost (the real RTSP test camera of
tests/support, stopped while it records: the camera watch opens `camera_lost`, the tile shows
the banner over its dimmed last picture and the amber REC badge), and the Events panel below.

    Xvfb :99 -screen 0 1920x1080x24 &
    DISPLAY=:99 .venv/bin/python docs/events_screenshot.py docs/events.png
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from api.server import ApiServer  # noqa: E402
from app.schemas import SourceIn  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.station import build_station, start_station, stop_station  # noqa: E402
from docs.screenshot import show_and_grab  # noqa: E402
from tests.support.camera import RtspCamera  # noqa: E402

CAMERAS = [("Lobby", "testsrc2"), ("Gate North", "smptebars"), ("Parking A", "rgbtestsrc")]


def main(out: str) -> None:
    station = build_station(Settings(data_dir=Path(tempfile.mkdtemp()), port=0, demo=False))
    start_station(station)
    api = ApiServer(station, "127.0.0.1", 0).start()
    camera = RtspCamera(width=640, height=360, fps=25, gop_seconds=1).start()
    ids = [station.sources.create(SourceIn(
        name=name, uri_rtsp=f"testsrc://{pattern}?size=640x360&rate=25&gop=1",
        uri_preview=f"testsrc://{pattern}?size=320x180&rate=25&gop=1")).id
        for name, pattern in CAMERAS]
    ids.insert(1, station.sources.create(SourceIn(name="Loading dock", uri_rtsp=camera.url)).id)
    show_and_grab(station, api.url, out, grab_ms=17000, steps=[
        (3000, lambda: station.recordings.start_sources("night-shift", ids, origin="api")),
        (6000, camera.stop),  # lost while recording
    ])  # grabbed once the banner has counted a few seconds
    api.stop()
    stop_station(station)


if __name__ == "__main__":
    main(*sys.argv[1:2])
