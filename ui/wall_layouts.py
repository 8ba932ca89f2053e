"""The window's named layouts (#27 items 1 and 2): which layout each wall shows, the View
menu's Layouts, hotkeys 1-9, the tour, full screen and layouts on other screens.

- The layouts are the catalog's (`station.layouts`, shared by the site), read on a worker
  thread within the user's scope (cells of sources they may not see come back empty) and
  read again with the window's sources: when any front end changes the catalog (a layout, a
  source deleted) and when another user signs in.
- A group or source clicked in the tree goes back to the automatic grid, showing it.
- Which layout the main wall shows is remembered per screen (the screen the window is on)
  and the windows on other screens with theirs, in the wall preferences (`ui.wall_prefs`),
  not in the catalog: that is this PC's view, not the site's data.
- A source dropped on a cell changes the layout for everyone: `layouts.update` through the
  audited station (operator role: "update layout"); refused, the wall is put back.
- The window's lock (`ui.lock`) hides the windows on other screens until it is unlocked.
- The tour cycles the chosen layouts every N seconds on the main wall; choosing a layout by
  hand (menu, hotkey) ends it. A tour still running when the window closes starts again in
  the next window (its layouts, seconds and running state are in the wall preferences).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QMenu, QMessageBox

from app.layouts.schemas import LayoutChange, LayoutIn, LayoutOut
from app.layouts.shapes import cell_count
from ui.errors import error_text
from ui.layout_dialogs import NewLayoutDialog, ScreenDialog, TourDialog
from ui.layout_window import LayoutWindow, place
from ui.session import gate_menu, visible_sources

if TYPE_CHECKING:
    from ui.main_window import MainWindow

MENU_ACTIONS = {"&New layout…": "create layout", "&Delete this layout…": "delete layout"}
HOTKEYS = 9  # 1-9: the first nine layouts in the menu's order (by name)


class WallLayouts(QObject):
    def __init__(self, window: "MainWindow"):
        super().__init__(window)
        self.window = window
        self.layouts: list[LayoutOut] = []
        self.current: int | None = None  # the main wall's layout; None: automatic grid
        self.windows: list[LayoutWindow] = []
        self._restored = False
        self.locked = False  # the window's lock covers the other screens' windows too
        self.tour_timer = QTimer(self)
        self.tour_timer.timeout.connect(self._tour_step)
        window.wall.cells_changed.connect(lambda cells: self.store_cells(self.current, cells))
        window.wall.escaped.connect(lambda: self.set_full_screen(False))
        # A click in the tree (not a drag out of it, nor the tree rebuilt after a catalog
        # change, which also moves its current item) shows that pick on the automatic grid.
        window.groups.tree.itemClicked.connect(lambda *_: self._leave_layout())
        for n in range(1, HOTKEYS + 1):
            QShortcut(QKeySequence(str(n)), window, activated=lambda n=n: self.choose_nth(n),
                      context=Qt.ShortcutContext.WindowShortcut)
        QShortcut(QKeySequence("F11"), window, activated=self.toggle_full_screen,
                  context=Qt.ShortcutContext.WindowShortcut)

    # --- the View menu ---------------------------------------------------------------
    def build_menu(self, view: QMenu) -> None:
        self.full_screen_action = view.addAction("&Full screen wall (F11, Esc leaves)",
                                                 self.toggle_full_screen)
        self.full_screen_action.setCheckable(True)
        self.menu = view.addMenu("&Layouts")
        self.menu.aboutToShow.connect(self._fill_menu)
        view.addAction("Open layout on &screen…", self.ask_open_on_screen)
        self._fill_menu()

    def _fill_menu(self) -> None:
        menu = self.menu
        menu.clear()
        auto = menu.addAction("&Automatic grid", lambda: self.choose(None))
        auto.setCheckable(True)
        auto.setChecked(self.current is None)
        for n, layout in enumerate(self.layouts, start=1):
            label = f"{layout.name}  ({layout.shape})"
            action = menu.addAction(label, lambda lid=layout.id: self.choose(lid))
            action.setCheckable(True)
            action.setChecked(layout.id == self.current)
            if n <= HOTKEYS:
                action.setShortcut(QKeySequence(str(n)))
                action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # the window's own keys act
        menu.addSeparator()
        menu.addAction("&New layout…", self.ask_new_layout)
        delete = menu.addAction("&Delete this layout…", self.ask_delete)
        delete.setEnabled(self.current is not None)
        tour = menu.addAction("&Tour…", self.ask_tour)
        stop = menu.addAction("Stop the tour", self.stop_tour)
        stop.setEnabled(self.tour_timer.isActive())
        tour.setEnabled(bool(self.layouts))
        access = getattr(self.window, "access", None)  # None while the window is being built
        if access is not None:
            gate_menu(menu, MENU_ACTIONS, access.gate.allowed)

    # --- reading ---------------------------------------------------------------------
    def reload(self) -> None:
        audited = self.window.audited
        self.window.tasks.run(lambda: audited.layouts.list(visible_sources(audited)), self._read)

    def _read(self, layouts, error) -> None:
        if error is not None:
            self.window.report(f"Could not read the layouts: {error_text(error)}", error=True)
            return
        self.layouts = list(layouts)
        if not self._restored:
            self._restored = True
            self.current = self.window.wall_prefs.layout_for(self.screen_name())
            self.restore_windows()
            if self.window.wall_prefs.tour_running():
                self.start_tour(*self.window.wall_prefs.tour(), resume=True)
        self._show_current(announce=False)  # a read: the operator's last message stays
        for window in self.windows:
            self._show_in(window)

    def by_id(self, layout_id: int | None) -> LayoutOut | None:
        return next((l for l in self.layouts if l.id == layout_id), None)

    # --- the main wall -----------------------------------------------------------------
    def screen_name(self) -> str:
        screen = self.window.screen()
        return screen.name() if screen is not None else "main"

    def choose(self, layout_id: int | None) -> None:
        """The operator picks a layout (or the automatic grid): ends a tour."""
        self.stop_tour()
        self._switch(layout_id)

    def choose_nth(self, n: int) -> None:
        if 0 < n <= len(self.layouts):
            self.choose(self.layouts[n - 1].id)

    def _switch(self, layout_id: int | None) -> None:
        self.current = layout_id if self.by_id(layout_id) is not None else None
        self.window.wall_prefs.set_layout_for(self.screen_name(), self.current)
        self._show_current()

    def _show_current(self, announce: bool = True) -> None:
        """Show the current layout; `announce` it in the status bar when the operator chose
        it (a read after each catalog change must not replace what a stop just reported)."""
        layout = self.by_id(self.current)
        if layout is None:
            self.current = None
            if self.window.wall.layout_shape is not None:
                self.window.wall.set_layout(None)
        elif (self.window.wall.layout_shape, self.window.wall.cells) != (layout.shape, layout.cells):
            self.window.wall.set_layout(layout.shape, layout.cells)
        if announce:
            self.window.status.showMessage(
                f"Layout: {layout.name if layout else 'automatic grid'}", 4000)

    def _leave_layout(self) -> None:
        """A group (or source) clicked in the tree shows it on the automatic grid."""
        if self.current is not None:
            self.choose(None)

    def store_cells(self, layout_id: int | None, cells: list) -> None:
        """Cells rearranged on a wall: stored in the catalog for every station and screen."""
        if layout_id is None:
            return
        audited = self.window.audited

        def done(result, error) -> None:
            if error is not None:
                self.window.report(f"Could not change the layout: {error_text(error)}", error=True)
            self.reload()  # stored or refused: every wall shows what the catalog holds
        self.window.tasks.run(lambda: audited.layouts.update(
            layout_id, LayoutChange(cells=cells), visible_sources(audited)), done)

    # --- creating and deleting -----------------------------------------------------------
    def ask_new_layout(self) -> None:
        dialog = NewLayoutDialog(self.window)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self.create(dialog.name.text(), dialog.shape.currentText())

    def create(self, name: str, shape: str) -> None:
        """A new layout filled with the sources the wall shows now, in order (the operator
        rearranges them by dragging), shown at once."""
        count = cell_count(shape)
        shown = self.window.wall.shown_ids()[:count]
        cells = shown + [None] * (count - len(shown))
        audited = self.window.audited

        def done(layout, error) -> None:
            if error is not None:
                self.window.report(error_text(error), error=True)
                return
            self.layouts = sorted([*self.layouts, layout], key=lambda l: (l.name, l.id))
            self.choose(layout.id)
        self.window.tasks.run(lambda: audited.layouts.create(
            LayoutIn(name=name, shape=shape, cells=cells), visible_sources(audited)), done)

    def ask_delete(self) -> None:
        layout = self.by_id(self.current)
        if layout is None:
            return
        if QMessageBox.question(self.window, "Delete layout",
                                f"Delete the layout “{layout.name}” for every station?") \
                != QMessageBox.StandardButton.Yes:
            return
        audited = self.window.audited
        self.window.tasks.run(lambda: audited.layouts.delete(layout.id, visible_sources(audited)),
                              lambda _r, error: error is not None and self.window.report(
                                  error_text(error), error=True))

    # --- the tour --------------------------------------------------------------------
    def ask_tour(self) -> None:
        ids, seconds = self.window.wall_prefs.tour()
        dialog = TourDialog(self.window, self.layouts, ids, seconds)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.start_tour(dialog.chosen(), dialog.seconds.value())

    def start_tour(self, layout_ids: list[int], seconds: int, *, resume: bool = False) -> None:
        """Cycle `layout_ids` every `seconds`; `resume` (a restart): from the layout the
        wall was left on when it is one of the tour's, rather than from the first."""
        prefs = self.window.wall_prefs
        prefs.set_tour(layout_ids, seconds)
        self.tour_ids = [i for i in layout_ids if self.by_id(i) is not None]
        prefs.set_tour_running(bool(self.tour_ids))
        if not self.tour_ids:
            return
        self.tour_timer.start(seconds * 1000)
        if resume and self.current in self.tour_ids:
            self._show_current(announce=False)
        else:
            self._switch(self.tour_ids[0])

    def _tour_step(self) -> None:
        ids = [i for i in self.tour_ids if self.by_id(i) is not None]
        if not ids:
            self.stop_tour()
            return
        at = ids.index(self.current) + 1 if self.current in ids else 0
        self._switch(ids[at % len(ids)])

    def stop_tour(self) -> None:
        """The operator ends the tour (or chose a layout): the next window does not tour."""
        if self.tour_timer.isActive():
            self.window.wall_prefs.set_tour_running(False)
        self.tour_timer.stop()

    # --- full screen -------------------------------------------------------------------
    def toggle_full_screen(self) -> None:
        self.set_full_screen(not self.window.isFullScreen())

    def set_full_screen(self, on: bool) -> None:
        """The wall alone on the whole screen: docks, menus, tabs and status bar hidden
        (and shown again as they were)."""
        w = self.window
        if on == w.isFullScreen():
            return
        if on:
            self._hidden = [d for d in w.findChildren(type(w.events_dock)) if d.isVisible()]
            for dock in self._hidden:
                dock.hide()
            w.tabs.setCurrentWidget(w.wall)
            for bar in (w.menuBar(), w.statusBar(), w.tabs.tabBar()):
                bar.hide()
            w.showFullScreen()
        else:
            for dock in getattr(self, "_hidden", []):
                dock.show()
            for bar in (w.menuBar(), w.statusBar(), w.tabs.tabBar()):
                bar.show()
            w.showNormal()
        self.full_screen_action.setChecked(on)

    # --- layouts on other screens -----------------------------------------------------
    def ask_open_on_screen(self) -> None:
        if not self.layouts:
            self.window.report("No layouts yet: View › Layouts › New layout… makes one.")
            return
        dialog = ScreenDialog(self.window, self.layouts)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.open_on_screen(dialog.layout.currentData(), dialog.screen.currentText())

    def open_on_screen(self, layout_id: int, screen_name: str) -> LayoutWindow:
        window = LayoutWindow(layout_id, screen_name, self.window._slot,
                              self.window.station.sources.live_stats)
        window.menu_requested.connect(self.window.wall.menu_requested)
        window.cells_changed.connect(self.store_cells)
        window.closed.connect(self._window_closed)
        window.hotkey.connect(self._window_hotkey)
        window.wall.set_sources(self.window.wall_sources)
        self.windows.append(window)
        self._show_in(window)
        if not self.locked:
            window.show()
        self._remember_windows()
        return window

    def set_locked(self, locked: bool) -> None:
        """The window locked (or unlocked): its layouts on other screens are hidden with it,
        so neither their pictures nor their tiles' menus are there for whoever walks by."""
        self.locked = locked
        for window in self.windows:
            window.setVisible(not locked)

    def _window_hotkey(self, window: LayoutWindow, n: int) -> None:
        """1-9 on a screen's window: that layout there, remembered for the next start."""
        if 0 < n <= len(self.layouts):
            window.layout_id = self.layouts[n - 1].id
            self._show_in(window)
            self._remember_windows()

    def _show_in(self, window: LayoutWindow) -> None:
        layout = self.by_id(window.layout_id)
        if layout is not None:
            window.show_layout(layout.name, layout.shape, layout.cells)

    def restore_windows(self) -> None:
        screens = [s.name() for s in QGuiApplication.screens()]
        primary = QGuiApplication.primaryScreen()
        for layout_id, screen in place(self.window.wall_prefs.layout_windows(), screens,
                                       primary.name() if primary else ""):
            if self.by_id(layout_id) is not None:
                self.open_on_screen(layout_id, screen)

    def _window_closed(self, window: LayoutWindow) -> None:
        if window in self.windows:
            self.windows.remove(window)
            if not self._closing:
                self._remember_windows()

    _closing = False

    def _remember_windows(self) -> None:
        self.window.wall_prefs.set_layout_windows([(w.layout_id, w.screen_name) for w in self.windows])

    def set_sources(self, sources) -> None:
        for window in self.windows:
            window.wall.set_sources(sources)

    def shutdown(self) -> None:
        """The station's window closes: the other screens' windows close with it and are
        remembered, to come back at the next start."""
        self._closing = True
        self.tour_timer.stop()  # not stop_tour: a running tour is remembered as running
        for window in list(self.windows):
            window.close()
