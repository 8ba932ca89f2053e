"""The tray icon: the way back to a window closed while the station keeps recording, and
the place desktop notifications come from. Without a system tray (a bare X server, some
desktops) the window minimises instead of hiding, so it can always be found again."""

from __future__ import annotations

from PySide6.QtWidgets import QMainWindow, QMenu, QSystemTrayIcon

from ui.icons import icon


class StationTray:
    def __init__(self, window: QMainWindow):
        self.window = window
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.icon: QSystemTrayIcon | None = None
        if self.available:
            self.icon = QSystemTrayIcon(icon("app"), window)
            self.icon.setToolTip(window.windowTitle())
            menu = QMenu(window)
            menu.addAction("Show the station", self.restore)
            menu.addSeparator()
            menu.addAction("Stop recordings and quit", self._quit)
            self.icon.setContextMenu(menu)
            self.icon.activated.connect(lambda reason: self.restore()
                                        if reason == QSystemTrayIcon.ActivationReason.Trigger else None)
            self.icon.show()

    def notify(self, message: str) -> None:
        if self.icon is not None and self.icon.supportsMessages():
            self.icon.showMessage("Recording Station", message, icon("app"), 4000)

    def keep_running(self) -> None:
        """The window goes away, the station keeps recording."""
        if self.icon is not None:
            self.window.hide()
            self.notify("Still recording. Open the station from this icon.")
        else:
            self.window.showMinimized()

    def restore(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def _quit(self) -> None:
        self.window.setProperty("close_choice", "stop")
        self.window.close()

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()
