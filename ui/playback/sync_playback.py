"""Synchronised playback of several cameras at one shared instant (#25 item 2).

`play_sources(source_ids, at_utc)` is the one door: a layout or group, a multi-selection of
records, or "play from here" on an event or bookmark all come in through it. It asks the
station for the session's plan (`station.playback.open_session`: each source's segments and
gaps, audited as "play footage"), gives every tile a decoding worker (`TileFeed`) and puts the
one cursor (`SharedClock`) on the instant.

The GUI's tick paces everything: it reads the cursor once and gives each tile the picture due
at that instant from its worker (`TileFeed.take`), so all tiles show the same instant within
one frame whatever their files, and "no recording" where the plan says the source has a gap.
Decoding happens on the workers only; the tick converts nothing.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QGridLayout, QVBoxLayout, QWidget

from app.recordings.playback_plan import PlaybackPlan
from ui.errors import error_text
from ui.media import MAX_FRAME
from ui.playback.audio import AudioFeed, AudioPump, SoundOut, open_sound_out
from ui.playback.clock import SPEEDS, SharedClock, faster
from ui.playback.controls import PlaybackControls
from ui.playback.tile_feed import EVERY_FRAME_UP_TO, TileFeed, epoch, instant
from ui.playback.tile_view import PlaybackTile, wall_text
from ui.recordings.remote_records import RecordFiles

PLAN_AROUND = timedelta(hours=3)  # the plan read around the instant asked for
TILE_FRAME = (640, 360)           # pictures of several tiles are decoded no larger than this
TICK_MS = 20                      # the tick while the cursor runs (a screen's rate)
IDLE_TICK_MS = 40                 # ... and while it stands (pictures of a jump arrive)


class SyncPlayback(QWidget):
    """The tiles and their controls. `station` is the GUI's (audited) station; `tasks` the
    task runner that asks it off the GUI thread."""

    ticked = Signal(float)      # the cursor each tick showed the tiles at (epoch seconds)
    opened = Signal()           # a session's plan arrived and its tiles are set up
    failed = Signal(str)

    def __init__(self, station, tasks, parent: QWidget | None = None, *,
                 sound_out=open_sound_out):
        """`sound_out`: what makes the sound device (`open_sound_out`, by default)."""
        super().__init__(parent)
        self.station, self.tasks, self._sound_out = station, tasks, sound_out
        self.files = RecordFiles(station)
        self.clock = SharedClock()
        self.plan: PlaybackPlan | None = None
        self.feeds: dict[int, TileFeed] = {}
        self.tiles: dict[int, PlaybackTile] = {}
        self.selected: int | None = None
        self.muted = False
        self._sound: SoundOut | None = None
        self._audio: AudioFeed | None = None
        self._pump: AudioPump | None = None
        self.sound_from: float | None = None  # the instant the sound heard now started at
        self._syncing_slider = False
        self._feed_direction = 1  # the way the workers decode: forward unless playing backward
        self.held_ticks = 0  # ticks the cursor waited for a tile (load): measured, reported
        self.setWindowTitle("Synchronised playback")
        self.grid = QGridLayout()
        self.grid.setSpacing(4)
        self.controls = PlaybackControls(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self.grid, 1)
        layout.addWidget(self.controls)
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self.tick)
        self._connect_controls()

    def _connect_controls(self) -> None:
        c = self.controls
        c.reverse_button.clicked.connect(self.reverse)
        c.pause_button.clicked.connect(self.pause)
        c.forward_button.clicked.connect(self.forward)
        c.step_button.clicked.connect(self.step_forward)
        c.step_back_button.clicked.connect(self.step_back)
        c.mute_button.toggled.connect(self.set_muted)
        c.speed.currentIndexChanged.connect(lambda i: self.set_speed(SPEEDS[i]))
        c.slider.valueChanged.connect(self._on_slider)
        for key, slot in ((Qt.Key.Key_J, self.reverse), (Qt.Key.Key_K, self.pause),
                          (Qt.Key.Key_L, self.forward), (Qt.Key.Key_Comma, self.step_back),
                          (Qt.Key.Key_Period, self.step_forward), (Qt.Key.Key_Space, self.toggle)):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

    # --- opening ---------------------------------------------------------------------
    def play_sources(self, source_ids: list[int], at_utc: datetime, *, play: bool = True) -> None:
        """Every tile of these sources at `at_utc` (aware), playing forward at 1x (or paused):
        a new session (audited), its plan read off the GUI thread."""
        ids, station = list(source_ids), self.station
        begin, end = at_utc - PLAN_AROUND, at_utc + PLAN_AROUND

        def done(plan, error: BaseException | None) -> None:
            if error is not None:
                self.failed.emit(error_text(error))
                return
            self.load(plan, at_utc, play=play)

        self.tasks.run(lambda: station.playback.open_session(ids, at_utc, begin, end), done)

    def load(self, plan: PlaybackPlan, at_utc: datetime, *, play: bool = True) -> None:
        """Show `plan` (from the station) from `at_utc` on."""
        self._close_session()
        self.plan = plan
        count = len(plan.sources)
        columns = count if count <= 3 else math.ceil(math.sqrt(count))  # three in a row
        for index, source in enumerate(plan.sources):
            tile = PlaybackTile(source.source_id, source.name, self)
            tile.clicked.connect(self.select)
            self.grid.addWidget(tile, index // columns, index % columns)
            self.tiles[source.source_id] = tile
            self.feeds[source.source_id] = TileFeed(source, self.clock, self.files.target,
                                                     box=MAX_FRAME if count == 1 else TILE_FRAME)
        footage = plan.footage
        if footage is not None:
            self._syncing_slider = True
            self.controls.slider.setRange(0, int((footage.end - footage.begin).total_seconds() * 1000))
            self._syncing_slider = False
        self._open_sound()
        self.select(plan.sources[0].source_id if plan.sources else None)
        self.clock.stop()
        self._feed_direction = 1
        self.jump(epoch(at_utc))
        self._timer.start(IDLE_TICK_MS)
        if play:
            self._run(1, 1.0)
        else:
            self.controls.show_state(0.0, self.clock.speed)
        self.opened.emit()

    def _close_session(self) -> None:
        self._stop_sound_feed()
        for feed in self.feeds.values():
            feed.stop()
        for tile in self.tiles.values():
            self.grid.removeWidget(tile)
            tile.deleteLater()
        self.feeds, self.tiles, self.plan = {}, {}, None

    def shutdown(self) -> None:
        self._timer.stop()
        self._close_session()
        if self._sound is not None:
            self._sound.close()
            self._sound = None

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.shutdown()
        super().closeEvent(event)

    # --- the cursor ------------------------------------------------------------------
    def jump(self, at: float) -> None:
        """Every tile to the instant `at` (epoch seconds); running or not, on from there."""
        self.clock.set(at)
        direction = self._feed_direction
        for feed in self.feeds.values():
            feed.seek(at, direction)
        self._restart_sound()

    def _run(self, direction: int, speed: float) -> None:
        at = self.clock.stop()
        self.clock.run(direction, speed)
        if direction != self._feed_direction:  # paused, the workers stay ready forward
            self._feed_direction = direction
            for feed in self.feeds.values():
                feed.seek(at, direction)
        self._restart_sound()
        self._timer.start(TICK_MS)
        self.controls.show_state(self.clock.rate, speed)

    def forward(self) -> None:
        """L: play forward at 1x; again while playing forward: twice as fast (up to 16x)."""
        rate = self.clock.rate
        self._run(1, faster(self.clock.speed) if rate > 0 else 1.0)

    def reverse(self) -> None:
        """J: play backward keyframe by keyframe at 1x; again: twice as fast."""
        rate = self.clock.rate
        self._run(-1, faster(self.clock.speed) if rate < 0 else 1.0)

    def pause(self) -> None:
        """K: stand still; after playing backward, the tiles land on the very instant."""
        at = self.clock.stop()
        if self._feed_direction < 0:
            self._feed_direction = 1
            for feed in self.feeds.values():
                feed.seek(at, 1)
        self._restart_sound()
        self._timer.start(IDLE_TICK_MS)
        self.controls.show_state(0.0, self.clock.speed)

    def toggle(self) -> None:
        self.pause() if self.clock.running else self.forward()

    def set_speed(self, speed: float) -> None:
        if self.clock.running:
            self._run(self.clock.direction, speed)
        else:
            self.clock.speed = speed
            self.controls.show_state(0.0, speed)

    def step_forward(self) -> None:
        """Period: pause, then the selected tile's next frame (every tile to that instant)."""
        if self.clock.running:
            self.pause()
        feed = self.feeds.get(self.selected) if self.selected is not None else None
        following = feed.next_wall() if feed is not None else None
        if following is None:
            following = self.clock.instant() + 1 / (feed.fps if feed else 25.0)
        self.clock.set(following)
        self.tick()

    def step_back(self) -> None:
        """Comma: pause, then the selected tile's previous frame, decoded from the keyframe
        before it (every tile to that instant)."""
        if self.clock.running:
            self.pause()
        tile = self.tiles.get(self.selected) if self.selected is not None else None
        feed = self.feeds.get(self.selected) if self.selected is not None else None
        fps = feed.fps if feed is not None else 25.0
        shown = tile.frame.wall if tile is not None and tile.frame is not None else self.clock.instant()
        self.jump(shown - 0.5 / fps)

    # --- the tick --------------------------------------------------------------------
    def tick(self) -> None:
        """Each tile shows the picture due at the cursor, read once for all of them."""
        if self.plan is None:
            return
        at = self._held_to_the_slowest(self.clock.instant())
        moment = instant(at)
        for source in self.plan.sources:
            tile, feed = self.tiles[source.source_id], self.feeds[source.source_id]
            frame = feed.take(at)
            if frame is not None:
                tile.show_frame(frame)
            tile.set_gap(source.in_gap(moment))
            if feed.error and tile.frame is None:
                tile.message = feed.error
        self._show_cursor(at)
        self._stop_at_the_ends(at)
        self._feed_sound()
        self.ticked.emit(at)

    def _held_to_the_slowest(self, at: float) -> float:
        """Up to 4x forward every frame is shown, so the cursor never runs past what a tile
        has decoded: under load it waits for the slowest tile (playback runs slower than
        asked, never out of step). Faster, tiles skip pictures and catch up by jumping."""
        if self.clock.rate <= 0 or self.clock.speed > EVERY_FRAME_UP_TO:
            return at
        ready = [r for r in (feed.ready_until() for feed in self.feeds.values()) if r is not None]
        if ready and at > min(ready):
            at = min(ready)
            self.clock.set(at)
            self.held_ticks += 1
        return at

    def _show_cursor(self, at: float) -> None:
        tile = self.tiles.get(self.selected) if self.selected is not None else None
        self.controls.wall_label.setText(tile.wall_label if tile is not None else wall_text(at))
        footage = self.plan.footage if self.plan else None
        if footage is not None and not self.controls.slider.isSliderDown():
            self._syncing_slider = True
            self.controls.slider.setValue(int((at - epoch(footage.begin)) * 1000))
            self._syncing_slider = False

    def _stop_at_the_ends(self, at: float) -> None:
        footage = self.plan.footage if self.plan else None
        if footage is None or not self.clock.running:
            return
        if (self.clock.rate > 0 and at >= epoch(footage.end)) or \
                (self.clock.rate < 0 and at <= epoch(footage.begin)):
            self.pause()

    def _on_slider(self, value: int) -> None:
        footage = self.plan.footage if self.plan else None
        if not self._syncing_slider and footage is not None:
            self.jump(epoch(footage.begin) + value / 1000)

    # --- selection and sound ---------------------------------------------------------
    def select(self, source_id: int | None) -> None:
        """The tile whose frames the controls step by and whose sound is heard."""
        self.selected = source_id
        for sid, tile in self.tiles.items():
            tile.set_selected(sid == source_id)
        self._restart_sound()

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        self.controls.mute_button.setText("Muted" if muted else "Sound on")
        self._restart_sound()

    def _open_sound(self) -> None:
        """The sound device, once: without one the mute button says why there is no sound."""
        if self._sound is not None:
            return
        self._sound = self._sound_out()
        button = self.controls.mute_button
        button.setEnabled(self._sound.available)
        if not self._sound.available:
            button.setText("No sound")
            button.setToolTip(self._sound.why)

    def _sound_wanted(self) -> bool:
        return (not self.muted and self.selected is not None and self.plan is not None
                and self.clock.rate == 1.0)

    def _restart_sound(self) -> None:
        """A new feed from the cursor (a jump, another speed or tile), or none."""
        self._stop_sound_feed()
        if not self._sound_wanted():
            return
        if self._sound is None or not self._sound.available:
            return
        self._sound.reset()
        self._pump = AudioPump(self._sound.write, self._sound.room)
        self.sound_from = self.clock.instant()
        self._audio = AudioFeed(self.plan.source(self.selected), self.files.target,
                                self.sound_from)

    def _stop_sound_feed(self) -> None:
        if self._audio is not None:
            self._audio.stop()
            self._audio = None
        self._pump = None

    def _feed_sound(self) -> None:
        if self._audio is None or self._pump is None:
            return
        for chunk in self._audio.chunks():
            self._pump.feed(chunk.data)
        self._pump.pump()
