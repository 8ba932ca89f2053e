"""One tile of a synchronised playback: the picture drawn as a camera tile draws it, the
camera's name on top, the wall-clock date and time of the frame shown at the bottom, and
"no recording" over it while the cursor is in one of the source's gaps (from the plan: the
tile decides nothing about what was recorded). A click selects it (its sound is heard).

Digital zoom as on a live tile (`ui.zoom`): the wheel zooms around the pointer up to 8x, a
left drag pans, a double-click goes back to 1x, an inset shows where the zoomed part is. The
zoom stays while the footage plays or jumps (it is where the operator looks, not a frame's)."""

from __future__ import annotations

from datetime import datetime, timezone

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui.playback.tile_feed import TileFrame
from ui.zoom import PictureZoom, ZoomMouse, fitted

NO_RECORDING = "no recording"


def wall_text(seconds: float | None) -> str:
    """The wall-clock date and time of an instant (epoch seconds) in this computer's time
    zone, to the millisecond: 2026-12-07 18:25:27.120."""
    if seconds is None:
        return "—"
    moment = datetime.fromtimestamp(seconds, timezone.utc).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


class PlaybackTile(ZoomMouse, QWidget):
    clicked = Signal(int)  # the source id

    def __init__(self, source_id: int, name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.source_id, self.name = source_id, name
        self.frame: TileFrame | None = None  # the frame shown
        self.in_gap = False
        self.selected = False
        self.message = "Opening…"
        self.zoom = PictureZoom(self.update)
        self.setMinimumSize(240, 135)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    @property
    def image(self) -> QImage | None:
        return self.frame.image if self.frame is not None else None

    @property
    def wall_label(self) -> str:
        """What the tile says at its bottom: the shown frame's wall-clock time, or "no
        recording" inside a gap."""
        if self.in_gap:
            return NO_RECORDING
        return wall_text(self.frame.wall) if self.frame is not None else self.message

    def show_frame(self, frame: TileFrame) -> None:
        self.frame = frame
        self.update()

    def set_gap(self, in_gap: bool) -> None:
        if in_gap != self.in_gap:
            self.in_gap = in_gap
            self.update()

    def set_selected(self, selected: bool) -> None:
        if selected != self.selected:
            self.selected = selected
            self.update()

    def _target(self) -> QRect | None:
        """Where the picture is drawn (None: none shown, nothing to zoom)."""
        if self.image is None or self.in_gap:
            return None
        return fitted(self.image.width(), self.image.height(), self.rect())

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.source_id)
        self.zoom.press(event)  # a press selects the tile whether or not it starts a pan,
        QWidget.mousePressEvent(self, event)  # so QWidget has the press and the release too

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.zoom.release(event)
        QWidget.mouseReleaseEvent(self, event)

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt naming
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#111418"))
        target = self._target()
        if target is not None:
            self.zoom.paint(painter, self.image, target)
            self.zoom.paint_inset(painter, self.image,  # above the time bar
                                  target.intersected(self.rect().adjusted(0, 0, 0, -24)))
        elif self.in_gap or self.frame is None:
            painter.setPen(QColor("#8a96a3"))
            font = QFont(self.font())
            font.setPointSizeF(font.pointSizeF() * 1.3)
            painter.setFont(font)
            painter.drawText(self.rect().adjusted(12, 24, -12, -24),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             NO_RECORDING if self.in_gap else self.message)
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        for bar, text in ((QRect(0, 0, self.width(), 24), self.name),
                          (QRect(0, self.height() - 24, self.width(), 24), self.wall_label)):
            painter.fillRect(bar, QColor(0, 0, 0, 150))
            painter.setPen(QColor("white"))
            shown = painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight,
                                                     self.width() - 16)
            painter.drawText(bar.adjusted(8, 0, -8, 0), Qt.AlignmentFlag.AlignVCenter, shown)
        if self.selected:
            painter.setPen(QPen(QColor("#3d8bfd"), 3))
            painter.drawRect(self.rect().adjusted(1, 1, -2, -2))
        painter.end()
