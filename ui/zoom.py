"""Digital zoom of a picture (#27 item 3), shared by the live tile (`ui.tile`) and the
player's pictures (`ui.playback.tile_view`, `ui.recordings.player.FrameView`).

`ZoomState` is the pure geometry, in fractions of the picture (0..1 from its top left), so it
holds whatever size the picture arrives at (a tile's preview, then its main stream at four
times the pixels: the same part of the scene stays in view). The wheel zooms around the
pointer: the scene point under it stays under it. Dragging pans, clamped so the view never
leaves the picture. 1x to `MAX_FACTOR`.

`PictureZoom` is what a picture widget delegates to: it turns the wheel, a drag and a
double-click into the state, and paints the zoomed part of the picture plus an overview
inset (the picture's bottom right corner, `INSET_FRACTION` of its width: the whole picture,
shaded but for the zoomed part, which is outlined) while zoomed. Why a helper and not a base
class: the widgets already differ in what a click, a drag and a double-click mean at 1x (a
tile selects, drags its source to another cell, maximises); a zoomed picture takes the left
drag for panning and the double-click for "back to 1x", and hands everything else back to
its widget.

Another overlay that maps the mouse to the picture (motion search's rectangle) reads the
zoom through `ZoomState.scene_point`: a point of the view is that point of the picture only
at 1x.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QRegion

MAX_FACTOR = 8.0
NOTCH_FACTOR = 2 ** 0.5  # one wheel notch (120 eighths of a degree): 4 notches = 4x
INSET_FRACTION = 0.2     # the overview inset's width, of the picture's
INSET_SHADE = QColor(0, 0, 0, 120)  # over the inset's parts not in view
INSET_MARGIN = 8
INSET_FRAME = QColor(255, 255, 255, 200)
INSET_VIEW = QColor("#f1c40f")


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


class ZoomState:
    """How far in (`factor`, 1..8) and where: the shown part's top-left corner (`left`,
    `top`) in fractions of the picture. The shown part is 1/factor of the picture each way."""

    def __init__(self) -> None:
        self.factor, self.left, self.top = 1.0, 0.0, 0.0

    @property
    def zoomed(self) -> bool:
        return self.factor > 1.0 + 1e-9

    @property
    def span(self) -> float:
        """The shown part's width (and height), in fractions of the picture."""
        return 1.0 / self.factor

    def reset(self) -> None:
        self.factor, self.left, self.top = 1.0, 0.0, 0.0

    def scene_point(self, fx: float, fy: float) -> tuple[float, float]:
        """The picture point (fractions) shown at (fx, fy) of the view (fractions)."""
        return self.left + fx * self.span, self.top + fy * self.span

    def zoom_at(self, fx: float, fy: float, factor: float) -> None:
        """Zoom to `factor` (clamped to 1..MAX_FACTOR) keeping the picture point under
        (fx, fy) of the view where it is (unless that would show beyond the picture)."""
        px, py = self.scene_point(fx, fy)
        self.factor = _clamp(factor, 1.0, MAX_FACTOR)
        if abs(self.factor - round(self.factor)) < 1e-9:  # 2**0.5 four times: exactly 4
            self.factor = float(round(self.factor))
        self.left, self.top = px - fx * self.span, py - fy * self.span
        self._clamp()

    def pan(self, dx: float, dy: float) -> None:
        """Move the picture by (dx, dy) fractions of the view (a drag to the right shows
        what is to the left), clamped to the picture's edges."""
        self.left -= dx * self.span
        self.top -= dy * self.span
        self._clamp()

    def _clamp(self) -> None:
        room = 1.0 - self.span
        self.left, self.top = _clamp(self.left, 0.0, room), _clamp(self.top, 0.0, room)

    def source_rect(self, width: int, height: int) -> QRectF:
        """The shown part in a picture of `width` x `height` pixels."""
        return QRectF(self.left * width, self.top * height, self.span * width, self.span * height)


def fitted(picture_w: int, picture_h: int, box: QRect) -> QRect:
    """Where a picture is drawn in `box`: whole, undistorted, centred (the letterbox)."""
    if picture_w <= 0 or picture_h <= 0:
        return QRect(box)
    scale = min(box.width() / picture_w, box.height() / picture_h)
    target = QRect(0, 0, round(picture_w * scale), round(picture_h * scale))
    target.moveCenter(box.center())
    return target


class PictureZoom:
    """The zoom of one picture widget: its events (each returns whether it took the event),
    its painting, and `changed` called after every change of the state (repaint; a live
    tile also changes streams at 1x <-> zoomed)."""

    def __init__(self, changed: Callable[[], None]):
        self.state = ZoomState()
        self._changed = changed
        self._grab: QPointF | None = None  # where a pan's drag is now
        self.dragged = False  # the last press moved the picture (not a click)

    @property
    def zoomed(self) -> bool:
        return self.state.zoomed

    @staticmethod
    def _fractions(pos: QPointF, target: QRect) -> tuple[float, float]:
        return (_clamp((pos.x() - target.x()) / max(1, target.width()), 0.0, 1.0),
                _clamp((pos.y() - target.y()) / max(1, target.height()), 0.0, 1.0))

    def zoom_at(self, pos: QPointF, target: QRect, factor: float) -> None:
        """Zoom to `factor` around the widget point `pos` of the picture drawn in `target`."""
        before = (self.state.factor, self.state.left, self.state.top)
        self.state.zoom_at(*self._fractions(pos, target), factor)
        if (self.state.factor, self.state.left, self.state.top) != before:
            self._changed()

    def reset(self) -> None:
        if self.state.zoomed:
            self.state.reset()
            self._changed()

    # --- events ------------------------------------------------------------------------
    def wheel(self, event, target: QRect | None) -> bool:
        """A wheel turn over the picture: NOTCH_FACTOR per notch, in or out."""
        notches = event.angleDelta().y() / 120
        if target is None or not notches:
            return False
        self.zoom_at(event.position(), target, self.state.factor * NOTCH_FACTOR ** notches)
        event.accept()
        return True

    def press(self, event) -> bool:
        """A left press on a zoomed picture starts a pan (the widget's own press otherwise)."""
        self.dragged = False
        if event.button() != Qt.MouseButton.LeftButton or not self.state.zoomed:
            return False
        self._grab = event.position()
        return True

    def move(self, event, target: QRect | None) -> bool:
        if self._grab is None or target is None or not event.buttons() & Qt.MouseButton.LeftButton:
            return False
        pos = event.position()
        delta, self._grab = pos - self._grab, pos
        if delta.isNull():
            return True
        self.dragged = True
        before = (self.state.left, self.state.top)
        self.state.pan(delta.x() / max(1, target.width()), delta.y() / max(1, target.height()))
        if (self.state.left, self.state.top) != before:
            self._changed()
        return True

    def release(self, event) -> bool:
        if self._grab is None or event.button() != Qt.MouseButton.LeftButton:
            return False
        self._grab = None
        return True

    def double_click(self, event) -> bool:
        """A double-click on a zoomed picture: back to 1x (at 1x: the widget's own)."""
        if event.button() != Qt.MouseButton.LeftButton or not self.state.zoomed:
            return False
        self.reset()
        return True

    # --- painting ----------------------------------------------------------------------
    def paint(self, painter: QPainter, image: QImage, target: QRect) -> None:
        """The shown part of `image` filling `target` (smooth: it is magnified)."""
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(QRectF(target), image, self.state.source_rect(image.width(),
                                                                         image.height()))

    def inset_rect(self, area: QRect, image: QImage) -> QRect:
        """The overview's place: the bottom right corner of `area` (where the picture is
        drawn, less any bar over it), INSET_FRACTION of its width."""
        width = max(32, round(area.width() * INSET_FRACTION))
        height = max(18, round(width * image.height() / max(1, image.width())))
        return QRect(area.right() - INSET_MARGIN - width + 1,
                     area.bottom() - INSET_MARGIN - height + 1, width, height)

    def paint_inset(self, painter: QPainter, image: QImage, area: QRect) -> QRect | None:
        """While zoomed: the whole picture small in a corner of `area`, shaded but for the
        zoomed part, which is outlined."""
        if not self.state.zoomed:
            return None
        inset = self.inset_rect(area, image)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(inset, image)
        s = self.state
        view = QRectF(inset.x() + s.left * inset.width(), inset.y() + s.top * inset.height(),
                      s.span * inset.width(), s.span * inset.height())
        painter.save()
        painter.setClipRegion(QRegion(inset) - QRegion(view.toAlignedRect()))
        painter.fillRect(inset, INSET_SHADE)
        painter.restore()
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(INSET_FRAME, 1))
        painter.drawRect(inset.adjusted(0, 0, -1, -1))
        painter.setPen(QPen(INSET_VIEW, 2))
        painter.drawRect(view.adjusted(1, 1, -1, -1))
        return inset


class ZoomMouse:
    """The mouse handlers of a picture widget that zooms (mixed in before QWidget): the wheel,
    a press, a drag, its release and a double-click go to its `zoom` (a PictureZoom) first,
    and to the widget's own handling when the zoom does not take them. The widget says where
    its picture is drawn (`_target()`, None: no picture, nothing to zoom). A widget that does
    more with a press or a release (a tile that selects) overrides those two."""

    zoom: PictureZoom

    def _target(self) -> QRect | None:
        raise NotImplementedError

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if not self.zoom.wheel(event, self._target()):
            super().wheelEvent(event)  # type: ignore[misc]

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if not self.zoom.press(event):
            super().mousePressEvent(event)  # type: ignore[misc]

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if not self.zoom.move(event, self._target()):
            super().mouseMoveEvent(event)  # type: ignore[misc]

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if not self.zoom.release(event):
            super().mouseReleaseEvent(event)  # type: ignore[misc]

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if not self.zoom.double_click(event):
            super().mouseDoubleClickEvent(event)  # type: ignore[misc]
