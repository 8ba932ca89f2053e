"""The main window: the camera wall in the middle, groups on the left, recording controls
on the right, the events and alarms below (ui.alarms: the Events panel, lost cameras' tiles,
the alarm count in the status bar, the tray's alerts), recordings in a second tab, the audit
trail in a third, the station's vital signs in the status bar.

Everything here calls the same services the API calls, on worker threads (`TaskRunner`);
what any API client does reaches the window through the `EventBridge`, so the wall, the
panels and the browser always show the station as it is. Panels and dialogs get the station
as an `AuditedStation`: every change the operator makes is in the audit trail (dialect `gui`,
address `local`, the OS user name), as every change an API client makes is.
"""

from __future__ import annotations

from datetime import datetime, timezone

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QWidget,
)

from app.identity import Identity
from app.audited import AuditedStation
from app.errors import StationError
from app.schemas import RecordStatus
from app.settings import Settings
from app.station import Station
from ui.alarms.alarm_desk import AlarmDesk
from ui.alarms.events_panel import EventsPanel
from ui.bridge import EventBridge
from ui.errors import error_text
from ui.groups_panel import GroupsPanel
from ui.icons import icon
from ui.motion_search.controller import MotionSearchGui
from ui.playback.launcher import PlaybackLauncher
from ui.recordings.bookmarks import ask_bookmark
from ui.status_bar import StationStatusBar
from ui.tags_panel import TagsPanel
from ui.tasks import TaskRunner
from ui.tray import StationTray
from ui.wall import CameraWall
from ui.tile_menu import TileMenu
from ui.wall_layouts import WallLayouts
from ui.wall_prefs import WallPrefs
from ui.window_access import WindowAccess

STOP, KEEP, CANCEL = "stop", "keep", "cancel"


class MainWindow(QMainWindow):
    def __init__(self, station: Station, bridge: EventBridge, api_url: str,
                 identity: Identity | None = None):
        super().__init__()
        self.station, self.bridge, self.api_url = station, bridge, api_url
        self.audited = AuditedStation(station)  # what panels and dialogs change is audited
        if identity is not None:  # before any panel reads: its first read is the user's
            self.audited.act_as(identity.who, identity.role, identity)
        self.tasks = TaskRunner(self)
        self.notifications: list[str] = []
        self._closing_confirmed = False
        self._stills_asked: set[tuple[int, str]] = set()  # (source, snapshot URL) fetched
        self.setWindowTitle(f"{station.name} — Recording Station {station.version}")
        self.setWindowIcon(icon("app"))
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is not None:
            self.resize(min(1360, screen.width() - 40), min(840, screen.height() - 60))

        self.wall = CameraWall(self._slot, station.sources.live_stats, self)
        self.wall_prefs = WallPrefs(station.settings.data_dir)
        self.motion_dialogs: dict[int, QWidget] = {}  # source id -> its open Motion… dialog
        self.wall_sources: list = []  # the sources the walls show (this user's), last read
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.wall, icon("camera"), "Live")
        self.setCentralWidget(self.tabs)
        self.groups = GroupsPanel(self.audited, self.tasks, self.report, self)
        self.tags = TagsPanel(self.audited, self.tasks, self.report, self)
        self._dock(self.groups, "Sources and groups", Qt.DockWidgetArea.LeftDockWidgetArea, 220)
        self._dock(self.tags, "Recording", Qt.DockWidgetArea.RightDockWidgetArea, 310)
        self.status = StationStatusBar(station.settings, api_url, self, storage=station.storage)
        self.setStatusBar(self.status)
        self.tray = StationTray(self)
        self.events = EventsPanel(self.audited, bridge, self.tasks, self)
        self.events_dock = self._dock(self.events, "Events", Qt.DockWidgetArea.BottomDockWidgetArea,
                                      300)
        self.alarms = AlarmDesk(station, bridge, self.tasks, self.wall,
                                announce=lambda text: self.tray.notify(text), parent=self)
        # Named layouts, full screen, other screens (#27): ui.wall_layouts; the tile menu.
        self.layouts = WallLayouts(self)
        self.tile_menu = TileMenu(self)
        self._build_menus()
        self._mount_optional_tabs()
        # Motion search (#28): on the player and the tiles, its hits on the Recordings timeline.
        self.motion_search = MotionSearchGui(
            self.audited, self.tasks, self.recordings, self.wall, self.report,
            show_recordings=lambda: self.tabs.setCurrentWidget(self.recordings))
        # Who the window acts as (#26): role, scope, the lock, the name in the status bar.
        self.access = WindowAccess(self, identity)
        self.access.lock.locked_changed.connect(self.layouts.set_locked)  # other screens too

        self.tags.follow(self.groups, self.wall)  # the tree's group, filter; the selection
        self.wall.focus_changed.connect(self._retry_focused)
        self.groups.filter_changed.connect(self.wall.show_only)
        self.groups.edit_source.connect(self.edit_source)
        self.groups.delete_source.connect(self.delete_source)
        self.groups.motion_source.connect(self.open_motion)
        self.wall.menu_requested.connect(self._tile_menu)
        # Other stations' starts and stops raise no event here: their REC marks follow the
        # catalog, read with the station rows (every 3 s, on a site only).
        self.groups.site_read.connect(self._read_recording_marks)
        bridge.source_status_changed.connect(self._on_source_status_changed)
        bridge.catalog_changed.connect(lambda *_: self.reload())
        bridge.recording_started.connect(self._on_recording_started)
        bridge.recording_stopped.connect(self._on_recording_stopped)
        bridge.recording_paused.connect(self._on_recording_paused)
        bridge.recording_muted.connect(self._on_recording_muted)
        bridge.storage_low.connect(self._on_storage_low)
        self.tags.running.model().modelReset.connect(self._count_recordings)
        self.alarms.count_changed.connect(self.status.set_alarm_count)
        self.status.alarms_clicked.connect(self.show_alarms)
        self.events.play_requested.connect(self.play_moment)
        self.recordings.timeline.event_clicked.connect(self.events.select_event)
        # Synchronised playback (ui.playback): "Play from here (all cameras)"
        self.playback = PlaybackLauncher(self.audited, self.tasks, self.report, self)
        self.events.play_together_requested.connect(self.playback.play_from_here)
        self.recordings.bookmarks.play_together_requested.connect(self.playback.play_from_here)
        self.recordings.play_together_requested.connect(self.playback.play_from_here)
        self.recordings.timeline.cameras_play_requested.connect(self.playback.play_sources)
        self.groups.play_group.connect(self.playback.ask_and_play)
        bridge.motion_changed.connect(lambda sid, active, _zones: self.wall.set_motion(sid, active))
        self.reload()
        if self.update_on_motion.isChecked():
            self.set_update_on_motion(True)

    # --- building ------------------------------------------------------------------
    def _dock(self, widget: QWidget, title: str, area: Qt.DockWidgetArea, width: int) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        widget.setMinimumWidth(width)
        self.addDockWidget(area, dock)
        return dock

    def _build_menus(self) -> None:
        station = self.menuBar().addMenu("&Station")
        self.settings_action = station.addAction(icon("settings"), "&Settings…",
                                                 self.open_settings)
        station.addAction("&Lock the window (Ctrl+L)", lambda: self.access.lock.lock())
        station.addAction("Open API &docs", lambda: QDesktopServices.openUrl(
            QUrl(self.api_url.rstrip("/") + "/api/docs")))
        station.addSeparator()
        station.addAction("&Quit", self.quit_station, QKeySequence.StandardKey.Quit)
        sources = self.menuBar().addMenu("S&ources")
        self.add_source_action = sources.addAction(icon("add"), "&Add source…", self.add_source,
                                                   QKeySequence("Ctrl+N"))
        self.new_group_action = sources.addAction(icon("add"), "New &group…",
                                                  self.groups.ask_new_group)
        view = self.menuBar().addMenu("&View")
        view.addAction("Back to the &grid", self.wall.unfocus)
        self.layouts.build_menu(view)
        self.update_on_motion = view.addAction("Update tiles on &motion only")
        self.update_on_motion.setCheckable(True)
        self.update_on_motion.setToolTip("Quiet cameras show a still marked “no motion” and "
                                         "cost no picture conversion or painting")
        self.update_on_motion.setChecked(self.wall_prefs.update_on_motion())
        self.update_on_motion.toggled.connect(self.set_update_on_motion)
        for dock in self.findChildren(QDockWidget):
            view.addAction(dock.toggleViewAction())
        # Application-wide: they work whichever panel has the focus.
        for keys, slot in (("Ctrl+R", self.tags.start_group), ("Ctrl+Shift+R", self.tags.stop_selected),
                           ("F9", self.tags.toggle)):
            QShortcut(QKeySequence(keys), self, activated=slot,
                      context=Qt.ShortcutContext.ApplicationShortcut)
        # B on the wall: a bookmark at this instant of the focused (or the one selected) tile.
        QShortcut(QKeySequence("B"), self.wall, activated=self.bookmark_live,
                  context=Qt.ShortcutContext.WindowShortcut)  # while the wall is shown

    def _mount_optional_tabs(self) -> None:
        """The recordings browser and the audit trail live in their own modules; mounted as
        the second and third tabs."""
        from ui.audit_view import AuditView
        from ui.recordings.recordings import RecordingsBrowser

        self.recordings = RecordingsBrowser(self.audited, self.bridge, self.tasks, self)
        self.tabs.addTab(self.recordings, icon("tag"), "Recordings")
        self.audit_view = AuditView(self.station, self.tasks, self)
        self.tabs.addTab(self.audit_view, icon("info"), "Audit")

    def _slot(self, source_id: int, preview: bool = False):
        try:
            return self.station.sources.frames(source_id, preview)
        except StationError:
            return None

    # --- reading the catalog ---------------------------------------------------------------
    def reload(self) -> None:
        self.tasks.run(self._read, self._apply)
        self.groups.reload()
        self.layouts.reload()  # a layout changed, a source deleted, another user signed in

    def _read(self):
        """The wall's sources and the groups to record: only the signed-in user's."""
        access = self.access
        return (access.visible_sources(self.station.sources.list()),
                [g.name for g in access.visible_groups(self.station.groups.list())],
                self.station.recordings.list(status=RecordStatus.recording))

    def _apply(self, result, error) -> None:
        if error is not None:
            self.report(f"Could not read the catalog: {error}", error=True)
            return
        sources, groups, running = result
        self.wall_sources = sources
        self.wall.set_sources(sources)
        self.layouts.set_sources(sources)
        self._read_moving()  # new tiles of sources in motion now
        self.alarms.show_on_tiles()  # new tiles of cameras lost already
        self.tags.set_groups(groups)
        self._mark_recording(running)
        self._show_stills(sources)

    def _show_stills(self, sources) -> None:
        """Tiles of cameras with a snapshot URL show it until their first frame: fetched once
        per snapshot URL, off the GUI thread; a failure leaves the tile as it is."""
        for source in sources:
            tile = self.wall.tiles.get(source.id)
            key = (source.id, source.uri_snapshot)
            if not source.uri_snapshot or tile is None or tile.image is not None \
                    or key in self._stills_asked:
                continue
            self._stills_asked.add(key)
            sources_service = self.station.sources

            def show(jpeg, error, source_id=source.id) -> None:
                tile = self.wall.tiles.get(source_id)
                if error is None and jpeg and tile is not None:
                    tile.set_still(QImage.fromData(jpeg, "JPEG"))
            self.tasks.run(lambda sid=source.id: sources_service.snapshot_jpeg(sid), show)

    def _read_recording_marks(self) -> None:
        recordings = self.station.recordings
        self.tasks.run(lambda: recordings.list(status=RecordStatus.recording),
                       lambda running, error: error is None and self._mark_recording(running))

    def _mark_recording(self, running) -> None:
        """Each tile's REC marks from the records running now, on whatever station: only what
        changed is set, so a mark that stays keeps its elapsed time."""
        wanted: dict[int, set[str]] = {}
        for record in running:
            if record.source is not None:
                wanted.setdefault(record.source.id, set()).add(record.tag_name or "")
        for source_id, tile in self.wall.tiles.items():
            tags = wanted.get(source_id, set())
            for tag in tile.recording_tags - tags:
                tile.set_recording(tag, False)
            for tag in tags - tile.recording_tags:
                tile.set_recording(tag, True)
        self.tags.refresh()

    # --- actions ---------------------------------------------------------------------
    def report(self, message: str, error: bool = False) -> None:
        """Errors and results of operator actions (the panels' `Report`): in the status bar,
        and an error as a dialog too unless the window is told to stay quiet (tests, kiosk
        use)."""
        self.status.showMessage(message, 8000)
        if error and not self.property("quiet_errors"):
            QMessageBox.warning(self, "Recording Station", message)

    def add_source(self) -> None:
        from ui.sources.source_dialog import SourceDialog

        SourceDialog.add(self.audited, self.tasks, self, group=self.tags.group, report=self.report)

    def edit_source(self, source_id: int) -> None:
        from ui.sources.source_dialog import SourceDialog

        SourceDialog.edit(self.audited, self.tasks, source_id, self)

    def delete_source(self, source_id: int) -> None:
        from ui.sources.source_dialog import confirm_delete_source

        confirm_delete_source(self.audited, self.tasks, source_id, self)

    def _tile_menu(self, source_id: int, where) -> None:
        """A tile's right-click menu (ui.tile_menu), on any wall of the window's."""
        self.last_tile_menu = self.tile_menu.popup(source_id, where)  # tests look at it

    def open_motion(self, source_id: int) -> None:
        """The source's zones and motion tuner (one dialog per source, brought to the front
        when asked again)."""
        from ui.motion.motion_dialog import MotionDialog

        dialog = self.motion_dialogs.get(source_id)
        if dialog is None:
            tile = self.wall.tiles.get(source_id)
            dialog = MotionDialog(self.audited, source_id, tile.name if tile else f"source {source_id}",
                                  self.tasks, self)
            dialog.destroyed.connect(lambda *_: self.motion_dialogs.pop(source_id, None))
            self.motion_dialogs[source_id] = dialog
        dialog.show()
        dialog.raise_()

    def set_update_on_motion(self, on: bool) -> None:
        """View > Update tiles on motion only: kept for this wall; the tiles of sources in
        motion now (asked off the GUI thread) stay awake from the start."""
        self.wall_prefs.set_update_on_motion(on)
        self.wall.set_update_on_motion(on)
        self._read_moving()

    def _read_moving(self) -> None:
        if self.wall.update_on_motion:
            motion, ids = self.station.motion, list(self.wall.tiles)
            self.tasks.run(lambda: [i for i in ids if motion.active(i)], self._moving_now)

    def _moving_now(self, moving, error) -> None:
        for source_id in moving if error is None else ():
            self.wall.set_motion(source_id, True)

    def open_settings(self) -> None:
        from ui.settings_dialog import SettingsDialog

        # The dialog saves through the station's SettingsService, which applies and audits.
        dialog = SettingsDialog(self.station.settings, self, station=self.station,
                                who=self.audited.actor["who"], role=self.access.role,
                                tasks=self.tasks)
        dialog.saved.connect(self._on_settings_saved)
        dialog.exec()

    def _on_settings_saved(self, settings: Settings) -> None:
        self.setWindowTitle(f"{settings.station_name} — Recording Station {self.station.version}")
        self.status.settings = settings
        self.status.refresh()
        self.access.lock.set_minutes(settings.gui_lock_minutes)

    def bookmark_live(self) -> None:
        """Mark now on the focused tile's source (or the only selected one): asks the title."""
        selected = self.wall.selected
        source_id = self.wall.focused or (next(iter(selected)) if len(selected) == 1 else None)
        tile = self.wall.tiles.get(source_id) if source_id else None
        if tile is None:
            self.report("Focus or select one camera to bookmark it (B).")
            return
        self.bookmark_dialog = ask_bookmark(self, self.audited, self.tasks, source_id, tile.name,
                                            datetime.now(timezone.utc), self._bookmark_added)

    def _bookmark_added(self, mark, error: BaseException | None) -> None:
        if error is not None:
            self.report(error_text(error), error=True)
        else:
            self.report(f"Bookmark “{mark.title}” added.")

    def show_alarms(self) -> None:
        """The status bar's alarm count clicked: the Events panel on what it counts (the
        unacknowledged alarms), shown and in front."""
        self.events_dock.show()
        self.events_dock.raise_()
        self.events.show_waiting_alarms()

    def play_moment(self, source_id: int, moment: datetime) -> None:
        """An event's moment, in the Recordings tab's player."""
        self.tabs.setCurrentWidget(self.recordings)
        self.recordings.play_moment(source_id, moment)

    def _retry_focused(self, source_id: int) -> None:
        """The operator looks at one source: one waiting to reconnect tries again at once
        rather than at the end of its back-off."""
        if source_id:
            sources = self.station.sources
            self.tasks.run(lambda: sources.retry_now(source_id), lambda *_: None)

    # --- core events ---------------------------------------------------------------------
    def _on_source_status_changed(self, source_id: int, status: str, error: str) -> None:
        tile = self.wall.tiles.get(source_id)
        if tile is not None:
            tile.set_status(status, error)

    def _on_recording_started(self, record_id: str, source_id: int, tag: str, origin: str) -> None:
        tile = self.wall.tiles.get(source_id)
        if tile is not None:
            tile.set_recording(tag, True)
            recordings = self.station.recordings  # started muted (Device Connect): no event says so
            self.tasks.run(lambda: recordings.control_state(record_id),
                           lambda state, error: self._show_controls(source_id, tag, state, error))
        if origin != "gui":
            self.notify(f"Recording “{tag}” started by {origin}.")
        self.status.set_storage_alert(None)  # recording again: the disk has room once more
        self.tags.refresh()

    def _on_recording_stopped(self, _record_id: str, source_id: int, tag: str, status: str,
                              origin: str) -> None:
        tile = self.wall.tiles.get(source_id)
        if tile is not None:
            tile.set_recording(tag, False)
        if origin != "gui":
            self.notify(f"Recording “{tag}” stopped by {origin} ({status}).")
        self.tags.refresh()

    def _on_recording_paused(self, _record_id: str, source_id: int, tag: str, paused: bool,
                             _origin: str) -> None:
        tile = self.wall.tiles.get(source_id)
        if tile is not None:
            tile.set_recording_flag(tag, "paused", paused)

    def _on_recording_muted(self, _record_id: str, source_id: int, tag: str, muted: bool,
                            _origin: str) -> None:
        tile = self.wall.tiles.get(source_id)
        if tile is not None:
            tile.set_recording_flag(tag, "muted", muted)

    def _show_controls(self, source_id: int, tag: str, state: dict | None, error) -> None:
        tile = self.wall.tiles.get(source_id)
        if tile is not None and error is None and state:
            for flag in ("paused", "muted"):
                tile.set_recording_flag(tag, flag, bool(state.get(flag)), initial=True)

    def _on_storage_low(self, message: str, _record_ids) -> None:
        """The storage guard stopped recordings for a full disk: the status bar says so
        until the next recording starts, and the tray tells an operator who is away."""
        self.status.set_storage_alert(message)
        self.notify(message)

    def notify(self, message: str) -> None:
        """Remote-control awareness: what an API client did, in the status bar and as a
        desktop notification from the tray icon."""
        self.notifications.append(message)
        self.status.showMessage(message, 6000)
        self.tray.notify(message)

    def _count_recordings(self) -> None:
        self.status.set_recording_count(sum(r.records for r in self.tags.summary))

    # --- closing ---------------------------------------------------------------------
    def running_count(self) -> int:
        return sum(len(t.recording_tags) for t in self.wall.tiles.values())

    def ask_close_choice(self) -> str:
        """Closing while recording: stop and quit, keep recording in the tray, or cancel.
        A preset `close_choice` property answers without asking (tests, kiosk set-ups)."""
        preset = self.property("close_choice")
        if preset in (STOP, KEEP, CANCEL):
            return preset
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Recordings are running")
        box.setText(f"{self.running_count()} recording(s) are running.")
        box.setInformativeText("Stop them and quit, or keep the station recording in the "
                               "background (it stays reachable from the tray and the API)?")
        stop = box.addButton("Stop and quit", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep recording", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep)
        box.exec()
        clicked = box.clickedButton()
        return STOP if clicked is stop else KEEP if clicked is keep else CANCEL

    def quit_station(self) -> None:
        """Station > Quit: closing the window quits (asking first while recordings run)."""
        self.close()

    def close_for_signal(self) -> bool:
        """SIGTERM or SIGINT (a logout, `systemctl stop`, `kill`): nobody is there to answer
        "Recordings are running", and a question on screen would hang the shutdown until the
        sender kills the station mid-file. Quit as "Stop and quit" does: the station finishes
        every recording (MD5, catalog) on its way out."""
        self._closing_confirmed = True
        return self.close()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if self.access.lock.locked and not self._closing_confirmed:
            event.ignore()  # a locked window is closed by unlocking it first (or a signal)
            return
        if self.running_count() and not self._closing_confirmed:
            choice = self.ask_close_choice()
            if choice == CANCEL:
                event.ignore()
                return
            if choice == KEEP:
                event.ignore()
                self.tray.keep_running()
                return
            self._closing_confirmed = True
        for dialog in list(self.motion_dialogs.values()):
            dialog.close()
        self.layouts.shutdown()
        self.wall.close_wall()
        self.tags.close_panel()
        self.recordings.shutdown()
        self.motion_search.shutdown()
        self.playback.shutdown()
        self.audit_view.shutdown()
        self.events.shutdown()
        self.alarms.shutdown()
        self.status.stop()
        self.tray.hide()
        self.tasks.shutdown()
        super().closeEvent(event)
