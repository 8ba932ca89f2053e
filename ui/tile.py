"""A camera tile: the live picture of one source, its name and status, a REC badge.

The tile pulls the newest frame from the source's slot on its own QTimer (display rate), so
the recorder never waits for the GUI and a busy GUI simply skips frames.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from recorder.frames import Demand, FrameSlot

STATUS_COLOURS = {"online": "#2ecc71", "connecting": "#f1c40f", "offline": "#95a5a6", "error": "#e74c3c"}


class CameraTile(QWidget):
    def __init__(self, source_id: int, name: str, slot: FrameSlot | None, *,
                 demand: Demand = Demand.ALL, fps: int = 15, parent: QWidget | None = None):
        super().__init__(parent)
        self.source_id, self.name, self.slot = source_id, name, slot
        self.status, self.error = "connecting", ""
        self.recording_tags: set[str] = set()
        self.recording_since: float | None = None
        self.image: QImage | None = None
        self.frame_seq = 0
        self._token = slot.watch(demand) if slot is not None else None
        self.setMinimumSize(160, 90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._pull_frame)
        self._timer.start(max(10, 1000 // fps))

    def set_demand(self, demand: Demand) -> None:
        if self.slot is not None and self._token is not None:
            self.slot.change(self._token, demand)

    def set_status(self, status: str, error: str = "") -> None:
        self.status, self.error = status, error
        self.update()

    def set_recording(self, tag: str, on: bool) -> None:
        if on:
            self.recording_tags.add(tag)
            self.recording_since = self.recording_since or time.monotonic()
        else:
            self.recording_tags.discard(tag)
            if not self.recording_tags:
                self.recording_since = None
        self.update()

    def _pull_frame(self) -> None:
        frame = self.slot.latest() if self.slot is not None else None
        if frame is not None and frame.seq != self.frame_seq:
            self.frame_seq = frame.seq
            h, w, _ = frame.rgb.shape
            self.image = QImage(frame.rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
            self.update()
        elif self.recording_since is not None:
            self.update()  # keep the REC clock ticking

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt naming
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#111418"))
        if self.image is not None:
            scaled = self.image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, scaled.width(), scaled.height())
            target.moveCenter(self.rect().center())
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(target, self.image)
        else:
            painter.setPen(QColor("#7f8c8d"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             self.error or "waiting for picture…")
        self._paint_overlay(painter)
        painter.end()

    def _paint_overlay(self, painter: QPainter) -> None:
        bar = QRect(0, 0, self.width(), 24)
        painter.fillRect(bar, QColor(0, 0, 0, 150))
        painter.setBrush(QColor(STATUS_COLOURS.get(self.status, "#95a5a6")))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawEllipse(8, 7, 10, 10)
        painter.setPen(QColor("white"))
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(bar.adjusted(24, 0, -8, 0), Qt.AlignmentFlag.AlignVCenter,
                         f"{self.name}  ·  {self.status}")
        if self.recording_since is not None:
            elapsed = int(time.monotonic() - self.recording_since)
            text = f"● REC {elapsed // 60:02d}:{elapsed % 60:02d}  {', '.join(sorted(self.recording_tags))}"
            width = painter.fontMetrics().horizontalAdvance(text) + 16
            badge = QRect(self.width() - width - 6, 30, width, 22)
            painter.setBrush(QColor(200, 30, 30, 220))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawRoundedRect(badge, 4, 4)
            painter.setPen(QColor("white"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)

    def close_tile(self) -> None:
        self._timer.stop()
        if self.slot is not None and self._token is not None:
            self.slot.unwatch(self._token)
            self._token = None
