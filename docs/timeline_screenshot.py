"""The README's timeline screenshot (docs/timeline.png): the Recordings tab at 1360x820,
offscreen, on three cameras' records placed over two hours (tests/support/placed_records: real
small files, no camera needed), with a camera-lost gap and its alarm strip, motion events,
two bookmarks in the list beside the timeline, the legend, and a record selected and shown in
the player. The timeline opens fitted on what is listed, as it does for an operator.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/timeline_screenshot.py docs/timeline.png
"""
from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.audited import AuditedStation  # noqa: E402
from app.models import Record, StationEvent  # noqa: E402
from app.schemas import BookmarkIn  # noqa: E402
from app.station import stop_station  # noqa: E402
from docs.screenshot import placed_station, pump_until  # noqa: E402
from tests.support.placed_records import place_record  # noqa: E402
from ui.application import ensure_application  # noqa: E402
from ui.bridge import EventBridge  # noqa: E402
from ui.recordings.recordings import RecordingsBrowser  # noqa: E402
from ui.tasks import TaskRunner  # noqa: E402

# (camera index, tag, start and length in minutes from two hours ago)
RECORDS = ((0, "continuous", 0, 50), (0, "continuous", 50, 40), (0, "motion", 95, 6),
           (1, "continuous", 5, 100), (1, "incident-0412-yard-gate", 70, 25),
           (2, "motion", 20, 4), (2, "motion", 62, 9), (2, "incident-0412-yard-gate", 70, 25))
# (camera index, kind, severity, begin and end in minutes)
EVENTS = ((0, "motion", "warning", 96, 99), (2, "motion", "warning", 21, 23),
          (2, "motion", "warning", 63, 70), (1, "camera_lost", "alarm", 40, 47))


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def main(out: str) -> None:
    ensure_application()
    station, folder, cams = placed_station()
    t0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
    ids = [place_record(station, folder, cams[cam], tag, t0 + timedelta(minutes=start),
                        seconds=minutes * 60) for cam, tag, start, minutes in RECORDS]
    with station.catalog.session() as s:
        yard = s.get(Record, ids[3])  # the camera was away for seven minutes
        yard.gaps = [{"begin_utc": iso(t0 + timedelta(minutes=40)),
                      "end_utc": iso(t0 + timedelta(minutes=47))}]
        s.add(yard)
        for cam, kind, severity, begin, end in EVENTS:
            s.add(StationEvent(kind=kind, source_id=cams[cam], begin=t0 + timedelta(minutes=begin),
                               end=t0 + timedelta(minutes=end), severity=severity, text=kind))
        s.commit()
    station.bookmarks.create(BookmarkIn(source_id=cams[1], time_utc=t0 + timedelta(minutes=72),
                                        title="Van at the gate", note="white van, plate partly visible"))
    station.bookmarks.create(BookmarkIn(source_id=cams[0], time_utc=t0 + timedelta(minutes=97),
                                        title="Parcel left"))
    bridge, tasks = EventBridge(station.bus), TaskRunner()
    browser = RecordingsBrowser(AuditedStation(station, who="operator"), bridge, tasks)
    browser.resize(1360, 820)
    browser.show()

    timeline = browser.timeline
    pump_until(lambda: browser.loads > 0 and not timeline.loading and timeline.view.lanes
         and all(lane.spans is not None for lane in timeline.view.lanes)
         and len(timeline.legend.tags) == 3)
    pump_until(lambda: browser.bookmarks.table.rowCount() == 2 and browser.thumbnails.decoded >= 6)
    browser.select(ids[4])
    pump_until(lambda: browser.player.frames_shown >= 1)
    browser.grab().save(out)
    browser.shutdown()
    tasks.shutdown()
    bridge.close()
    stop_station(station)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/timeline.png")
