"""The README's evidence screenshot (docs/evidence-manifest.png): the manifest page of an
evidence package of three cameras, rendered offscreen with Qt's rich-text engine (no browser
needed) at 980 px wide. The package is made by the station's own service from records placed
in a throwaway catalog (tests/support/placed_records: real small files, no camera needed),
signed with a throwaway key (its config folder is a temporary one).

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/evidence_screenshot.py \
        docs/evidence-manifest.png
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
os.environ["TZ"] = "Europe/Berlin"  # a local time that differs from UTC, as it would
time.tzset()
os.environ["RS_CONFIG_FILE"] = str(Path(tempfile.mkdtemp(prefix="rs-shot-config-")) / "c.toml")

from PySide6.QtCore import QSize  # noqa: E402
from PySide6.QtGui import QPainter, QPixmap, QTextDocument  # noqa: E402

from app.evidence.package import PackageRequest  # noqa: E402
from app.schemas import SourceIn  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.station import build_station, stop_station  # noqa: E402
from tests.support.placed_records import place_record  # noqa: E402
from ui.application import ensure_application  # noqa: E402

CAMERAS = (("Front door", "rtsp://admin:hunter2@127.0.0.1:8554/front?token=x"),
           ("Yard gate", "rtsp://127.0.0.1:8554/yard"),
           ("Loading dock", "rtsp://viewer:pw@127.0.0.1:8554/dock"))
WIDTH = 980


def main(out: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="rs-shot-evidence-"))
    station = build_station(Settings(data_dir=folder / "data", port=0, demo=False,
                                     station_name="Front Office", disk_floor_mb=0))
    try:
        begin = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
        ids = []
        for name, uri in CAMERAS:
            ids.append(station.sources.create(SourceIn(name=name, uri_rtsp=uri,
                                                       enabled=False)).id)
            place_record(station, folder, ids[-1], "incident", begin)
        package = station.evidence.export_package(
            PackageRequest(ids, begin + timedelta(seconds=0.4), begin + timedelta(seconds=1.6),
                           case_note="Incident 0412: the yard gate forced at night; footage "
                           "for the insurer.\nRequested by J. Keller (site security)."),
            folder / "out", who="j.keller")
        html = (package / "manifest.html").read_text()
    finally:
        stop_station(station)
    ensure_application()
    document = QTextDocument()
    document.setHtml(html)
    document.setTextWidth(WIDTH)
    size = QSize(WIDTH, int(document.size().height()) + 10)
    pixmap = QPixmap(size)
    pixmap.fill()
    painter = QPainter(pixmap)
    document.drawContents(painter)
    painter.end()
    pixmap.save(str(out))
    print(f"{out}: {size.width()}x{size.height()}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/evidence-manifest.png"))
