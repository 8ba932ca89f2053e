"""Runs the Qt application around a started station: the bridge, the main window, and
SIGINT/SIGTERM handling (Python signal handlers only run while Python code runs, so a short
timer gives the interpreter a slice of the Qt event loop)."""

from __future__ import annotations

import signal
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.station import Station
from ui.access_dialog import install_access_approvals
from ui.bridge import EventBridge
from ui.icons import icon
from ui.main_window import MainWindow
from ui.theme import apply_theme


def ensure_application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Recording Station")
    app.setDesktopFileName("recording-station")  # the menu entry a taskbar groups it under
    app.setWindowIcon(icon("app"))
    apply_theme(app)
    return app


def run_gui(station: Station, api_url: str) -> int:
    app = ensure_application()
    bridge = EventBridge(station.bus)
    window = MainWindow(station, bridge, api_url)
    install_access_approvals(window.audited, bridge, window)  # Device Connect token requests
    window.show()

    def on_signal(_signum, _frame) -> None:
        window.close_for_signal()
        app.quit()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start(200)
    try:
        return app.exec()
    finally:
        heartbeat.stop()
        bridge.close()
