"""The Recordings tab's timeline: a lane per source with what it recorded, its outages,
bookmarks and events (ui.recordings.timeline_view draws them), read from the station's
timeline service for the range in view plus a margin either side, on the task runner, again
when the view moves, on the core's events and every few seconds while "now" is in view.

Hovering, or dragging along a lane (scrubbing: the view draws a cursor under the pointer),
shows a thumbnail of the instant under the pointer beside it (.timeline_thumb; none while a
context menu is open). A click, or letting go at the
end of a scrub, plays that instant in the player, and the file of the record that follows
without a hole is queued in the player, so consecutive records of a source (rollover
segments) play on as one. The view pans on its ruler, with the middle button and with
shift+wheel. A shift-drag selects a range: `range_selected(source_ids, begin, end)`, for the
Export dialog; once exported it is no longer drawn (Escape or a click lets it go too).

It explains itself (#25 item 3): it opens on the span of the records the Recordings table
lists ("zoom to fit", also the Fit button and the key F: `listed_span`, given by the table),
names its colours in a legend (.timeline_legend), and a record it plays becomes the table's
selected row (`record_played`).

A file on another station's disk is thumbnailed, played and queued like the rest, read from
its owner's API (.remote_records: its URL is looked up on the task runner, never on the GUI
thread, as the Recordings table does).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.visibility import in_scope
from app.recordings.timeline import MAX_RANGE, RecordSpan
from ui.session import visible_sources
from ui.bridge import EventBridge
from ui.errors import error_text
from ui.list_keys import KeyActions
from ui.media import MediaTarget
from ui.recordings.bookmarks import ask_bookmark
from ui.recordings.player import PlayerWidget
from ui.recordings.remote_records import RecordFiles
from ui.recordings.timeline_legend import TimelineLegend, tags_present
from ui.recordings.timeline_thumb import HoverThumbnail
from ui.recordings.timeline_view import Lane, TimelineView, fit_range, parse_utc
from ui.tasks import CoalescedLoad, ReloadsInBackground, TaskRunner

RELOAD_DELAY_MS = 150   # a burst of zooming and panning costs one read
NOW_TICK_MS = 1000      # the "now" line moves this often
FOLLOW_RELOAD_S = 5     # ... and the spans are read again this often while it is in view
CONSECUTIVE_S = 2.0     # a record starting this close after the last one's end plays on from it
SHOWN_SPAN_S = 120.0    # a moment out of view is shown with this much of the timeline
SHOWN_BEFORE = timedelta(seconds=SHOWN_SPAN_S / 4)  # ... a quarter of it before the moment
BOOKMARK_NEAR_PX = 8  # a right-click this close to a bookmark's flag offers to export around it


class TimelinePanel(ReloadsInBackground, QWidget):
    range_selected = Signal(list, object, object)  # source ids, begin, end (aware datetimes)
    loaded = Signal()  # new spans are shown (a moment asked while out of view plays then)
    record_played = Signal(str)  # the id of the record the player now plays from here
    # A click on a lane near a bookmark's flag, or on one of its events: their lists select
    # them (the bookmark list, the window's Events panel).
    bookmark_clicked = Signal(int)
    event_clicked = Signal(int)
    # the selected lanes (or every lane) played in step from a moment (ui.playback)
    cameras_play_requested = Signal(list, object)  # source ids, the instant (aware datetime)

    def __init__(self, station, bridge: EventBridge, tasks: TaskRunner, player: PlayerWidget,
                 files: RecordFiles, parent: QWidget | None = None):
        super().__init__(parent)
        self.station, self.tasks, self.player, self.files = station, tasks, player, files
        self.loads = 0  # span reads answered (tests wait on it)
        self.current: tuple[int, RecordSpan] | None = None  # (source, record) the player shows
        self.bookmark_dialog = self.export_dialog = None
        self._load = CoalescedLoad(self.tasks, self._fetch, self._on_loaded,
                                   delay_ms=RELOAD_DELAY_MS, parent=self)
        self._pending: tuple[int, datetime] | None = None  # to play once the spans have it
        self._ticks = 0
        self.view = TimelineView(self)
        self.view.view_changed.connect(self.schedule_reload)
        self.view.clicked.connect(self._on_click)
        self.view.hovered.connect(self._on_hover)
        self.view.hover_left.connect(self._hide_thumb)
        self.view.range_selected.connect(self.range_selected)
        self.view.context_requested.connect(self._context_menu)
        self.thumb = HoverThumbnail(self.view, tasks, files)
        self.menu: QMenu | None = None  # the context menu, while it is open
        self.keys = KeyActions(self.view, {Qt.Key.Key_F: self.zoom_to_fit,
                                           Qt.Key.Key_Escape: self.view.clear_selection})
        # (begin, end) of the records the Recordings table lists: what "zoom to fit" shows
        self.listed_span: Callable[[], tuple[datetime, datetime] | None] = lambda: None
        self._touched = False  # the view was moved (by hand or to play a moment)
        self._fitting = False
        self.view.view_changed.connect(self._on_view_changed)
        self._build_bar()
        self.legend = TimelineLegend(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(self.bar)
        layout.addWidget(self.legend)
        layout.addWidget(self.view, 1)
        self._tick = QTimer(self, interval=NOW_TICK_MS)
        self._tick.timeout.connect(self._on_tick)
        self._tick.start()
        player.advanced.connect(self._on_advanced)
        self.loaded.connect(self._play_pending)
        player.position_changed.connect(self._on_position)
        for signal in (bridge.recording_started, bridge.recording_stopped, bridge.catalog_changed,
                       bridge.record_changed, bridge.event_changed):
            signal.connect(self.schedule_reload)
        self.reload()

    def _build_bar(self) -> None:
        self.bar = QHBoxLayout()
        self.bar.setContentsMargins(0, 0, 0, 0)
        for text, tip, slot in (("−", "Zoom out (or the wheel)", lambda: self.view.zoom(2.0)),
                                ("+", "Zoom in (or the wheel)", lambda: self.view.zoom(0.5)),
                                ("Fit", "Zoom to fit the records listed below (F)",
                                 self.zoom_to_fit),
                                ("Now", "The last hour up to now", self.show_now)):
            button = QToolButton(self)
            button.setText(text)
            button.setToolTip(tip)
            button.setAutoRaise(True)
            button.clicked.connect(slot)
            self.bar.addWidget(button)
            if text == "Fit":
                self.fit_button = button
        self.range_label = QLabel(self)
        self.bar.addWidget(self.range_label, 1)
        hint = QLabel("drag: scrub · click or let go: play · drag the ruler, middle-drag or "
                      "shift+wheel: pan · wheel: zoom · F: fit · shift-drag: select · B: bookmark", self)
        hint.setToolTip("Drag along a lane: a thumbnail of each instant under the pointer; let "
                        "go (or click) to play from there, off the lanes to cancel.\n"
                        "Pan: drag the time ruler at the top, drag with the middle button "
                        "anywhere, or shift+wheel (a horizontal wheel too).\n"
                        "Wheel: zoom around the pointer; F or Fit: the span of the records "
                        "listed below. Shift-drag: select a range to export (right-click ▸ "
                        "Export…; Escape or a click lets it go).")
        hint.setProperty("hint", True)
        # Beside the bookmarks the bar is narrow: the hint gives way (its tip says it all)
        # rather than widening the tab past a 1366-pixel screen.
        for label in (self.range_label, hint):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.bar.addWidget(hint, 2)

    # --- reading the spans -----------------------------------------------------------
    def show_now(self) -> None:
        self.view.show_range(datetime.now(timezone.utc) - timedelta(minutes=54), 3600.0)

    def zoom_to_fit(self) -> bool:
        """The view on the span of the records listed (`listed_span`), with a margin
        (timeline_view.fit_range); False when nothing is listed (the view stays)."""
        span = self.listed_span()
        fitted = fit_range([span]) if span is not None else None
        if fitted is None:
            return False
        self._fitting = True
        try:
            self.view.show_range(*fitted)
        finally:
            self._fitting = False
        return True

    def fit_unless_moved(self) -> bool:
        """Zoom to fit, unless the view has already been moved (the first listing arrives
        after the operator, or a moment asked to be played, chose what to show)."""
        return not self._touched and self.zoom_to_fit()

    def _on_view_changed(self) -> None:
        if not self._fitting:
            self._touched = True

    def _fetch(self):
        margin = timedelta(seconds=min(self.view.span_s,
                                       (MAX_RANGE.total_seconds() - self.view.span_s) / 2 - 60))
        begin, end = self.view.begin - margin, self.view.end + margin
        station = self.station

        def fetch():
            visible = visible_sources(station)  # the signed-in user's scope (#26)
            sources = [s for s in station.sources.list() if in_scope(s.id, visible)]
            return [Lane(s.id, s.name, station.timeline.spans(s.id, begin, end)) for s in sources]
        return fetch

    def _on_loaded(self, lanes, error: BaseException | None) -> None:
        if error is None:
            self.loads += 1
            self.view.set_lanes(lanes)
            self.legend.set_tags(tags_present(lanes))
            if lanes and lanes[0].spans is not None:
                self.view.now = parse_utc(lanes[0].spans.now_utc)
            self._show_range_label()
            self.loaded.emit()

    def _show_range_label(self) -> None:
        first, last = self.view.begin.astimezone(), self.view.end.astimezone()
        self.range_label.setText(f"{first:%Y-%m-%d %H:%M:%S} – {last:%Y-%m-%d %H:%M:%S}")

    def _on_tick(self) -> None:
        self._ticks += 1
        now = datetime.now(timezone.utc)
        self.view.now = now
        self.view.update()
        if self.view.begin <= now <= self.view.end and self._ticks % FOLLOW_RELOAD_S == 0:
            self.schedule_reload()

    # --- finding records -------------------------------------------------------------
    def lane(self, source_id: int) -> Lane | None:
        return next((lane for lane in self.view.lanes if lane.source_id == source_id), None)

    def record_at(self, source_id: int, moment: datetime) -> RecordSpan | None:
        """The playable record holding `moment`, else the first one starting after it."""
        lane = self.lane(source_id)
        if lane is None or lane.spans is None:
            return None
        later = None
        for record in lane.spans.records:
            if not record.has_footage:
                continue
            if parse_utc(record.begin_utc) <= moment <= parse_utc(record.end_utc):
                return record
            if later is None and parse_utc(record.begin_utc) > moment:
                later = record
        return later

    def following(self, source_id: int, record: RecordSpan) -> RecordSpan | None:
        """The record of the source that starts where `record` ends (no hole between)."""
        lane = self.lane(source_id)
        if lane is None or lane.spans is None:
            return None
        end = parse_utc(record.end_utc)
        for other in lane.spans.records:
            start = parse_utc(other.begin_utc)
            if other.id != record.id and other.has_footage \
                    and end - timedelta(seconds=CONSECUTIVE_S) <= start <= end + timedelta(seconds=CONSECUTIVE_S) \
                    and start > parse_utc(record.begin_utc):
                return other
        return None

    # --- playing ---------------------------------------------------------------------
    def play_moment(self, source_id: int, moment: datetime) -> None:
        """Play `moment` of the source (a bookmark's, an event's); out of view, show the two
        minutes around it first and play once the spans of that range are read."""
        if self._in_spans(source_id, moment):
            self._pending = None
            self.play_at(source_id, moment)
            return
        self._pending = (source_id, moment)
        self.view.show_range(moment - SHOWN_BEFORE, SHOWN_SPAN_S)
        self.reload()

    def _in_spans(self, source_id: int, moment: datetime) -> bool:
        lane = self.lane(source_id)
        return (self.view.begin <= moment <= self.view.end and lane is not None
                and lane.spans is not None
                and parse_utc(lane.spans.begin_utc) <= moment < parse_utc(lane.spans.end_utc))

    def _play_pending(self) -> None:
        if self._pending is not None and self._in_spans(*self._pending):
            (source_id, moment), self._pending = self._pending, None
            self.play_at(source_id, moment)

    def _on_click(self, source_id: int, moment: datetime) -> None:
        """Play there; and what was clicked on, a bookmark's flag or an event, is selected
        in its list."""
        mark = self.bookmark_near(source_id, moment)
        if mark is not None:
            self.bookmark_clicked.emit(mark.id)
        event = self.event_near(source_id, moment)
        if event is not None:
            self.event_clicked.emit(event.id)
        self.play_at(source_id, moment)

    def event_near(self, source_id: int, moment: datetime):
        """The newest event of the lane over `moment` (an instant one: within a few pixels)."""
        lane, x = self.lane(source_id), self.view.x_of(moment)
        if lane is None or lane.spans is None:
            return None
        near = None
        for event in lane.spans.events:
            x0 = self.view.x_of(parse_utc(event.begin))
            x1 = self.view.x_of(parse_utc(event.end)) if event.end else self.view.width()
            if x0 - BOOKMARK_NEAR_PX <= x <= max(x1, x0) + BOOKMARK_NEAR_PX:
                near = event  # the spans list them oldest first: the last is the newest
        return near

    def play_at(self, source_id: int, moment: datetime) -> bool:
        """Play `moment` of the source (or the next thing it recorded); False: nothing there.
        Another station's file is asked for first (its owner's URL, on the task runner)."""
        record = self.record_at(source_id, moment)
        if record is None:
            return False
        begin = parse_utc(record.begin_utc)
        offset = max(0.0, (moment - begin).total_seconds())
        lane = self.lane(source_id)
        caption = f"{record.tag_name} · {lane.name if lane else ''}"
        self.current = (source_id, record)
        self.view.playhead = begin + timedelta(seconds=offset)
        self.view.update()
        self.record_played.emit(record.id)
        if not self.files.is_remote(record):
            self._start(record, caption, offset, None)
            return True
        station = self.files.station_name(record)
        self.player.clear(f"Asking station “{station}” for the file…")

        def unreachable(error: BaseException) -> None:
            why = error_text(error)
            self.player.clear(f"Cannot play this record: {why}")

        self._locate(record, lambda target: self._start(record, f"{caption} · on {station}",
                                                        offset, target), unreachable)
        return True

    def _start(self, record: RecordSpan, caption: str, offset: float, remote) -> None:
        self.player.open(record.location, live=record.status == "recording", caption=caption,
                         remote=remote, start=offset)
        self.player.play()
        self._queue_following()

    def _locate(self, record: RecordSpan, then, failed=None) -> None:
        """`then(target)` with another station's file once its owner's URL is known, unless
        the operator has played something else meanwhile; `failed(error)` if it cannot be."""
        wanted, files = self.current, self.files

        def located(target: MediaTarget, error: BaseException | None) -> None:
            if self.current is not wanted:
                return  # the operator has moved on
            if error is None:
                then(target)
            elif failed is not None:
                failed(error)

        self.tasks.run(lambda: files.target(record), located)

    def _queue_following(self) -> None:
        if self.current is None:
            return
        source_id, record = self.current
        nxt = self.following(source_id, record)
        if nxt is not None and self.files.is_remote(nxt):
            self._locate(nxt, self.player.queue_next)  # unreachable owner: it stops at the end
        else:
            self.player.queue_next(nxt.location if nxt is not None else None)

    def _on_advanced(self, path: str) -> None:
        """The player went on into the queued file: it is now the current record."""
        if self.current is None:
            return
        source_id, record = self.current
        nxt = self.following(source_id, record)
        if nxt is not None and nxt.location == path:
            self.current = (source_id, nxt)
            self._queue_following()
            self.record_played.emit(nxt.id)

    def _on_position(self, seconds: float) -> None:
        if self.current is not None and self.player.path is not None \
                and str(self.player.path) == (self.current[1].location or ""):
            self.view.playhead = parse_utc(self.current[1].begin_utc) + timedelta(seconds=seconds)
            self.view.update()

    def playing_instant(self) -> tuple[int, str, datetime] | None:
        """(source id, name, instant) the player shows, when the timeline started it."""
        if self.current is None or self.player.path is None \
                or str(self.player.path) != (self.current[1].location or ""):
            return None
        source_id, record = self.current
        lane = self.lane(source_id)
        moment = parse_utc(record.begin_utc) + timedelta(seconds=self.player.position)
        return source_id, lane.name if lane else str(source_id), moment

    # --- thumbnails (.timeline_thumb) ------------------------------------------------
    def _on_hover(self, source_id: int, moment: datetime, pos: QPointF) -> None:
        """A thumbnail of `moment` (hovered or scrubbed), or none off the records."""
        lane = self.lane(source_id)
        record = None
        if lane is not None and lane.spans is not None:
            record = next((r for r in lane.spans.records if r.has_footage
                           and parse_utc(r.begin_utc) <= moment <= parse_utc(r.end_utc)), None)
        if record is None:
            self._hide_thumb()
            return
        self.thumb.want(record, (moment - parse_utc(record.begin_utc)).total_seconds(), pos, moment)

    def _hide_thumb(self) -> None:
        self.thumb.hide_now()

    # --- the context menu ------------------------------------------------------------
    def _context_menu(self, source_id: int, moment: datetime, global_pos) -> None:
        menu = QMenu(self)
        self.menu = menu  # while it is open
        # the hover thumbnail is a tool-tip window, above menus: none while the menu is open
        self.thumb.suppress(True)
        menu.aboutToHide.connect(self._menu_closed)
        menu.aboutToHide.connect(menu.deleteLater)
        menu.addAction("Play from here", lambda: self.play_at(source_id, moment))
        menu.addAction("Add a bookmark here…", lambda: self.add_bookmark(source_id, moment))
        selection = self.view.selection
        if selection is not None:
            ids = [lane.source_id for lane in self.view.lanes[min(selection[2], selection[3]):
                                                               max(selection[2], selection[3]) + 1]]
            begin, end = min(selection[:2]), max(selection[:2])
            menu.addAction("Export…", lambda: self.export_selection(ids, begin, end))
            menu.addAction(f"Play these {len(ids)} cameras together",
                           lambda: self.play_cameras(ids, begin))
        elif len(self.view.lanes) > 1:
            every = [lane.source_id for lane in self.view.lanes]
            menu.addAction("Play every camera together from here",
                           lambda: self.play_cameras(every, moment))
        mark = self.bookmark_near(source_id, moment)
        if mark is not None:
            menu.addAction("Export around this bookmark…", lambda: self.export_around(mark.id))
        menu.popup(global_pos)

    def play_cameras(self, source_ids: list[int], at: datetime) -> None:
        """Cameras of the timeline in step from `at` (a shift-drag across lanes picks them);
        the selection is let go once used."""
        self.view.clear_selection()
        self.cameras_play_requested.emit(list(source_ids), at)

    def _menu_closed(self) -> None:
        self.menu = None
        self.thumb.suppress(False)

    def bookmark_near(self, source_id: int, moment: datetime):
        """The bookmark of the lane whose flag is within a few pixels of `moment`, if any."""
        lane, x = self.lane(source_id), self.view.x_of(moment)
        marks = lane.spans.bookmarks if lane is not None and lane.spans is not None else []
        near = [(abs(self.view.x_of(parse_utc(m.time_utc)) - x), m) for m in marks]
        near = [(dx, m) for dx, m in near if dx <= BOOKMARK_NEAR_PX]
        return min(near, key=lambda pair: pair[0])[1] if near else None

    def export_selection(self, source_ids: list[int], begin: datetime, end: datetime) -> None:
        """The selected range exported: used, so no longer shown as selected."""
        self.view.clear_selection()
        self.export(source_ids, begin, end)

    def export(self, source_ids: list[int], begin: datetime, end: datetime) -> None:
        """The selected range in the Export dialog (ui.recordings.export_dialog)."""
        from ui.recordings.export_dialog import ExportDialog

        self.export_dialog = ExportDialog(self.station, source_ids, begin, end, self)
        self.export_dialog.open()

    def export_around(self, bookmark_id: int) -> None:
        """The Export dialog on the range the bookmark service puts around a bookmark."""
        from ui.recordings.export_dialog import export_around_bookmark

        def shown(dialog) -> None:
            self.export_dialog = dialog

        export_around_bookmark(self, self.station, self.tasks, bookmark_id, shown,
                               lambda text: self.range_label.setText(f"Cannot export: {text}"))

    def add_bookmark(self, source_id: int, moment: datetime) -> None:
        lane = self.lane(source_id)
        self.bookmark_dialog = ask_bookmark(self, self.station, self.tasks, source_id,
                                            lane.name if lane else str(source_id), moment,
                                            lambda *_: self.schedule_reload())

    def shutdown(self) -> None:
        self._tick.stop()
        self._load.stop()
