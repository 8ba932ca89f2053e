"""Motion search wired into the window: the Recordings tab's player and the live tiles enter
"search motion here" (.overlays.RegionPicker), the dialog picks the time and the cameras
(.search_dialog), the station's `motion_search.search` runs on the task runner, and its hits
go on the timeline (.timeline_marks), into the list beside it (.hits_panel), whose
double-click plays a hit in the tab's player; "Heat map" puts `motion_search.heatmap` over the
player's picture or a tile's (.overlays.HeatmapOverlay).

Nothing here decides what a hit is or whether a request is valid: the service answers and
refuses (a refusal is reported as any other action's). The window builds one of these after
its Recordings tab (`MotionSearchGui(...)`); the tile menu asks it for its entries."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QMenu, QToolButton, QWidget

from app.visibility import in_scope
from ui.errors import error_text
from ui.motion_search.hits_panel import MotionHitsPanel
from ui.motion_search.overlays import HeatmapOverlay, RegionPicker
from ui.motion_search.picking import Region
from ui.motion_search.search_dialog import MotionSearchDialog, describe_range
from ui.motion_search.timeline_marks import HIT_COLOUR, HitMarks
from ui.recordings.timeline_view import fit_range
from ui.session import visible_sources
from ui.tasks import Report

HIT_LEGEND = (("motion search hit", HIT_COLOUR.name(), "▮"),)  # named while drawn

HEATMAP_DEFAULT = timedelta(days=1)  # the heat map's range before any search chose one
SPLIT_SHARES = (0.55, 0.15, 0.30)    # timeline, bookmarks, hits: once the hits are shown


def _ignore(message: str, error: bool = False) -> None:
    """No status bar to report to (a browser shown alone)."""


def group_mates(station, source_id: int) -> list[tuple[int, str]]:
    """The cameras sharing a group with `source_id` that the user may see (worker thread)."""
    visible = visible_sources(station)
    mates: dict[int, str] = {}
    for group in station.groups.list():
        members = station.groups.get(group.id).sources
        if any(s.id == source_id for s in members):
            mates.update({s.id: s.name for s in members
                          if s.id != source_id and in_scope(s.id, visible)})
    return sorted(mates.items(), key=lambda pair: pair[1].lower())


class MotionSearchGui(QObject):
    searched = Signal()  # a search's answer is shown (tests wait on it)
    heatmap_shown = Signal(int)  # a heat map was drawn for this source

    def __init__(self, station, tasks, browser, wall=None, report: Report | None = None,
                 show_recordings: Callable[[], None] | None = None,
                 parent: QObject | None = None):
        super().__init__(parent or browser)
        self.station, self.tasks, self.browser, self.wall = station, tasks, browser, wall
        self.report: Report = report or _ignore
        self.show_recordings = show_recordings or (lambda: None)
        self.last_range: tuple[datetime, datetime] | None = None
        self.picker: RegionPicker | None = None
        self.dialog: MotionSearchDialog | None = None
        self.heatmaps: dict[QWidget, HeatmapOverlay] = {}  # picture -> its heat map
        self.marks = HitMarks(browser.timeline.view)
        self.panel = MotionHitsPanel(station, browser)
        self.panel.play_requested.connect(self.play_hit)
        self.panel.cleared.connect(self._cleared)
        self.panel.hide()
        browser.top_split.addWidget(self.panel)
        browser.top_split.setStretchFactor(browser.top_split.indexOf(self.panel), 1)
        browser.timeline.record_played.connect(lambda _id: self._refresh_player_heatmap())
        self._add_player_buttons()

    # --- the player's buttons -------------------------------------------------------------
    def _add_player_buttons(self) -> None:
        """Two buttons at the end of the player's control row (the one holding its slider)."""
        player = self.browser.player
        row = next(layout for layout in player.findChildren(QHBoxLayout)
                   if layout.indexOf(player.slider) >= 0)
        self.search_button = QToolButton(player)
        self.search_button.setText("Search motion here…")
        self.search_button.setToolTip("Pause and drag a rectangle over the picture: when did "
                                      "something move there?")
        self.search_button.clicked.connect(self.pick_on_player)
        self.heat_button = QToolButton(player)
        self.heat_button.setText("Heat map")
        self.heat_button.setCheckable(True)
        self.heat_button.setToolTip("Show motion heat map: where motion happened in this "
                                    "camera's picture (over the last search's time, else the "
                                    "last day)")
        self.heat_button.toggled.connect(self.show_player_heatmap)
        for button in (self.search_button, self.heat_button):
            button.setAutoRaise(True)
            row.addWidget(button)

    def player_source(self) -> tuple[int, str] | None:
        """(source id, name) of what the tab's player shows."""
        shown = self.browser.timeline.playing_instant()
        if shown is not None:
            return shown[0], shown[1]
        record = self.browser.selected_record()
        player = self.browser.player
        if record is not None and record.source is not None and player.path is not None \
                and player.path == Path(record.location or ""):
            return record.source.id, record.source.name
        return None

    # --- picking the rectangle ------------------------------------------------------------
    def pick_on_player(self) -> RegionPicker | None:
        """The player's frame, paused, in "search motion here" mode."""
        shown, player = self.player_source(), self.browser.player
        if shown is None or player.view.image is None:
            self.report("Play a recording first, then search motion in its picture.", error=True)
            return None
        player.pause()
        return self._pick(player.view, *shown)

    def pick_on_tile(self, source_id: int) -> RegionPicker | None:
        """A live tile, focused, in "search motion here" mode."""
        tile = self.wall.tiles.get(source_id) if self.wall is not None else None
        if tile is None:
            return None
        if tile.image is None:
            self.report(f"{tile.name} shows no picture yet to draw on.", error=True)
            return None
        if self.wall.focused != source_id:
            self.wall.toggle_focus(source_id)
        return self._pick(tile, source_id, tile.name)

    def _pick(self, host: QWidget, source_id: int, name: str) -> RegionPicker:
        if self.picker is not None:
            try:
                self.picker.close_overlay()
            except RuntimeError:  # already gone with its picture
                pass
        picker = RegionPicker(host)
        picker.picked.connect(lambda region: self.ask(source_id, name, region))
        picker.cancelled.connect(self._pick_cancelled)
        self.picker = picker
        return picker

    def _pick_cancelled(self) -> None:
        self.picker = None
        self.report("Motion search cancelled.")

    def ask(self, source_id: int, name: str, region: Region) -> MotionSearchDialog:
        """The dialog for the rectangle drawn: time and cameras; it searches when accepted."""
        self.picker = None
        dialog = MotionSearchDialog(source_id, name, region, self.browser.window())
        dialog.search_requested.connect(self.search)
        self.dialog = dialog
        station = self.station
        self.tasks.run(lambda: group_mates(station, source_id),
                       lambda mates, error: dialog.add_cameras(mates) if error is None else None)
        dialog.open()
        return dialog

    # --- searching ------------------------------------------------------------------------
    def search(self, source_ids: list[int], begin: datetime, end: datetime, region: Region) -> None:
        station, regions = self.station, [tuple(region)]

        def fetch():
            hits = station.motion_search.search(list(source_ids), begin, end, regions)
            names = {s.id: s.name for s in station.sources.list()}
            return hits, names

        def shown(result, error: BaseException | None) -> None:
            if error is not None:
                self.report(f"Motion search: {error_text(error)}", error=True)
                return
            hits, names = result
            self.last_range = (begin, end)
            self.show_hits(hits, names, source_ids, begin, end)

        self.report("Searching motion…")
        self.tasks.run(fetch, shown)

    def show_hits(self, hits: list, names: dict[int, str], source_ids: list[int],
                  begin: datetime, end: datetime) -> None:
        cameras = ", ".join(names.get(i, f"source {i}") for i in source_ids)
        header = f"{len(hits)} hit(s) · {cameras} · {describe_range(begin, end)}"
        self.panel.set_results(hits, names, header)
        if self.panel.isHidden():  # (the tab itself may not be shown yet)
            self.panel.show()
            split = self.browser.top_split  # timeline, bookmarks, hits: room for the hits
            width = sum(split.sizes())
            split.setSizes([round(width * share) for share in SPLIT_SHARES])
        self.marks.set_hits(hits)
        self.browser.timeline.legend.set_extra(HIT_LEGEND if hits else ())
        self.show_recordings()
        timeline = self.browser.timeline
        fitted = fit_range([(h.begin, h.end) for h in hits] or [(begin, end)])
        if fitted is not None:
            timeline.view.show_range(*fitted)
        self.report(f"Motion search: {len(hits)} hit(s).")
        self.searched.emit()

    def play_hit(self, source_id: int, begin: datetime) -> None:
        """A hit's double-click: the tab's player from the hit's begin."""
        self.show_recordings()
        self.browser.timeline.play_moment(source_id, begin)

    def _cleared(self) -> None:
        self.marks.set_hits([])
        self.browser.timeline.legend.set_extra(())
        self.panel.hide()

    # --- heat maps ------------------------------------------------------------------------
    def heatmap_range(self) -> tuple[datetime, datetime]:
        if self.last_range is not None:
            return self.last_range
        now = datetime.now(timezone.utc)
        return now - HEATMAP_DEFAULT, now

    def show_player_heatmap(self, on: bool) -> None:
        shown = self.player_source()
        view = self.browser.player.view
        if not on or shown is None:
            self._hide_heatmap(view)
            if on:
                self.report("Play a recording first to see its camera's heat map.", error=True)
                self.heat_button.setChecked(False)
            return
        self._show_heatmap(view, shown[0])

    def _refresh_player_heatmap(self) -> None:
        if self.heat_button.isChecked():
            self.show_player_heatmap(True)

    def toggle_tile_heatmap(self, source_id: int, on: bool) -> None:
        tile = self.wall.tiles.get(source_id) if self.wall is not None else None
        if tile is not None:
            self._show_heatmap(tile, source_id) if on else self._hide_heatmap(tile)

    def _show_heatmap(self, host: QWidget, source_id: int) -> None:
        overlay = self.heatmaps.get(host)
        if overlay is None or overlay.source_id != source_id:
            self._hide_heatmap(host)
            overlay = self.heatmaps[host] = HeatmapOverlay(host, source_id)
        begin, end = self.heatmap_range()
        motion = self.station.motion_search

        def drawn(heatmap, error: BaseException | None) -> None:
            if self.heatmaps.get(host) is not overlay:
                return  # turned off (or to another camera) meanwhile
            if error is not None:
                overlay.set_counts([], f"Motion heat map: {error_text(error)}")
                return
            overlay.set_counts(heatmap.counts, f"Motion heat map · {describe_range(begin, end)}")
            self.heatmap_shown.emit(source_id)

        self.tasks.run(lambda: motion.heatmap(source_id, begin, end), drawn)

    def _hide_heatmap(self, host: QWidget) -> None:
        overlay = self.heatmaps.pop(host, None)
        if overlay is not None:
            try:
                overlay.close_overlay()
            except RuntimeError:  # gone with its picture (a tile removed)
                pass

    # --- the tile menu's entries ------------------------------------------------------------
    def add_tile_entries(self, menu: QMenu, source_id: int) -> None:
        menu.addAction("Search motion here…", lambda: self.pick_on_tile(source_id))
        tile = self.wall.tiles.get(source_id) if self.wall is not None else None
        heat = menu.addAction("Show motion heat map")
        heat.setCheckable(True)
        heat.setChecked(tile is not None and tile in self.heatmaps)
        heat.toggled.connect(lambda on: self.toggle_tile_heatmap(source_id, on))

    def shutdown(self) -> None:
        self.panel.shutdown()
