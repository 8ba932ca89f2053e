"""What the window does with events beyond listing them: a lost camera's tile shows it, the
status bar counts the alarms nobody acknowledged, and the kinds the operator ticked in the
settings (`alert_kinds`, `alert_sound`) are announced from the tray, with a beep.

It follows the bridge's `event_changed` (any front end's events and acknowledgements, the
camera watch's camera_lost and its closing by camera_back) and reads the event service on
the task runner: once at start for the cameras lost already, and, coalesced, for the count
after each change. The count is of unacknowledged events of severity `alarm` only: an `info`
event (recording_started, camera_back) is for the record, and a `warning` (a motion) comes by
the hundred on a busy camera: counting them would bury the lost camera an operator must not
miss. The catalog counts them (`EventService.count`), not this desk from the newest page of
events, which thousands of newer info events would push an old alarm out of.

A user with a scope (#26) is counted, shown and told only the events of their sources and the
station's own: `identity` follows the window's user (ui.window_access sets it, then `reread`)."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication

from app.schemas import EventOut, EventSeverity
from app.visibility import event_visible
from ui.bridge import EventBridge
from ui.tasks import CoalescedLoad, TaskRunner
from ui.wall import CameraWall

COUNT_DELAY_MS = 150  # a burst of changes (acknowledge all) costs one count
COUNT_LIMIT = 1000    # lost cameras read at start, at most


def wall_time(iso: str) -> float:
    """An event's ISO time as seconds since the epoch (the tile's banner counts from it)."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class AlarmDesk(QObject):
    count_changed = Signal(int)  # unacknowledged events of severity alarm

    def __init__(self, station, bridge: EventBridge, tasks: TaskRunner, wall: CameraWall, *,
                 announce: Callable[[str], None], parent: QObject | None = None):
        super().__init__(parent)
        self.station, self.tasks, self.wall, self.announce = station, tasks, wall, announce
        self.lost: dict[int, float] = {}  # source id -> its open camera_lost event's begin
        self.unacknowledged = 0
        self.announced: list[EventOut] = []  # what was announced (tests read it)
        self.identity = getattr(station, "identity", None)  # the window's user (their scope)
        # their sources, as last read (None: all); a scoped user sees none until read (reread)
        self._visible: frozenset[int] | None = None
        self._count = CoalescedLoad(tasks, self._fetch_count, self._on_count,
                                    delay_ms=COUNT_DELAY_MS, parent=self)
        bridge.event_changed.connect(self._on_event)
        self.reread()

    def reread(self) -> None:
        """Read the lost cameras and the count again (at start, and for another user)."""
        station, identity = self.station, self.identity
        self._scoped_unread()

        def read():
            visible = station.scope.sources(identity)  # None: every source
            return visible, station.events.list(kind="camera_lost", open=True,
                                                limit=COUNT_LIMIT, sources=visible)
        self.tasks.run(read, self._on_lost_read)

    def _scoped_unread(self) -> None:
        """A user with a scope is told nothing of sources until their scope is read."""
        if self.identity is not None and self.identity.groups is not None:
            self._visible = frozenset()

    def _sees(self, event: EventOut) -> bool:
        return event_visible(event.source_id, self._visible)

    # --- lost cameras ------------------------------------------------------------------
    def _on_lost_read(self, result, error) -> None:
        if error is None:
            self._visible, events = result
            self.lost.clear()
            for event in events:
                if event.source_id is not None and event.source_id not in self.lost:
                    self.lost[event.source_id] = wall_time(event.begin)
            self.show_on_tiles()
        self._count.run()

    def show_on_tiles(self) -> None:
        """Every tile as lost or not (again after the wall gained tiles)."""
        for source_id, tile in self.wall.tiles.items():
            tile.set_lost(self.lost.get(source_id))

    def _on_event(self, event: EventOut, change: str) -> None:
        if not self._sees(event):
            return
        if event.kind == "camera_lost" and event.source_id is not None \
                and change in ("opened", "closed"):
            if event.end is None:
                self.lost[event.source_id] = wall_time(event.begin)
            else:
                self.lost.pop(event.source_id, None)
            tile = self.wall.tiles.get(event.source_id)
            if tile is not None:
                tile.set_lost(self.lost.get(event.source_id))
        if change == "opened":
            self._maybe_announce(event)
        self._count.schedule()

    # --- announcing ----------------------------------------------------------------------
    def _maybe_announce(self, event: EventOut) -> None:
        settings = self.station.settings
        if event.kind not in settings.alert_kinds:
            return
        self.announced.append(event)
        self.announce(event.text)
        if settings.alert_sound:
            QApplication.beep()

    # --- the count ---------------------------------------------------------------------
    def _fetch_count(self):
        events, scope, identity = self.station.events, self.station.scope, self.identity

        return lambda: events.count(unacknowledged=True, severity=EventSeverity.alarm,
                                    sources=scope.sources(identity))

    def _on_count(self, count: int | None, error) -> None:
        if error is None:
            self.unacknowledged = count
            self.count_changed.emit(count)

    def shutdown(self) -> None:
        self._count.stop()
