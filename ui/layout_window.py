"""A layout in a frameless window of its own on any connected screen (#27 item 2: "Open
layout on screen…"): a second (third …) wall filling that screen, its tiles' menus those
of the main window, closed with Esc or Ctrl+W; keys 1-9 switch it to another layout, as on the main window.

The windows open are kept in the wall preferences (`ui.wall_prefs`) and come back at the
next start on the same screens by name; a screen that is gone puts its window on the main
screen (`place`), so a laptop taken away from its second monitor still shows everything.
"""

from __future__ import annotations


from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QScreen, QShortcut
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ui.tile import StatsProvider
from ui.wall import CameraWall, SlotProvider


def place(wanted: list[tuple[int, str]], screens: list[str], primary: str) -> list[tuple[int, str]]:
    """Where each (layout id, screen name) window opens: its own screen when connected,
    else the primary one. Pure, so it is tested with screens as data."""
    return [(layout, screen if screen in screens else primary) for layout, screen in wanted]


def screen_named(name: str) -> QScreen | None:
    for screen in QGuiApplication.screens():
        if screen.name() == name:
            return screen
    return QGuiApplication.primaryScreen()


class LayoutWindow(QWidget):
    """One layout filling one screen, without a frame."""

    closed = Signal(object)  # this window, after it closed
    menu_requested = Signal(int, QPoint)
    cells_changed = Signal(int, list)  # layout id, its cells after a drop
    hotkey = Signal(object, int)  # this window, the digit 1-9 pressed: show that layout here

    def __init__(self, layout_id: int, screen_name: str, slots: SlotProvider,
                 stats: StatsProvider):
        super().__init__(None, Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint)
        self.layout_id, self.screen_name = layout_id, screen_name
        self.setObjectName("layoutWindow")
        self.wall = CameraWall(slots, stats, self)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.wall)
        self.wall.menu_requested.connect(self.menu_requested)
        self.wall.cells_changed.connect(lambda cells: self.cells_changed.emit(self.layout_id, cells))
        self.wall.escaped.connect(self.close)
        QShortcut(QKeySequence("Ctrl+W"), self, activated=self.close)
        for n in range(1, 10):
            QShortcut(QKeySequence(str(n)), self, activated=lambda n=n: self.hotkey.emit(self, n))
        screen = screen_named(screen_name)
        if screen is not None:
            self.setScreen(screen)
            self.setGeometry(screen.geometry())

    def show_layout(self, name: str, shape: str, cells: list[int | None]) -> None:
        self.setWindowTitle(name)
        self.wall.set_layout(shape, cells)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.wall.close_wall()
        super().closeEvent(event)
        self.closed.emit(self)
