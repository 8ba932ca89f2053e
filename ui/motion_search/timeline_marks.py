"""Motion hits as bright marks on the Recordings timeline's lanes: a layer of its own over the
timeline view (transparent to the mouse, repainted whenever the view is), so the view's
drawing and gestures stay its own and the marks follow every zoom and pan as its bars do.

A hit of a source with no lane (out of the user's scope, or deleted since) is not drawn."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from ui.motion_search.overlays import _Covering
from ui.motion_search.picking import hit_span_x
from ui.recordings.timeline_view import LABEL_W, LANE_H, RULER_H, TimelineView

HIT_COLOUR = QColor("#00e5ff")   # bright cyan: no tag, severity or bookmark uses it
HIT_EDGE = QColor("#006b7a")
HIT_INSET = 2                    # the mark stands over the lane's bar, nearly its height


class HitMarks(_Covering):
    def __init__(self, view: TimelineView):
        super().__init__(view)
        self.view = view
        self.hits: list = []  # MotionHit, as the service answered
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.show()

    def set_hits(self, hits: list) -> None:
        self.hits = list(hits)
        self.raise_()
        self.update()

    def marks(self, source_id: int) -> list[QRectF]:
        """The rectangles drawn for the hits of `source_id` now (in the view's pixels)."""
        index = next((i for i, lane in enumerate(self.view.lanes) if lane.source_id == source_id),
                     -1)
        if index < 0:
            return []
        top = RULER_H + index * LANE_H + HIT_INSET
        left, right = float(LABEL_W), float(self.view.width())
        rects = []
        for hit in self.hits:
            if hit.source_id != source_id:
                continue
            span = hit_span_x(hit.begin, hit.end, self.view.x_of, left, right)
            if span is not None:
                rects.append(QRectF(span[0], top, span[1], LANE_H - 2 * HIT_INSET))
        return rects

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt naming
        if not self.hits:
            return
        painter = QPainter(self)
        painter.setPen(QPen(HIT_EDGE, 1))
        painter.setBrush(HIT_COLOUR)
        for source_id in {hit.source_id for hit in self.hits}:
            for rect in self.marks(source_id):
                painter.drawRect(rect)
        painter.end()
