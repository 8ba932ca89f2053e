"""What motion search draws over a picture (the player's frame or a live tile), as child
widgets of that picture of their own, so the picture's own painting and mouse handling (its
drag, wheel and double-click, digital zoom's) stay as they are:

- `RegionPicker`: the "search motion here" mode. Shown over the picture it takes the mouse:
  the operator drags a rectangle, which it hands over as a normalised region (`picked`) and
  closes; Escape, or a right-click, leaves the mode (`cancelled`). Entered explicitly, never
  by a plain drag on the picture.
- `HeatmapOverlay`: the motion heat map (seconds of change per grid cell over a range) as a
  translucent colour layer over the picture, transparent to the mouse.

Both follow the picture's size (an event filter on it) and place themselves over where the
picture is drawn in it (`picking.picture_rect`: aspect kept, centred)."""

from __future__ import annotations

from typing import Callable

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from ui.motion_search.picking import Rect, Region, heat_rgba, picture_rect, region_of

PickedPicture = Callable[[], Rect | None]
HINT = "Drag a rectangle over the area to search · Esc cancels"
BAND = QColor("#00e5ff")


def zoom_state(widget: QWidget):
    """The picture's digital zoom (`ui.zoom.ZoomState`: `left`, `top`, `span` in shares of
    the picture) when it is zoomed in, else None: what is drawn is then only that part."""
    state = getattr(getattr(widget, "zoom", None), "state", None)
    return state if state is not None and getattr(state, "zoomed", False) else None


def in_scene(region: Region, state) -> Region:
    """A region of the shown part of a zoomed picture as a region of the whole picture."""
    if state is None:
        return region
    x0, y0, x1, y1 = region
    return (state.left + x0 * state.span, state.top + y0 * state.span,
            state.left + x1 * state.span, state.top + y1 * state.span)


def shown_picture(widget: QWidget) -> Rect | None:
    """Where `widget` draws its picture (`widget.image`, a QImage, as FrameView and
    CameraTile keep it), or None while it has none."""
    image = getattr(widget, "image", None)
    if image is None or image.isNull():
        return None
    return picture_rect(widget.width(), widget.height(), image.width(), image.height())


class _Covering(QWidget):
    """A child widget that always covers its parent (the picture) whole."""

    def __init__(self, host: QWidget):
        super().__init__(host)
        self.host = host
        host.installEventFilter(self)
        self.setGeometry(host.rect())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt naming
        if watched is self.host and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.host.rect())
        return False

    def close_overlay(self) -> None:
        self.host.removeEventFilter(self)
        self.hide()
        self.deleteLater()


class RegionPicker(_Covering):
    picked = Signal(tuple)   # the region: x0, y0, x1, y1 (shares of the picture)
    cancelled = Signal()

    def __init__(self, host: QWidget, picture: PickedPicture | None = None):
        super().__init__(host)
        self.picture = picture or (lambda: shown_picture(host))
        self.start: QPointF | None = None
        self.current: QPointF | None = None
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(False)
        self.show()
        self.raise_()
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if event.button() == Qt.MouseButton.RightButton:
            self._cancel()
        elif event.button() == Qt.MouseButton.LeftButton:
            self.start = self.current = event.position()
            self.update()
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if self.start is not None:
            self.current = event.position()
            self.update()
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt naming
        event.accept()
        if event.button() != Qt.MouseButton.LeftButton or self.start is None:
            return
        end = event.position()
        region = region_of((self.start.x(), self.start.y()), (end.x(), end.y()), self.picture())
        self.start = self.current = None
        if region is None:
            self.update()  # too small, or no picture: try again (Esc leaves)
            return
        region = in_scene(region, zoom_state(self.host))  # a zoomed picture shows a part
        self.close_overlay()
        self.picked.emit(region)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - the picture's reset: not here
        event.accept()

    def wheelEvent(self, event) -> None:  # noqa: N802 - no zooming while picking
        event.accept()

    def event(self, event) -> bool:
        # Escape is the wall's shortcut too (back to the grid): while picking, it is ours.
        if event.type() == QEvent.Type.ShortcutOverride and event.key() == Qt.Key.Key_Escape:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if event.key() == Qt.Key.Key_Escape:
            self._cancel()
        event.accept()

    def _cancel(self) -> None:
        self.close_overlay()
        self.cancelled.emit()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt naming
        painter = QPainter(self)
        picture = self.picture()
        if picture is not None:
            painter.setPen(QPen(BAND, 1, Qt.PenStyle.DashLine))
            painter.drawRect(QRectF(*picture).adjusted(0.5, 0.5, -0.5, -0.5))
        bar = QRectF(0, self.height() - 24, self.width(), 24)
        painter.fillRect(bar, QColor(0, 0, 0, 160))
        painter.setPen(QColor("white"))
        painter.drawText(bar, Qt.AlignmentFlag.AlignCenter, HINT)
        if self.start is not None and self.current is not None:
            band = QRectF(self.start, self.current).normalized()
            painter.fillRect(band, QColor(0, 229, 255, 50))
            painter.setPen(QPen(BAND, 2))
            painter.drawRect(band)
        painter.end()


class HeatmapOverlay(_Covering):
    """The heat map of one source over its picture; `set_counts` with the service's
    `Heatmap.counts` (rows x cols)."""

    def __init__(self, host: QWidget, source_id: int, picture: PickedPicture | None = None):
        super().__init__(host)
        self.source_id = source_id
        self.picture = picture or (lambda: shown_picture(host))
        self.caption = "Motion heat map: reading…"
        self.image: QImage | None = None
        self._scaled: QPixmap | None = None
        self._scaled_for: tuple | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.show()
        self.raise_()

    def set_counts(self, counts, caption: str) -> None:
        rgba = np.ascontiguousarray(heat_rgba(counts))
        rows, cols = rgba.shape[:2]
        self.image = (QImage(rgba.data, cols, rows, cols * 4, QImage.Format.Format_RGBA8888).copy()
                      if rows and cols else None)
        self._scaled = None
        self.caption = caption
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt naming
        painter = QPainter(self)
        picture = self.picture()
        state = zoom_state(self.host)
        if self.image is not None and picture is not None and state is not None:
            cols, rows = self.image.width(), self.image.height()
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(QRectF(*picture), self.image,
                              QRectF(state.left * cols, state.top * rows, state.span * cols,
                                     state.span * rows))
        elif self.image is not None and picture is not None:
            target = QRectF(*picture).toAlignedRect()
            key = (target.width(), target.height())
            if self._scaled is None or self._scaled_for != key:
                # smoothed once per size, not for each of a live tile's 25 pictures a second
                self._scaled = QPixmap.fromImage(self.image.scaled(
                    target.size(), Qt.AspectRatioMode.IgnoreAspectRatio,
                    Qt.TransformationMode.SmoothTransformation))
                self._scaled_for = key
            painter.drawPixmap(target.topLeft(), self._scaled)
        metrics = painter.fontMetrics()
        width = metrics.horizontalAdvance(self.caption) + 16
        label = QRectF(6, self.height() - metrics.height() - 14, width, metrics.height() + 8)
        painter.fillRect(label, QColor(0, 0, 0, 160))
        painter.setPen(QColor("white"))
        painter.drawText(label, Qt.AlignmentFlag.AlignCenter, self.caption)
        painter.end()
