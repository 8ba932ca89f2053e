"""The README's synchronised playback screenshot (docs/sync-playback.png): three cameras in
step, offscreen. Their records are placed in the catalog (no camera needed) with files made
by PyAV from FFmpeg's test sources, each with an AAC track: "Front door" one file, "Yard"
rotated into a second file mid-range, "Loading bay" with a hole between two records, shown
as "no recording" at the instant of the picture.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/sync_playback_screenshot.py docs/sync-playback.png
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.audited import AuditedStation  # noqa: E402
from app.models import Record, Tag  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.station import build_station, start_station, stop_station  # noqa: E402
from tests.support.placed_records import quiet_source  # noqa: E402
from tests.support.sound_clip import clip_with_sound  # noqa: E402
from ui.application import ensure_application  # noqa: E402
from ui.playback.sync_playback import SyncPlayback  # noqa: E402
from ui.tasks import TaskRunner  # noqa: E402

# (camera, lavfi source, [(start s, length s)] from t0)
CAMERAS = (("Front door", "testsrc2", [(0, 20)]),
           ("Yard", "smptehdbars", [(0, 8), (8, 12)]),
           ("Loading bay", "rgbtestsrc", [(0, 6), (12, 8)]))
AT_S = 9.0  # the instant of the picture: Yard in its second file, Loading bay in its hole


def main(out: str) -> None:
    app = ensure_application()
    data = Path(tempfile.mkdtemp())
    station = build_station(Settings(data_dir=data / "data", port=0, demo=False))
    start_station(station)
    t0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    ids = []
    with station.catalog.session() as s:
        tag = Tag(name="continuous")
        s.add(tag)
        s.commit()
        s.refresh(tag)
        for name, source, spans in CAMERAS:
            source_id = quiet_source(station, name)
            ids.append(source_id)
            for start, length in spans:
                path = data / f"{source_id}_{start}.mp4"
                clip_with_sound(path, length, source=source, size=(640, 360))
                begin = t0 + timedelta(seconds=start)
                s.add(Record(status="finished", source_id=source_id, tag_id=tag.id,
                             begin_utc=begin, end_utc=begin + timedelta(seconds=length),
                             duration_s=length, location=str(path), size_bytes=path.stat().st_size,
                             station_id=station.station_id))
        s.commit()
    tasks = TaskRunner()
    player = SyncPlayback(AuditedStation(station), tasks)
    player.resize(1360, 440)
    player.show()
    player.play_sources(ids, t0 + timedelta(seconds=AT_S), play=False)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (
            player.plan and len(player.tiles) == 3
            and sum(t.frame is not None for t in player.tiles.values()) >= 2):
        app.processEvents()
        time.sleep(0.02)
    player.select(ids[1])
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    player.grab().save(out)
    player.shutdown()
    tasks.shutdown()
    stop_station(station)
    print(f"saved {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/sync-playback.png")
