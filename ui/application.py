"""Runs the Qt application around a started station: who the window acts as (#26), the
bridge, the main window, and SIGINT/SIGTERM handling (Python signal handlers only run while
Python code runs, so a short timer gives the interpreter a slice of the Qt event loop).

Who the window acts as is decided here, before it opens:
- the first start made `admin` (its password came from app.main): the window acts as admin
  and the first-run dialog, over the window, shows that password once (it does not hold the
  window back: the tiles and SIGTERM work behind it);
- `gui_login` on: the sign-in dialog; cancelled, the station stops as if the window closed;
- `gui_login` off: nobody (every action, as before accounts). An upgraded install, whose
  config file never said either way, is told once that sign-in can be switched on."""

from __future__ import annotations

import signal
import sys
from typing import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog

from app.identity import Identity
from app.accounts.service import FIRST_ADMIN
from app.settings import env_override, read_config, write_config
from app.station import Station
from ui.access_dialog import install_access_approvals
from ui.bridge import EventBridge
from ui.icons import icon
from ui.main_window import MainWindow
from ui.session import identity_of
from ui.sign_in import FirstRunDialog, SignInDialog, audit_sign_in
from ui.tasks import TaskRunner
from ui.theme import apply_theme

UPGRADE_NOTICE = ("This station has user accounts now. Sign-in at start is off on this "
                  "install: switch it on in Settings › Security (Sign-in), and manage "
                  "accounts in Settings › Users.")
NOTICE_MS = 60_000


def ensure_application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Recording Station")
    app.setDesktopFileName("recording-station")  # the menu entry a taskbar groups it under
    app.setWindowIcon(icon("app"))
    apply_theme(app)
    return app


def _exec(dialog: QDialog) -> int:
    return dialog.exec()


class NoSignIn(Exception):
    """The sign-in dialog was closed without signing in: the window does not open."""


def identity_at_start(station: Station, first_admin: str | None, *,
                      show: Callable[[QDialog], int] = _exec) -> Identity | None:
    """Who the window acts as (None: nobody, sign-in is off). `show` runs a dialog and
    returns its result (tests drive the dialogs through it). Raises NoSignIn."""
    if first_admin is not None:
        admin = station.accounts.get(FIRST_ADMIN)
        if admin is not None:
            audit_sign_in(station, admin.name, True)
            return identity_of(admin)
    if not station.settings.gui_login:
        return None
    tasks = TaskRunner()
    try:
        dialog = SignInDialog(station, tasks)
        if show(dialog) != QDialog.DialogCode.Accepted or dialog.user is None:
            raise NoSignIn()
        return identity_of(dialog.user)
    finally:
        tasks.shutdown()
        tasks.deleteLater()


def upgrade_notice_due(station: Station) -> bool:
    """An install from before accounts: sign-in is off because its config file never said
    (not because someone switched it off), and the notice was not shown yet."""
    settings = station.settings
    if settings.gui_login or settings.gui_login_notice_shown or env_override("gui_login"):
        return False
    try:
        return "gui_login" not in read_config()
    except (OSError, ValueError):
        return False


def show_first_run(window: MainWindow, password: str) -> FirstRunDialog:
    """The first-run dialog, modal over the window but without a loop of its own."""
    dialog = FirstRunDialog(password, window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def show_upgrade_notice(window: MainWindow) -> None:
    window.status.showMessage(UPGRADE_NOTICE, NOTICE_MS)
    window.notifications.append(UPGRADE_NOTICE)
    try:
        write_config({"gui_login_notice_shown": True})
    except OSError:
        pass  # shown again next time: better than never


def run_gui(station: Station, api_url: str, first_admin: str | None = None) -> int:
    app = ensure_application()
    opened: list[MainWindow] = []

    def on_signal(_signum, _frame) -> None:
        if opened:
            opened[0].close_for_signal()
        else:  # still asking who signs in: the dialog's answer is "nobody"
            dialog = QApplication.activeModalWidget()
            if isinstance(dialog, QDialog):
                dialog.reject()
        app.quit()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start(200)
    bridge = None
    try:
        try:
            identity = identity_at_start(station, first_admin)
        except NoSignIn:
            return 0
        bridge = EventBridge(station.bus)
        window = MainWindow(station, bridge, api_url, identity)
        opened.append(window)
        install_access_approvals(window.audited, bridge, window)  # Device Connect token requests
        window.show()
        if first_admin is not None:
            show_first_run(window, first_admin)
        elif upgrade_notice_due(station):
            show_upgrade_notice(window)
        return app.exec()
    finally:
        heartbeat.stop()
        if bridge is not None:
            bridge.close()
