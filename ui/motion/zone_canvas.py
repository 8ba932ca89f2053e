"""The picture of one source with its zones drawn over it, and the motion tuner's overlay.

Drawing: a click on the picture adds a corner to the polygon being drawn; a double-click or
Enter closes it (three corners at least) into a new zone; Backspace takes back its last
corner and Escape drops it; Delete removes the selected zone (picked in the dialog's list, or by a right-click on the
zone). Corners are stored normalised to the picture (0..1), so the same zones fit the preview
stream the detector analyses, the main stream, and a camera whose resolution changes.

The tuner's overlay (`set_tuned`) paints what the detector saw in its last picture: the
changed pixels in translucent red, the contours it counted as boxes, and the share changed.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui.motion.tuner import TunedPicture
from ui.motion.zones import EXCLUDE, INCLUDE, DrawnZone, ZoneSet, contains

BACKGROUND = QColor("#111418")
INCLUDE_COLOUR = QColor(56, 161, 105)      # green: motion here counts
EXCLUDE_COLOUR = QColor(120, 128, 140)     # grey: never looked at
DRAWING_COLOUR = QColor("#f6e05e")
BOX_COLOUR = QColor("#f6ad55")
SAME_POINT_PX = 4  # a press this close to the last corner adds none (the double-click's)


class ZoneCanvas(QWidget):
    zone_closed = Signal(object)      # the new DrawnZone
    zone_picked = Signal(int)         # index of the zone right-clicked
    delete_requested = Signal(int)    # index of the selected zone (Delete)
    changed = Signal()                # anything drawn changed (the dialog enables Save)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.zones = ZoneSet()
        self.new_kind = EXCLUDE       # what the next closed polygon becomes
        self.selected = -1
        self.image: QImage | None = None
        self.tuned: TunedPicture | None = None
        self.show_tuner = True
        self.setMinimumSize(480, 270)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(False)
        self.setCursor(Qt.CursorShape.CrossCursor)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt naming
        return QSize(800, 450)

    # --- state from the dialog -------------------------------------------------------
    def set_zones(self, zones: ZoneSet) -> None:
        self.zones, self.selected = zones, -1
        self.update()

    def set_image(self, image: QImage | None) -> None:
        self.image = image
        self.update()

    def set_tuned(self, tuned: TunedPicture | None) -> None:
        self.tuned = tuned
        self.update()

    def select(self, index: int) -> None:
        self.selected = index if 0 <= index < len(self.zones.zones) else -1
        self.update()

    # --- geometry ----------------------------------------------------------------------
    def picture_rect(self) -> QRect:
        """Where the picture is painted: fitted into the widget keeping its shape (16:9
        until the first picture arrives, so zones can be drawn before it does)."""
        shape = self.image.size() if self.image is not None else QSize(16, 9)
        size = shape.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        rect = QRect(0, 0, size.width(), size.height())
        rect.moveCenter(self.rect().center())
        return rect

    def to_normalised(self, pos: QPointF) -> tuple[float, float] | None:
        rect = self.picture_rect()
        if not rect.contains(pos.toPoint()) or rect.width() < 2 or rect.height() < 2:
            return None
        return ((pos.x() - rect.x()) / rect.width(), (pos.y() - rect.y()) / rect.height())

    def to_widget(self, point: tuple[float, float]) -> QPointF:
        rect = self.picture_rect()
        return QPointF(rect.x() + point[0] * rect.width(), rect.y() + point[1] * rect.height())

    # --- drawing -----------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt naming
        self.setFocus()
        point = self.to_normalised(event.position())
        if point is None:
            return
        if event.button() == Qt.MouseButton.RightButton:
            for index in reversed(range(len(self.zones.zones))):
                if contains(self.zones.zones[index].points, *point):
                    self.select(index)
                    self.zone_picked.emit(index)
                    return
            return
        if event.button() != Qt.MouseButton.LeftButton or self._repeats_last(event.position()):
            return
        if self.zones.add_point(point):
            self.update()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt naming
        if event.button() == Qt.MouseButton.LeftButton:
            point = self.to_normalised(event.position())
            if point is not None and not self._repeats_last(event.position()):
                self.zones.add_point(point)
            self.close_polygon()

    def _repeats_last(self, pos: QPointF) -> bool:
        if not self.zones.drawing:
            return False
        last = self.to_widget(self.zones.drawing[-1])
        return abs(last.x() - pos.x()) <= SAME_POINT_PX and abs(last.y() - pos.y()) <= SAME_POINT_PX

    def close_polygon(self) -> DrawnZone | None:
        zone = self.zones.close(self.new_kind)
        if zone is not None:
            self.selected = len(self.zones.zones) - 1
            self.zone_closed.emit(zone)
            self.changed.emit()
        self.update()
        return zone

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt naming
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.zones.drawing:
            self.close_polygon()
        elif key == Qt.Key.Key_Escape and self.zones.drawing:
            self.zones.drawing = []
            self.update()
        elif key == Qt.Key.Key_Backspace and self.zones.drawing:
            self.zones.drawing.pop()  # the last corner, while drawing
            self.update()
        elif key == Qt.Key.Key_Delete and self.selected >= 0:
            self.delete_requested.emit(self.selected)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    # --- painting ----------------------------------------------------------------------
    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt naming
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        rect = self.picture_rect()
        if self.image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(rect, self.image)
        else:
            painter.setPen(QColor("#c0c6cc"))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "waiting for the picture…")
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for index, zone in enumerate(self.zones.zones):
            self._paint_zone(painter, zone, index == self.selected)
        if self.show_tuner and self.tuned is not None:  # over the zones: what it saw in them
            self._paint_tuned(painter, rect)
        self._paint_drawing(painter)
        painter.end()

    def _paint_zone(self, painter: QPainter, zone: DrawnZone, selected: bool) -> None:
        colour = QColor(INCLUDE_COLOUR if zone.kind == INCLUDE else EXCLUDE_COLOUR)
        polygon = QPolygonF([self.to_widget(p) for p in zone.points])
        fill = QColor(colour)
        fill.setAlpha(70 if zone.kind == INCLUDE else 150)
        brush = QBrush(fill, Qt.BrushStyle.SolidPattern if zone.kind == INCLUDE
                       else Qt.BrushStyle.Dense4Pattern)
        painter.setBrush(brush)
        painter.setPen(QPen(QColor("white") if selected else colour, 3 if selected else 2))
        painter.drawPolygon(polygon)
        if zone.name:
            painter.setPen(QColor("white"))
            painter.drawText(polygon.boundingRect(), Qt.AlignmentFlag.AlignCenter, zone.name)

    def _paint_drawing(self, painter: QPainter) -> None:
        points = [self.to_widget(p) for p in self.zones.drawing]
        if not points:
            return
        painter.setPen(QPen(DRAWING_COLOUR, 2, Qt.PenStyle.DashLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPolyline(QPolygonF(points))
        painter.setBrush(DRAWING_COLOUR)
        for point in points:
            painter.drawEllipse(point, 3.5, 3.5)

    def _paint_tuned(self, painter: QPainter, rect: QRect) -> None:
        tuned = self.tuned
        if tuned.mask is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.drawImage(rect, tuned.mask)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(BOX_COLOUR, 2))
        for x, y, w, h in tuned.boxes:
            painter.drawRect(QRectF(rect.x() + x * rect.width(), rect.y() + y * rect.height(),
                                    w * rect.width(), h * rect.height()))
        text = tuned.summary()
        band = QRect(rect.x(), rect.bottom() - 24, rect.width(), 24)
        painter.fillRect(band, QColor(0, 0, 0, 170))
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("#fc8181") if tuned.motion else QColor("white"))
        painter.drawText(band.adjusted(8, 0, -8, 0), Qt.AlignmentFlag.AlignVCenter, text)
        painter.setFont(self.font())
