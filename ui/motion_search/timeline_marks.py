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
MERGE_PX = 1.0                   # marks this close are drawn as one


class HitMarks(_Covering):
    def __init__(self, view: TimelineView):
        super().__init__(view)
        self.view = view
        self.hits: list = []  # MotionHit, as the service answered
        self._by_source: dict[int, list] = {}  # source id -> its hits, by begin
        self._cached: tuple[tuple, dict[int, list[QRectF]]] | None = None  # per view geometry
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.show()

    def set_hits(self, hits: list) -> None:
        self.hits = list(hits)
        self._by_source = {}
        for hit in sorted(self.hits, key=lambda h: h.begin):
            self._by_source.setdefault(hit.source_id, []).append(hit)
        self._cached = None
        self.raise_()
        self.update()

    def marks(self, source_id: int) -> list[QRectF]:
        """The rectangles drawn for the hits of `source_id` now (in the view's pixels),
        worked out again only when the view moved (the timeline repaints every second)."""
        view = self.view
        key = (view.begin, view.span_s, view.width(), tuple(lane.source_id for lane in view.lanes))
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, {})
        known = self._cached[1]
        if source_id not in known:
            known[source_id] = self._marks(source_id)
        return known[source_id]

    def _marks(self, source_id: int) -> list[QRectF]:
        index = next((i for i, lane in enumerate(self.view.lanes) if lane.source_id == source_id),
                     -1)
        if index < 0:
            return []
        top = RULER_H + index * LANE_H + HIT_INSET
        left, right = float(LABEL_W), float(self.view.width())
        spans: list[list[float]] = []
        for hit in self._by_source.get(source_id, ()):
            span = hit_span_x(hit.begin, hit.end, self.view.x_of, left, right)
            if span is None:
                continue
            if spans and span[0] <= spans[-1][1] + MERGE_PX:
                # hits closer than a pixel apart in this zoom are one mark: a week of a
                # busy camera is thousands of hits, painted again at every repaint
                spans[-1][1] = max(spans[-1][1], span[0] + span[1])
            else:
                spans.append([span[0], span[0] + span[1]])
        return [QRectF(x0, top, x1 - x0, LANE_H - 2 * HIT_INSET) for x0, x1 in spans]

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt naming
        if not self.hits:
            return
        painter = QPainter(self)
        painter.setPen(QPen(HIT_EDGE, 1))
        painter.setBrush(HIT_COLOUR)
        for source_id in self._by_source:
            for rect in self.marks(source_id):
                painter.drawRect(rect)
        painter.end()
