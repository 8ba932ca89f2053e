"""The timeline's drawing and gestures: a lane per source under a time ruler, records as bars
coloured by tag, the outages inside them, bookmarks as flags, the source's events as a thin
strip along the lane's foot (coloured by severity, motion in green: a lost camera is a red
stretch from its begin to its end, or to now while open; a moment a short tick), a red "now"
line, the player's position and, while the operator drags on a lane, the scrub cursor.

Gestures: hovering or dragging along a lane asks for a thumbnail of the instant under the
pointer (a drag also draws the scrub cursor there); letting go on a lane (or a plain click)
asks to play that instant; letting go off the lanes plays nothing. Panning is on the ruler
(drag it), with the middle button (drag anywhere) and with shift+wheel or a horizontal wheel;
the plain wheel zooms around the pointer (from a month across down to a few seconds); a
shift-drag selects a range, which stays until it is used (Export…), Escape or a click clears
it. `fit_range` is "zoom to fit": the view on a set of spans with a margin either side.
Plain painting over the spans it is handed
(`app.recordings.timeline.TimelineOut` per lane): reading them is .timeline's business."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.recordings.timeline import TimelineOut

LABEL_W = 120        # the sources' names, left of the lanes
RULER_H = 22
LANE_H = 30
MIN_SPAN_S = 10.0                   # zoomed in: ten seconds across
MAX_SPAN_S = 31 * 24 * 3600.0       # zoomed out: a month across
DRAG_PX = 4                         # a press that moves less is a click
WHEEL_PAN = 0.1                     # a step of shift+wheel scrolls a tenth of the view
PAN, SCRUB, SELECT = "pan", "scrub", "select"  # what a drag does
# Ruler steps, in seconds: the first one leaving at least TICK_PX between two ticks.
STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
         86400, 172800, 604800)
TICK_PX = 90
STRIP_H = 4                         # the events' strip at the foot of a lane
SEVERITY_COLOURS = {"alarm": QColor("#e53e3e"), "warning": QColor("#dd8a1e"),
                    "info": QColor("#4a90d9")}
# Kinds told apart from the others of their severity: motion (#24) is a warning, but a
# stretch of motion is what an operator scans the strip for, so it has a colour of its own.
KIND_COLOURS = {"motion": QColor("#38a169"), "constant_motion": QColor("#805ad5")}


FIT_MARGIN = 0.05                   # zoom to fit: 5 % of the span either side ...
FIT_MARGIN_MIN_S = 2.0              # ... and at least two seconds


def fit_range(spans: list[tuple[datetime, datetime]]) -> tuple[datetime, float] | None:
    """(begin, seconds across) of a view showing every span whole, with a margin of
    `FIT_MARGIN` of their extent (at least `FIT_MARGIN_MIN_S`) either side; None for no span.
    Shorter than the closest zoom: centred on them; longer than the widest: the newest end."""
    if not spans:
        return None
    first, last = min(b for b, _ in spans), max(e for _, e in spans)
    extent = max(0.0, (last - first).total_seconds())
    margin = max(FIT_MARGIN_MIN_S, extent * FIT_MARGIN)
    seconds = extent + 2 * margin
    if seconds < MIN_SPAN_S:
        middle = first + timedelta(seconds=extent / 2)
        return middle - timedelta(seconds=MIN_SPAN_S / 2), MIN_SPAN_S
    if seconds > MAX_SPAN_S:
        return last + timedelta(seconds=margin) - timedelta(seconds=MAX_SPAN_S), MAX_SPAN_S
    return first - timedelta(seconds=margin), seconds


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def tag_colour(tag: str | None) -> QColor:
    """One steady colour per tag name (the same in every lane and every session)."""
    digest = hashlib.blake2s((tag or "").encode(), digest_size=2).digest()
    return QColor.fromHsv(int.from_bytes(digest, "big") % 360, 150, 205)


@dataclass
class Lane:
    source_id: int
    name: str
    spans: TimelineOut | None = None


class TimelineView(QWidget):
    view_changed = Signal()                          # zoomed or panned: read the spans again
    clicked = Signal(int, object)                    # play: source id, instant (aware datetime)
    hovered = Signal(int, object, QPointF)           # a thumbnail: source id, instant, where
    hover_left = Signal()
    range_selected = Signal(list, object, object)    # source ids, begin, end
    context_requested = Signal(int, object, object)  # source id, instant, global position

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.lanes: list[Lane] = []
        self.span_s = 3600.0
        self.begin = datetime.now(timezone.utc) - timedelta(seconds=self.span_s * 0.9)
        self.now: datetime | None = None
        self.playhead: datetime | None = None
        self.scrub: datetime | None = None  # the instant under a drag along a lane
        self.selection: tuple[datetime, datetime, int, int] | None = None  # begin, end, lanes
        self._press: tuple[QPointF, datetime, str, Qt.MouseButton] | None = None
        # ... where it began, `begin` then, PAN/SCRUB/SELECT, the button held
        self._moved = False
        self.setMouseTracking(True)
        self.setMinimumHeight(RULER_H + 2 * LANE_H)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.DefaultContextMenu)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # F (zoom to fit), Escape

    # --- geometry --------------------------------------------------------------------
    @property
    def end(self) -> datetime:
        return self.begin + timedelta(seconds=self.span_s)

    def lanes_width(self) -> float:
        return max(1.0, self.width() - LABEL_W)

    def x_of(self, moment: datetime) -> float:
        return LABEL_W + (moment - self.begin).total_seconds() / self.span_s * self.lanes_width()

    def time_at(self, x: float) -> datetime:
        return self.begin + timedelta(seconds=(x - LABEL_W) / self.lanes_width() * self.span_s)

    def lane_at(self, y: float) -> int:
        index = int((y - RULER_H) // LANE_H)
        return index if y >= RULER_H and 0 <= index < len(self.lanes) else -1

    def sizeHint(self):  # noqa: N802 - Qt naming
        size = super().sizeHint()
        size.setHeight(RULER_H + LANE_H * max(2, len(self.lanes)) + 2)
        return size

    # --- what is shown ---------------------------------------------------------------
    def set_lanes(self, lanes: list[Lane]) -> None:
        self.lanes = lanes
        self.setMinimumHeight(RULER_H + LANE_H * max(2, min(len(lanes), 6)) + 2)
        self.updateGeometry()
        self.update()

    def show_range(self, begin: datetime, span_s: float) -> None:
        self.span_s = min(MAX_SPAN_S, max(MIN_SPAN_S, span_s))
        self.begin = begin
        self.update()
        self.view_changed.emit()

    def clear_selection(self) -> None:
        """The selected range has been used (or the operator let it go): no longer drawn."""
        if self.selection is not None:
            self.selection = None
            self.update()

    def zoom(self, factor: float, at_x: float | None = None) -> None:
        """`factor` < 1 zooms in; the instant under `at_x` (default: the middle) stays put."""
        x = LABEL_W + self.lanes_width() / 2 if at_x is None else at_x
        anchor = self.time_at(x)
        span = min(MAX_SPAN_S, max(MIN_SPAN_S, self.span_s * factor))
        fraction = (x - LABEL_W) / self.lanes_width()
        self.show_range(anchor - timedelta(seconds=span * fraction), span)

    # --- gestures --------------------------------------------------------------------
    def pan_by(self, fraction: float) -> None:
        """Move the view by `fraction` of its span (positive: later), keeping the zoom."""
        self.show_range(self.begin + timedelta(seconds=self.span_s * fraction), self.span_s)

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt naming
        delta = event.angleDelta()
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        # A horizontal wheel, or shift+wheel (which some platforms turn into a horizontal
        # one themselves), scrolls in time; forward/left is earlier, as in a scroll bar.
        across = delta.x() or (delta.y() if shift else 0)
        if across:
            self.pan_by(-across / 120 * WHEEL_PAN)
        elif delta.y():
            self.zoom(0.8 ** (delta.y() / 120), event.position().x())
        event.accept()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt naming
        pos, button = event.position(), event.button()
        if self._press is not None:
            return  # one gesture at a time
        if button == Qt.MouseButton.MiddleButton:
            mode = PAN
        elif button != Qt.MouseButton.LeftButton or pos.x() < LABEL_W:
            return
        elif event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            mode = SELECT
        else:
            mode = PAN if pos.y() < RULER_H else SCRUB
        self._press, self._moved = (pos, self.begin, mode, button), False
        if mode == SELECT:
            lane = max(0, self.lane_at(pos.y()))
            at = self.time_at(pos.x())
            self.selection = (at, at, lane, lane)
        elif mode == PAN:
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            self.hover_left.emit()
        else:
            self._scrub_to(pos)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt naming
        pos = event.position()
        if self._press is None:
            self._hover(pos)
            return
        start, begin_then, mode, _ = self._press
        if abs(pos.x() - start.x()) + abs(pos.y() - start.y()) >= DRAG_PX:
            self._moved = True
        if mode == SELECT and self.selection is not None:
            first, _, lane0, _ = self.selection
            lane = self.lane_at(pos.y())
            self.selection = (first, self.time_at(pos.x()), lane0,
                              lane if lane >= 0 else self.selection[3])
            self.update()
        elif mode == PAN and self._moved:
            shift_s = (pos.x() - start.x()) / self.lanes_width() * self.span_s
            self.begin = begin_then - timedelta(seconds=shift_s)
            self.update()
            self.view_changed.emit()
        elif mode == SCRUB:
            self._scrub_to(pos)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if self._press is None or event.button() != self._press[3]:
            return
        mode, pos = self._press[2], event.position()
        self._press = None
        if mode == PAN:
            self._hover(pos)
            return
        if mode == SELECT and self.selection is not None and self._moved:
            first, last, lane0, lane1 = self.selection
            begin, end = min(first, last), max(first, last)
            low, high = min(lane0, lane1), max(lane0, lane1)
            ids = [lane.source_id for lane in self.lanes[low:high + 1]]
            if ids and end > begin:
                self.range_selected.emit(ids, begin, end)
            return
        self.selection = self.scrub = None
        self.update()
        lane = self._lane_under(pos)
        if lane >= 0:  # a click, or the end of a scrub: play there (off the lanes: nothing)
            self.clicked.emit(self.lanes[lane].source_id, self.time_at(pos.x()))

    def _lane_under(self, pos: QPointF) -> int:
        """The lane under `pos`, -1 off the lanes (the ruler, the names, past either end)."""
        return self.lane_at(pos.y()) if LABEL_W <= pos.x() <= self.width() else -1

    def _hover(self, pos: QPointF) -> None:
        lane = self._lane_under(pos)
        if lane >= 0:
            self.hovered.emit(self.lanes[lane].source_id, self.time_at(pos.x()), pos)
        else:
            self.hover_left.emit()
        on_ruler = pos.y() < RULER_H and pos.x() >= LABEL_W
        self.setCursor(Qt.CursorShape.OpenHandCursor if on_ruler else Qt.CursorShape.ArrowCursor)

    def _scrub_to(self, pos: QPointF) -> None:
        """The scrub cursor under the pointer and a thumbnail of that instant; off the lanes,
        neither (letting go there plays nothing)."""
        lane = self._lane_under(pos)
        self.scrub = self.time_at(pos.x()) if lane >= 0 else None
        if self.scrub is not None:
            self.hovered.emit(self.lanes[lane].source_id, self.scrub, pos)
        else:
            self.hover_left.emit()
        self.update()

    def leaveEvent(self, _event) -> None:  # noqa: N802 - Qt naming
        self.hover_left.emit()

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - Qt naming
        lane = self.lane_at(event.pos().y())
        if lane >= 0 and event.pos().x() >= LABEL_W:
            self.context_requested.emit(self.lanes[lane].source_id,
                                        self.time_at(event.pos().x()), event.globalPos())

    # --- painting --------------------------------------------------------------------
    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt naming
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        self._paint_ruler(painter)
        for index, lane in enumerate(self.lanes):
            self._paint_lane(painter, index, lane)
        self._paint_lines(painter)
        painter.end()

    def _paint_ruler(self, painter: QPainter) -> None:
        step = next((s for s in STEPS if s / self.span_s * self.lanes_width() >= TICK_PX), STEPS[-1])
        local = self.begin.astimezone()
        offset = local.utcoffset().total_seconds() if local.utcoffset() else 0.0
        first = (int((self.begin.timestamp() + offset) // step) + 1) * step - offset
        painter.setPen(self.palette().color(self.foregroundRole()))
        small = QFont(self.font())
        small.setPointSizeF(max(6.0, small.pointSizeF() * 0.85))
        painter.setFont(small)
        fmt = "%H:%M:%S" if step < 60 else ("%H:%M" if step < 86400 else "%a %d %b")
        if step < 86400 and self.span_s > 20 * 3600:
            fmt = "%d %b %H:%M"
        tick = first
        grid = QColor(128, 128, 128, 60)
        while tick < self.end.timestamp():
            moment = datetime.fromtimestamp(tick, timezone.utc)
            x = self.x_of(moment)
            painter.setPen(grid)
            painter.drawLine(QPointF(x, RULER_H - 5), QPointF(x, self.height()))
            painter.setPen(self.palette().color(self.foregroundRole()))
            painter.drawText(QPointF(x + 3, RULER_H - 7), moment.astimezone().strftime(fmt))
            tick += step

    def _paint_lane(self, painter: QPainter, index: int, lane: Lane) -> None:
        top = RULER_H + index * LANE_H
        if index % 2:
            painter.fillRect(QRectF(0, top, self.width(), LANE_H), self.palette().alternateBase())
        painter.setPen(self.palette().color(self.foregroundRole()))
        name = painter.fontMetrics().elidedText(lane.name, Qt.TextElideMode.ElideRight, LABEL_W - 10)
        painter.drawText(QRectF(6, top, LABEL_W - 8, LANE_H), Qt.AlignmentFlag.AlignVCenter, name)
        spans = lane.spans
        if spans is None:
            return
        left, right = float(LABEL_W), float(self.width())
        bar_top, bar_h = top + 5, LANE_H - 10
        painter.setPen(Qt.PenStyle.NoPen)
        for record in spans.records:
            x0 = max(left, self.x_of(parse_utc(record.begin_utc)))
            x1 = min(right, self.x_of(parse_utc(record.end_utc)))
            if x1 < left or x0 > right:
                continue
            colour = QColor("#8a8f96") if record.status == "deleted" else tag_colour(record.tag_name)
            painter.setBrush(colour)
            painter.drawRect(QRectF(x0, bar_top, max(1.5, x1 - x0), bar_h))
            if record.protected:
                painter.setBrush(colour.darker(160))
                painter.drawRect(QRectF(x0, bar_top + bar_h - 3, max(1.5, x1 - x0), 3))
        painter.setBrush(QColor(20, 20, 20, 170))
        for gap in spans.gaps:
            x0 = max(left, self.x_of(parse_utc(gap.begin_utc)))
            x1 = min(right, self.x_of(parse_utc(gap.end_utc)))
            if x1 >= left and x0 <= right:
                painter.drawRect(QRectF(x0, bar_top, max(1.5, x1 - x0), bar_h))
        painter.setBrush(QColor("#f6c344"))
        painter.setPen(QPen(QColor("#b7791f"), 1))
        for mark in spans.bookmarks:
            x = self.x_of(parse_utc(mark.time_utc))
            if left <= x <= right:
                painter.drawLine(QPointF(x, top + 2), QPointF(x, top + LANE_H - 2))
                painter.drawPolygon(QPolygonF([QPointF(x, top + 1), QPointF(x + 8, top + 5),
                                               QPointF(x, top + 9)]))
        self._paint_events(painter, index)

    def event_marks(self, index: int) -> list[tuple[QRectF, str]]:
        """The events' strip of lane `index`: (rectangle, severity) for each event in view,
        oldest first, the alarms last so that nothing hides them."""
        return [(rect, severity) for rect, severity, _colour in self._event_marks(index)]

    def _event_marks(self, index: int) -> list[tuple[QRectF, str, QColor]]:
        """`event_marks` with the colour each is painted in: its kind's, else its severity's."""
        spans = self.lanes[index].spans
        if spans is None:
            return []
        left, right = float(LABEL_W), float(self.width())
        top = RULER_H + (index + 1) * LANE_H - STRIP_H - 1
        marks = []
        for event in spans.events:
            end = parse_utc(event.end) if event.end else (self.now or parse_utc(spans.now_utc))
            x0 = max(left, self.x_of(parse_utc(event.begin)))
            x1 = min(right, self.x_of(end))
            if x1 >= left and x0 <= right:
                severity = str(event.severity)
                colour = KIND_COLOURS.get(event.kind) or SEVERITY_COLOURS.get(
                    severity, SEVERITY_COLOURS["info"])
                marks.append((QRectF(x0, top, max(2.0, x1 - x0), STRIP_H), severity, colour))
        return sorted(marks, key=lambda mark: mark[1] == "alarm")

    def _paint_events(self, painter: QPainter, index: int) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        for rect, _severity, colour in self._event_marks(index):
            painter.setBrush(colour)
            painter.drawRect(rect)

    def _paint_lines(self, painter: QPainter) -> None:
        bottom = RULER_H + LANE_H * len(self.lanes)
        if self.selection is not None:
            first, last, lane0, lane1 = self.selection
            x0, x1 = sorted((self.x_of(first), self.x_of(last)))
            low, high = min(lane0, lane1), max(lane0, lane1)
            painter.fillRect(QRectF(x0, RULER_H + low * LANE_H, x1 - x0, (high - low + 1) * LANE_H),
                             QColor(74, 144, 217, 70))
        for moment, colour in ((self.now, "#e53e3e"), (self.playhead, "#2b6cb0"),
                               (self.scrub, "#dd6b20")):
            if moment is not None and LABEL_W <= self.x_of(moment) <= self.width():
                x = self.x_of(moment)
                painter.setPen(QPen(QColor(colour), 2))
                painter.drawLine(QPointF(x, RULER_H - 4), QPointF(x, bottom))
