"""The README's motion tuner screenshot (docs/motion-tuner.png): a real station reading the
scripted walking-box scene of the motion tests (tests/support/scenes.py) from the RTSP test
camera as its main and preview stream, its Motion… dialog with an exclude mask and a named
include zone, the tuner's overlay showing what the detector sees as the box walks through.
Grabbed from the widget, so it runs offscreen too:

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/motion_screenshot.py docs/motion-tuner.png
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.audited import AuditedStation  # noqa: E402
from app.schemas import SourceIn  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.station import build_station, start_station, stop_station  # noqa: E402
from tests.support.camera import RtspCamera  # noqa: E402
from tests.support.scenes import scene_clip  # noqa: E402
from ui.application import ensure_application  # noqa: E402
from ui.motion.motion_dialog import MotionDialog  # noqa: E402
from ui.tasks import TaskRunner  # noqa: E402

ZONES = [
    {"name": "hedge", "kind": "exclude",
     "points": [[0.70, 0.03], [0.97, 0.03], [0.97, 0.30], [0.78, 0.36], [0.70, 0.20]]},
    {"name": "path", "kind": "include", "sensitivity": 60,
     "points": [[0.02, 0.35], [0.60, 0.25], [0.98, 0.45], [0.98, 0.95], [0.02, 0.95]]},
]


def main(out: str) -> None:
    app = ensure_application()
    station = build_station(Settings(data_dir=Path(tempfile.mkdtemp()), port=0, demo=False))
    start_station(station)
    clip = scene_clip("walking_box")
    camera = RtspCamera(width=640, height=360, fps=10, clips={"/main": clip, "/sub": clip}).start()
    source = station.sources.create(SourceIn(name="Garden path", uri_rtsp=camera.urls[0],
                                             uri_preview=camera.urls[1]))
    station.motion.change(source.id, {"zones": ZONES, "make_time_s": 0.2}, "docs")
    tasks = TaskRunner()
    dialog = MotionDialog(AuditedStation(station, who="docs"), source.id, source.name, tasks)
    dialog.resize(1280, 680)
    dialog.show()
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:  # until the tuner shows the box as counted motion
        app.processEvents()
        if dialog.loaded and dialog.zone_list.list.currentRow() < 0:
            dialog.zone_list.list.setCurrentRow(1)  # the include zone's details beside
        tuned = dialog.canvas.tuned
        if (tuned is not None and tuned.mask is not None and tuned.motion and tuned.boxes
                and dialog.canvas.image is not None and tuned.boxes[0][0] > 0.3):
            break
        time.sleep(0.02)
    app.processEvents()
    dialog.grab().save(out)
    dialog.close()
    tasks.shutdown()
    stop_station(station)
    camera.stop()


if __name__ == "__main__":
    main(*sys.argv[1:2])
