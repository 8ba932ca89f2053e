"""A guard against a Qt binding that mishandles references to None: PySide6 6.12.0 returns
None from void QPainter calls without taking a reference, so every painted tile lowers
None's refcount until Python 3.11 aborts ("deallocating None") — with the station's
recordings in the same process. Painting a tile many times must leave it where it was."""

from __future__ import annotations

import sys

from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtCore import QRect

from ui.application import ensure_application
from ui.tile import CameraTile


def test_painting_does_not_eat_references_to_none(qtbot):
    ensure_application()
    image = QImage(64, 36, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    before = sys.getrefcount(None)
    for _ in range(2000):
        painter.fillRect(QRect(0, 0, 5, 5), QColor("red"))
        painter.drawRect(QRect(0, 0, 5, 5))
    drift = sys.getrefcount(None) - before
    painter.end()
    assert drift > -200, f"None lost {-drift} references in 4000 QPainter calls"

    tile = CameraTile(1, "cam", None)
    qtbot.addWidget(tile)
    tile.resize(320, 180)
    tile.set_recording("tag", True)
    before = sys.getrefcount(None)
    for _ in range(200):
        tile.grab()
    drift = sys.getrefcount(None) - before
    tile.close_tile()
    assert drift > -200, f"None lost {-drift} references in 200 tile paints"
