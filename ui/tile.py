"""A camera tile: the live picture of one source, its name, status and fps, a REC badge
that also says when a recording is paused or its audio muted (by whichever front end).

The tile takes the newest frame from the source's slot when the wall's frame clock ticks
(`pull_frame`), so the recorder never waits for the GUI and a busy GUI simply skips frames.
The decoder's pictures are BGRX, Qt's RGB32: a tile paints them from the frame's memory,
scaled as it draws (no copy, no conversion, no separate scaling pass), and its name bar and
REC badge come from a cached pixmap. Once a second it reads the source's live stats (status,
last error, next retry) from memory.

Its rate says what the operator sees, not what the camera sends: the pictures painted in the
last second (a grid tile on its main stream's keyframes says "keyframes only"). A lost camera
(an open `camera_lost` event, told by the window through `set_lost`) dims the last picture
under a red banner "Camera lost · 0:12" counting from the event's begin, and turns the REC
badge amber ("REC · no signal") while the source records; `set_lost(None)` when it is back.

A source with a preview stream (a camera's sub-stream) has two slots. In the grid the tile
shows the preview, every frame (small pictures are cheap to decode and scale), and asks the
main stream for nothing; focused, it asks the main stream for every frame and the preview
for nothing, keeping the last preview picture up until the main's first one arrives (at
once: the recorder primes a new viewer with the newest keyframe group). A preview that has
shown nothing for `PREVIEW_STALE_S` (its stream is down) yields to the main stream's
keyframes, as a tile without a preview shows, until it plays again.

A resting tile (its wall "updates on motion" and its source has none: `set_resting`) asks
its slots for nothing, so the decoder makes no pictures for it (it still decodes for the
motion analyser), takes none, and shows its last picture with a "no motion" mark until
its source moves again.

Digital zoom (#27 item 3, `ui.zoom`): the wheel over the picture zooms around the pointer up
to 8x, a left drag pans, a double-click on a zoomed tile goes back to 1x (on a tile at 1x it
maximises the tile, as before); an overview inset in the picture's bottom right corner shows
where the zoomed part is. A zoomed tile asks for what a maximised one does, every picture of
its main stream, at its size times the zoom (real detail, not the preview's pixels
magnified), and goes back to the preview at 1x; it never rests while zoomed. While zoomed a
click selects on release, so the press that starts a pan is not a click.
"""

from __future__ import annotations

import time
from typing import Callable

from PySide6.QtCore import QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPen, QPixmap, QRegion
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.live import Demand, FrameSlot, LiveStats
from app.schemas import SourceStatus
from ui.wall_cells import DragStart, dropped
from ui.zoom import PictureZoom

STATUS_COLOURS = {SourceStatus.online: "#2ecc71", SourceStatus.connecting: "#f1c40f",
                  SourceStatus.offline: "#95a5a6", SourceStatus.error: "#e74c3c"}
StatsProvider = Callable[[int], LiveStats]
BACKGROUND = QColor("#111418")
PREVIEW_STALE_S = 3.0  # a preview this long without a new picture: show the main stream
LOST_RED = QColor(197, 48, 48, 235)
NO_SIGNAL_AMBER = QColor(214, 140, 30, 235)
RESTING_GREY = QColor(40, 46, 54, 210)
REC_RED = QColor(200, 30, 30, 220)
DIMMED = QColor(0, 0, 0, 150)  # over a lost camera's last picture


def clock_text(seconds: float) -> str:
    """0:12, 12:04, 1:02:03: how long, as a counting clock shows it."""
    whole = max(0, int(seconds))
    hours, minutes, secs = whole // 3600, whole // 60 % 60, whole % 60
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def status_text(stats: LiveStats, now: float | None = None, *, shown_fps: float | None = None,
                keyframes_only: bool = False) -> str:
    """What the tile says about its source: 'online · 25 fps' (the pictures it showed in the
    last second when `shown_fps` is given, else the source's rate), 'online · 1 fps ·
    keyframes only', 'connecting · retry in 4 s'."""
    if stats.status == SourceStatus.online:
        fps = stats.fps if shown_fps is None else shown_fps
        text = f"online · {fps:.0f} fps" if fps else "online"
        return f"{text} · keyframes only" if keyframes_only else text
    if stats.retry_at is not None:
        wait = max(0, round(stats.retry_at - (now or time.time())))
        return f"{stats.status} · retry in {wait} s"
    return stats.status


class CameraTile(QWidget):
    clicked = Signal(int, bool)    # source id, ctrl held (add to the selection)
    double_clicked = Signal(int)
    menu_requested = Signal(int, QPoint)  # source id, where (global): the tile's context menu
    # a source dropped on this tile's cell of a layout: cell, source id, the cell it left
    source_dropped = Signal(int, int, object)

    def __init__(self, source_id: int, name: str, slot: FrameSlot | None, *,
                 preview: FrameSlot | None = None,
                 demand: Demand = Demand.KEYFRAMES, stats: StatsProvider | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.source_id, self.name = source_id, name
        self.status, self.error = SourceStatus.connecting, ""
        self.stats = LiveStats(SourceStatus.connecting, None, None, 0.0)
        self._stats_provider = stats
        self.selected = False
        self.recording_tags: set[str] = set()
        # tag -> its recording's controls that are on ("muted", "paused"); and which of them
        # an event has told, so a slower read of the state at start never undoes an event
        self.recording_flags: dict[str, set[str]] = {}
        self._flags_told: set[tuple[str, str]] = set()
        self.recording_since: float | None = None
        self.image: QImage | None = None
        self._scaled: QImage | None = None  # a picture shrunk more than 2x, scaled once
        self._scaled_for = None
        self._overlay: QPixmap | None = None
        self._overlay_key: tuple | None = None
        self._painted_second = -1
        self.frame_seq = 0
        self.stream_size: tuple[int, int] | None = None  # the shown stream's pictures (w, h)
        self.frames_shown = 0  # pictures taken from a slot so far (the GUI benchmark's rate)
        self.frames_painted = 0  # new pictures painted so far: the rate label counts these
        self._painted_seq = -1
        self.shown_fps = 0.0  # pictures painted per second, over the last second
        self._rate_from = (time.monotonic(), 0)  # (when, frames_painted then)
        self.lost_since: float | None = None  # wall time an open camera_lost event began
        self._lost_second = -1
        self.lost_banner: QRect | None = None  # where the banner was painted last
        self.demand = demand
        self.resting = False  # "update on motion" and no motion: no pictures asked or taken
        self._rest_wanted = False  # resting as soon as there is a picture to rest on
        self.slot: FrameSlot | None = None     # the main stream's
        self.preview: FrameSlot | None = None  # the preview stream's, if the source has one
        self.shown: FrameSlot | None = None    # the one pictures are taken from now
        self._tokens: dict[int, int] = {}      # id(slot) -> its watch token
        self._preview_since = time.monotonic()
        self._preview_stalled = False
        self.zoom = PictureZoom(self._zoom_changed)
        self._was_zoomed = False
        self.set_slots(slot, preview)
        self.setMinimumSize(160, 90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setToolTip(name)
        self.cell: int | None = None  # its cell in the wall's layout (None: automatic grid)
        self._drag = DragStart()
        self.setAcceptDrops(True)
        self._stats_timer = QTimer(self)
        self._stats_timer.timeout.connect(self.refresh_stats)
        self._stats_timer.start(1000)
        self.refresh_stats()

    # --- state from the window -------------------------------------------------------
    def set_slots(self, slot: FrameSlot | None, preview: FrameSlot | None = None) -> None:
        """The source's slots (again: its reader restarted, its preview stream changed)."""
        preview = preview if preview is not slot else None
        if (slot, preview) == (self.slot, self.preview):
            return
        self._unwatch()
        self.slot, self.preview = slot, preview
        for watched in (slot, preview):
            if watched is not None:
                self._tokens[id(watched)] = watched.watch(Demand.NONE)
        self._preview_since, self._preview_stalled = time.monotonic(), False
        self.shown = None
        self.set_demand(self.demand)

    def set_demand(self, demand: Demand) -> None:
        """What the wall wants of this tile: keyframes in the grid, every frame focused,
        nothing hidden; with a preview stream, the grid's is the preview's every frame."""
        if self.preview is not None and demand is Demand.KEYFRAMES and self.demand is not demand:
            self._preview_since, self._preview_stalled = time.monotonic(), False  # back to the grid
        self.demand = demand
        demand = self.wanted_demand
        main, preview, shown = demand, Demand.NONE, self.slot
        if self.preview is not None and demand is Demand.KEYFRAMES:
            preview = Demand.ALL  # watched while stalled too, to see it play again
            if not self._preview_stalled:
                main, shown = Demand.NONE, self.preview
        if self.resting:
            main = preview = Demand.NONE  # the decoder makes no pictures for a resting tile
        self._ask(self.slot, main)
        self._ask(self.preview, preview)
        if shown is not self.shown:
            # only pictures newer than the switch: the last one shown stays up until then
            self.shown = shown
            frame = shown.latest() if shown is not None else None
            self.frame_seq = frame.seq if frame is not None and self.image is not None else 0

    @property
    def wanted_demand(self) -> Demand:
        """What the tile asks its streams for: the wall's wish, or every picture of the main
        stream while zoomed (as a maximised tile) unless hidden."""
        if self.zoom.zoomed and self.demand is not Demand.NONE:
            return Demand.ALL
        return self.demand

    def _ask(self, slot: FrameSlot | None, demand: Demand) -> None:
        """Ask `slot` for `demand`, at the tile's size in device pixels (times the zoom: the
        zoomed part fills the tile): the decoder then makes pictures that size (scaled with
        the colour conversion, off the GUI thread)."""
        if slot is not None and id(slot) in self._tokens:
            ratio = self.devicePixelRatioF() * self.zoom.state.factor
            box = (max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio)))
            slot.change(self._tokens[id(slot)], demand, box)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.set_demand(self.demand)  # the same demand, at the new size
        super().resizeEvent(event)

    def set_resting(self, resting: bool) -> None:
        """Rest (ask for and paint no pictures, the last one stays up marked "no motion")
        or wake (ask again; the preview gets its time to play before it counts as down).
        A tile with no picture yet takes one first, so a resting wall shows every camera."""
        self._rest_wanted = resting
        resting = resting and self.image is not None and not self.zoom.zoomed
        if resting == self.resting:
            return
        self.resting = resting
        if not resting:
            self._preview_since = time.monotonic()
        self.set_demand(self.demand)
        self.update()

    def _check_preview(self) -> None:
        """A grid tile whose preview stream shows nothing falls back to the main stream."""
        if self.preview is None or self.wanted_demand is not Demand.KEYFRAMES or self.resting:
            return
        frame = self.preview.latest()
        stalled = (time.monotonic() - self._preview_since > PREVIEW_STALE_S
                   and (frame is None or time.time() - frame.wall_time > PREVIEW_STALE_S))
        if stalled != self._preview_stalled:
            self._preview_stalled = stalled
            self.set_demand(self.demand)

    def set_name(self, name: str) -> None:
        self.name = name
        self.setToolTip(name)
        self.update()

    def set_status(self, status: str, error: str = "") -> None:
        self.status, self.error = status, error
        self.refresh_stats()

    def set_selected(self, selected: bool) -> None:
        self.selected = selected
        self.update()

    def set_recording(self, tag: str, on: bool) -> None:
        if on:
            self.recording_tags.add(tag)
            self.recording_since = self.recording_since or time.monotonic()
        else:
            self.recording_tags.discard(tag)
            self.recording_flags.pop(tag, None)
            self._flags_told = {told for told in self._flags_told if told[0] != tag}
            if not self.recording_tags:
                self.recording_since = None
        self.update()

    def set_recording_flag(self, tag: str, flag: str, on: bool, *, initial: bool = False) -> None:
        """`flag` ("muted" or "paused") of the recording under `tag` turned on or off. An
        `initial` value (read once when the recording started: Device Connect can start one
        muted, which no event reports) yields to any event that came first."""
        if tag not in self.recording_tags or (initial and (tag, flag) in self._flags_told):
            return
        if not initial:
            self._flags_told.add((tag, flag))
        flags = self.recording_flags.setdefault(tag, set())
        if on:
            flags.add(flag)
        else:
            flags.discard(flag)
        self.update()

    def set_lost(self, since: float | None) -> None:
        """The camera is lost since `since` (wall time: its camera_lost event's begin), or
        back (`None`)."""
        if since != self.lost_since:
            self.lost_since = since
            self.update()

    @property
    def keyframes_only(self) -> bool:
        """A grid tile showing its main stream, which it asks for keyframes only."""
        return (self.wanted_demand is Demand.KEYFRAMES and self.shown is not None
                and self.shown is self.slot)

    def badge_text(self, elapsed_s: int) -> str:
        """'● REC 0:01:05  meeting (muted), lobby': the REC badge's words; '● REC · no
        signal 0:01:05  meeting' while the camera is lost."""
        shown = []
        for tag in sorted(self.recording_tags):
            flags = sorted(self.recording_flags.get(tag, ()))
            shown.append(f"{tag} ({', '.join(flags)})" if flags else tag)
        tags = ", ".join(shown)
        lost = " · no signal" if self.lost_since is not None else ""
        return (f"● REC{lost} {elapsed_s // 3600:d}:{elapsed_s // 60 % 60:02d}:{elapsed_s % 60:02d}  "
                f"{tags}")

    def refresh_stats(self) -> None:
        self._check_preview()
        self._measure_rate()
        if self._stats_provider is not None:
            try:
                self.stats = self._stats_provider(self.source_id)
            except Exception:  # noqa: BLE001 - a deleted source: keep the last known state
                return
            self.status, self.error = self.stats.status, self.stats.error or ""
        else:
            self.stats = LiveStats(self.status, self.error or None, None, 0.0)
        self.update()

    def _measure_rate(self) -> None:
        """Pictures painted per second since the last measure (about a second ago)."""
        now = time.monotonic()
        since, painted = self._rate_from
        if now - since >= 0.5:
            self.shown_fps = (self.frames_painted - painted) / (now - since)
            self._rate_from = (now, self.frames_painted)

    def rate_text(self) -> str:
        return status_text(self.stats, shown_fps=self.shown_fps,
                           keyframes_only=self.keyframes_only)

    def set_still(self, image: QImage) -> None:
        """The camera's snapshot, shown until the first frame arrives (which replaces it)."""
        if self.image is None and not image.isNull():
            self.image = image
            self._scaled = None
            self.update()

    # --- painting ------------------------------------------------------------------
    def pull_frame(self) -> None:
        """Take the slot's newest picture if it is new (the wall's frame clock calls this for
        every shown tile at once, so the tiles with a new picture repaint in one pass)."""
        frame = self.shown.latest() if self.shown is not None and not self.resting else None
        if frame is not None and frame.seq != self.frame_seq:
            self.frame_seq = frame.seq
            self.frames_shown += 1
            pixels = frame.pixels
            h, w, depth = pixels.shape
            self.stream_size = frame.full_size or (w, h)  # the picture may be made smaller
            # the decoder's BGRX is Qt's RGB32: painted from the frame's own memory, no copy
            # (the QImage holds a reference to the buffer; the decoder never writes to it again)
            fmt = QImage.Format.Format_RGB32 if depth == 4 else QImage.Format.Format_RGB888
            self.image = QImage(pixels.data, w, h, pixels.strides[0], fmt)
            self._scaled = None
            self.update()
            if self._rest_wanted and not self.resting:
                self.set_resting(True)  # the picture it was waiting for to rest on
        elif self.recording_since is not None:
            second = int(time.monotonic() - self.recording_since)
            if second != self._painted_second:  # the REC clock moves once a second
                self.update()
        if self.lost_since is not None and int(time.time() - self.lost_since) != self._lost_second:
            self.update()  # the lost banner's clock too

    def _target(self) -> QRect:
        size = self.image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(self.rect().center())
        return target

    def _paint_picture(self, painter: QPainter, target: QRect) -> None:
        """Down to half its size a picture is drawn scaled as it is painted (bilinear, about
        a blit's cost: the wall's preview tiles); smaller than that, bilinear would alias,
        so it is smooth-scaled once per picture (a main stream's keyframe in a small tile).
        Zoomed: the zoomed part, magnified."""
        if self.zoom.zoomed:
            self.zoom.paint(painter, self.image, target)
            return
        if target.width() * 2 >= self.image.width():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(target, self.image)
            return
        if self._scaled is None or self._scaled_for != target.size():
            self._scaled = self.image.scaled(target.size(), Qt.AspectRatioMode.IgnoreAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation)
            self._scaled_for = target.size()
        painter.drawImage(target.topLeft(), self._scaled)

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt naming
        painter = QPainter(self)
        if self.image is None:
            painter.fillRect(self.rect(), BACKGROUND)
        else:
            target = self._target()
            # only the bands beside the picture: Qt fills a tile-sized rectangle on helper
            # threads, a cost paid 400 times a second for a wall of 16 previews
            for band in (QRegion(self.rect()) - QRegion(target)):
                painter.fillRect(band, BACKGROUND)
            self._paint_picture(painter, target)
            if self.frame_seq != self._painted_seq:
                self._painted_seq = self.frame_seq
                self.frames_painted += 1
            self.zoom.paint_inset(painter, self.image, target)
            if self.lost_since is not None:
                painter.fillRect(target, DIMMED)
        if self.resting and self.lost_since is None:
            self._paint_resting_mark(painter)
        if self.lost_since is not None:
            self._paint_lost_banner(painter)
        elif self.status != SourceStatus.online or self.image is None:
            painter.setPen(QColor("#c0c6cc"))
            online = self.status == SourceStatus.online
            message = self.error or ("waiting for picture…" if online else self.status + "…")
            painter.drawText(self.rect().adjusted(12, 30, -12, -12),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, message)
        painter.drawPixmap(0, 0, self._overlay_pixmap())
        if self.selected:
            painter.setPen(QPen(QColor("#4a90d9"), 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self.rect().adjusted(1, 1, -2, -2))
        painter.end()

    def _paint_lost_banner(self, painter: QPainter) -> None:
        """'Camera lost · 0:12' in red across the middle of the tile, counting."""
        self._lost_second = int(time.time() - self.lost_since)
        text = f"Camera lost · {clock_text(self._lost_second)}"
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.3)
        painter.setFont(font)
        width = min(self.width() - 16, painter.fontMetrics().horizontalAdvance(text) + 32)
        banner = QRect(0, 0, width, painter.fontMetrics().height() + 14)
        banner.moveCenter(self.rect().center())
        self.lost_banner = banner
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(LOST_RED)
        painter.drawRoundedRect(banner, 5, 5)
        painter.setPen(QColor("white"))
        painter.drawText(banner, Qt.AlignmentFlag.AlignCenter, text)
        painter.setFont(self.font())

    def _paint_resting_mark(self, painter: QPainter) -> None:
        """'no motion' in a grey pill at the tile's foot: the picture above is a still."""
        text = "no motion"
        width = painter.fontMetrics().horizontalAdvance(text) + 20
        mark = QRect(8, self.height() - painter.fontMetrics().height() - 18, width,
                     painter.fontMetrics().height() + 8)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(RESTING_GREY)
        painter.drawRoundedRect(mark, 4, 4)
        painter.setPen(QColor("#d5dbe1"))
        painter.drawText(mark, Qt.AlignmentFlag.AlignCenter, text)

    def _overlay_pixmap(self) -> QPixmap:
        """The name bar and the REC badge, drawn again only when their words change (once a
        second while recording), not for each of the 25 pictures a second a tile shows."""
        badge = None
        if self.recording_since is not None:
            elapsed = int(time.monotonic() - self.recording_since)
            self._painted_second = elapsed
            badge = self.badge_text(elapsed)
        ratio = self.devicePixelRatioF()
        key = (self.width(), ratio, self.name, self.status, self.rate_text(), badge)
        if key != self._overlay_key:
            height = 56 if badge is not None else 24
            pixmap = QPixmap(round(self.width() * ratio), round(height * ratio))
            pixmap.setDevicePixelRatio(ratio)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setFont(self.font())
            self._paint_overlay(painter, key[4], badge)
            painter.end()
            self._overlay, self._overlay_key = pixmap, key
        return self._overlay

    def _paint_overlay(self, painter: QPainter, state: str, badge: str | None) -> None:
        bar = QRect(0, 0, self.width(), 24)
        painter.fillRect(bar, QColor(0, 0, 0, 150))
        painter.setBrush(QColor(STATUS_COLOURS.get(self.status, "#95a5a6")))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawEllipse(8, 7, 10, 10)
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        # A small tile (a layout's small cells) keeps the camera's name readable: the state
        # gives way first, elided, down to what the name leaves of the bar.
        metrics = painter.fontMetrics()
        room = max(0, self.width() - 24 - 8 - 10)
        name_wants = min(metrics.horizontalAdvance(self.name), int(room * 0.55))
        state = metrics.elidedText(state, Qt.TextElideMode.ElideRight, max(0, room - name_wants))
        state_width = metrics.horizontalAdvance(state) + 10
        painter.drawText(bar.adjusted(24, 0, -state_width - 8, 0),
                         Qt.AlignmentFlag.AlignVCenter, metrics.elidedText(
                             self.name, Qt.TextElideMode.ElideRight, max(20, room + 10 - state_width)))
        painter.setPen(QColor("#d5dbe1"))
        painter.drawText(bar.adjusted(0, 0, -8, 0),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, state)
        if badge is not None:
            text = painter.fontMetrics().elidedText(badge, Qt.TextElideMode.ElideRight,
                                                    max(60, self.width() - 24))
            width = painter.fontMetrics().horizontalAdvance(text) + 16
            badge_rect = QRect(self.width() - width - 6, 30, width, 22)
            painter.setBrush(NO_SIGNAL_AMBER if self.lost_since is not None else REC_RED)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawRoundedRect(badge_rect, 4, 4)
            painter.setPen(QColor("white"))
            painter.drawText(badge_rect, Qt.AlignmentFlag.AlignCenter, text)

    # --- zoom ------------------------------------------------------------------------
    def _zoom_changed(self) -> None:
        """Zoomed in or out: the main stream while zoomed (at the zoom's size), the preview
        again at 1x (given its time to play before it counts as down)."""
        zoomed = self.zoom.zoomed
        if zoomed != self._was_zoomed:
            self._was_zoomed = zoomed
            if not zoomed:
                self._preview_since, self._preview_stalled = time.monotonic(), False
            self.set_resting(self._rest_wanted)
        self.set_demand(self.demand)
        self.update()

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if not self.zoom.wheel(event, self._target() if self.image is not None else None):
            super().wheelEvent(event)

    # --- mouse -----------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt naming
        if self.zoom.press(event):  # a pan, or a click told on release
            return
        if event.button() == Qt.MouseButton.LeftButton:
            ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
            self.clicked.emit(self.source_id, ctrl)
            self._drag.press(event.position().toPoint())
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt naming
        if self.zoom.move(event, self._target() if self.image is not None else None):
            return
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._drag.moved(self, event.position().toPoint(), self.source_id, self.cell)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt naming
        found = dropped(event.mimeData())
        if self.cell is not None and found is not None and found[0] != self.source_id:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt naming
        found = dropped(event.mimeData())
        if self.cell is not None and found is not None:
            event.acceptProposedAction()
            self.source_dropped.emit(self.cell, found[0], found[1])

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt naming
        if self.zoom.release(event) and not self.zoom.dragged:
            ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
            self.clicked.emit(self.source_id, ctrl)
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt naming
        if self.zoom.double_click(event):  # zoomed: back to 1x; at 1x: maximise
            return
        if event.button() == Qt.MouseButton.LeftButton:
            self.double_clicked.emit(self.source_id)

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.menu_requested.emit(self.source_id, event.globalPos())

    def close_tile(self) -> None:
        self._stats_timer.stop()
        self._unwatch()

    def _unwatch(self) -> None:
        for slot in (self.slot, self.preview):
            if slot is not None and id(slot) in self._tokens:
                slot.unwatch(self._tokens.pop(id(slot)))
