"""The README's motion search screenshot (docs/motion-search.png): the Recordings tab at
1360x820, offscreen, after "search motion here" on two cameras' left half over their last two
hours: the hits as bright marks on each camera's lane, the list of hits beside the timeline,
the first hit playing in the player with the camera's heat map over its picture.

The footage is records placed with real small files (tests/support/placed_records); the
motion is grids written through the station's own store (`station.motion_grids`, as the
analysers write them): someone crossing the left half of the picture for 4 to 20 s at a few
moments, and the right half busier (a road) on the front door camera.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/motion_search_screenshot.py docs/motion-search.png
"""
from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.audited import AuditedStation  # noqa: E402
from app.station import stop_station  # noqa: E402
from docs.screenshot import placed_station, pump_until  # noqa: E402
from tests.support.placed_records import place_record  # noqa: E402
from ui.application import ensure_application  # noqa: E402
from ui.bridge import EventBridge  # noqa: E402
from ui.motion_search.controller import MotionSearchGui  # noqa: E402
from ui.recordings.recordings import RecordingsBrowser  # noqa: E402
from ui.tasks import TaskRunner  # noqa: E402

H, W = 180, 320
# (camera index, tag, start and length in minutes from two hours ago)
RECORDS = ((0, "continuous", 0, 60), (0, "continuous", 60, 58), (1, "continuous", 3, 110),
           (2, "motion", 20, 4))
# someone crossing the left half: (camera index, minute, seconds it lasts)
CROSSINGS = ((0, 12, 8), (0, 47, 20), (0, 95, 6), (1, 30, 12), (1, 88, 4))
ROAD = (0, range(5, 115, 3))  # the front door's right half: a car every three minutes


def box(x: int, y: int, w: int = 40, h: int = 60) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    mask[y:y + h, x:x + w] = 255
    return mask


def main(out: str) -> None:
    app = ensure_application()
    station, folder, cams = placed_station()
    t0 = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=2)
    for cam, tag, start, minutes in RECORDS:
        place_record(station, folder, cams[cam], tag, t0 + timedelta(minutes=start),
                     seconds=minutes * 60)
    grids, base = station.motion_grids, t0.timestamp()
    for cam, minute, seconds in CROSSINGS:
        for second in range(seconds):  # walking left to right across the left half
            grids.add(cams[cam], base + minute * 60 + second + 0.5,
                      box(10 + second * 100 // seconds, 70))
    cam, minutes = ROAD
    for minute in minutes:
        for second in range(3):
            grids.add(cams[cam], base + minute * 60 + 30 + second + 0.5,
                      box(170 + second * 45, 110, 60, 40))
    grids.flush()

    bridge, tasks = EventBridge(station.bus), TaskRunner()
    audited = AuditedStation(station, who="operator")
    browser = RecordingsBrowser(audited, bridge, tasks)
    search = MotionSearchGui(audited, tasks, browser)
    browser.resize(1360, 820)
    browser.show()

    pump_until(lambda: browser.loads > 0 and not browser.timeline.loading)
    done = []
    search.searched.connect(lambda: done.append(True))
    search.search(cams[:2], t0, t0 + timedelta(hours=2), (0.0, 0.2, 0.5, 0.9))
    pump_until(lambda: bool(done))
    first = search.panel.hits[0]
    search.play_hit(first.source_id, first.begin)
    pump_until(lambda: browser.player.frames_shown >= 1 and not browser.timeline.loading)
    browser.player.pause()
    shown = []
    search.heatmap_shown.connect(shown.append)
    search.heat_button.setChecked(True)
    pump_until(lambda: bool(shown))
    search.panel.table.selectRow(0)
    app.processEvents()
    browser.grab().save(out)
    search.shutdown()
    browser.shutdown()
    tasks.shutdown()
    bridge.close()
    stop_station(station)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/motion-search.png")
