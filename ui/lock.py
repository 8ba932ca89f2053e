"""The window's lock (#26): Ctrl+L, or `gui_lock_minutes` without input, hides everything the
window shows behind a lock screen that says who is signed in; the signed-in user's password
unlocks it, or someone else signs in instead (the window then acts as them).

Only the window locks: recordings, the API and MQTT go on, and the tiles keep their slots
(nothing waits on the GUI). While locked the menus, the docks and the window's shortcut keys
(Ctrl+R starts recordings from anywhere) are disabled, floating docks hidden, so no input
reaches an action under the cover.

The idle clock is an application event filter: any key, click, wheel or mouse move restarts
it (a timer restart, nothing more)."""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QVBoxLayout,
    QWidget,
)

from app.identity import Identity
from app.accounts.service import UserOut
from ui.sign_in import SignInDialog
from ui.tasks import TaskRunner

BACKGROUND = "#1a202c"
INPUT = {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
         QEvent.Type.Wheel, QEvent.Type.TouchBegin}


class LockScreen(QWidget):
    """The cover: opaque, over the whole window, with who is signed in and the unlock form."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setObjectName("lock_screen")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)  # opaque: nothing shows
        self.setAutoFillBackground(True)
        self.setStyleSheet(f"#lock_screen {{ background: {BACKGROUND}; }} "
                           "#lock_screen QLabel { color: #e2e8f0; }")
        self.title = QLabel("Recording Station is locked")
        self.title.setStyleSheet("font-size: 20px; font-weight: bold;")
        self.who = QLabel("")
        self.note = QLabel("Recordings continue while the window is locked.")
        self.form_holder = QVBoxLayout()
        column = QVBoxLayout(self)
        column.addStretch(1)
        for label in (self.title, self.who, self.note):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            column.addWidget(label)
        column.addLayout(self.form_holder)
        column.addStretch(2)
        self.hide()


class WindowLock(QObject):
    """Locks `window` and unlocks it for a user's password. `user()` says who is signed in
    now; `on_unlock(user)` is told who unlocked (another user: the window switches)."""

    locked_changed = Signal(bool)

    def __init__(self, window: QMainWindow, station: Any, tasks: TaskRunner, minutes: int,
                 user: Callable[[], Identity | None], on_unlock: Callable[[UserOut], None]):
        super().__init__(window)
        self.window, self.station, self.tasks = window, station, tasks
        self._user, self._on_unlock = user, on_unlock
        self.locked = False
        self.screen = LockScreen(window)
        self.form: SignInDialog | None = None
        self._disabled: list[Any] = []
        self._hidden: list[QDockWidget] = []
        self.idle = QTimer(self, singleShot=True)
        self.idle.timeout.connect(self.lock)
        self.set_minutes(minutes)
        self.shortcut = QShortcut(QKeySequence("Ctrl+L"), window, activated=self.lock,
                                  context=Qt.ShortcutContext.ApplicationShortcut)
        window.installEventFilter(self)
        QApplication.instance().installEventFilter(self)

    def set_minutes(self, minutes: int) -> None:
        """0: never by itself (Ctrl+L still locks)."""
        self.idle.setInterval(max(0, minutes) * 60_000)
        self.restart_idle()

    def restart_idle(self) -> None:
        if self.idle.interval() > 0 and not self.locked and self._user() is not None:
            self.idle.start()
        else:
            self.idle.stop()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt naming
        kind = event.type()
        if kind in INPUT and not self.locked and self.idle.isActive():
            self.idle.start()
        elif watched is self.window and kind == QEvent.Type.Resize and self.locked:
            self.screen.setGeometry(self.window.rect())
        return False

    def lock(self) -> bool:
        """Cover the window; False when nobody is signed in (sign-in is off: no password
        could unlock it)."""
        user = self._user()
        if user is None or self.locked:
            return False
        self.locked = True
        self.idle.stop()
        window = self.window
        controls: list[Any] = [window.menuBar(), window.centralWidget(),
                               *window.findChildren(QDockWidget)]
        controls += [s for s in window.findChildren(QShortcut) if s is not self.shortcut]
        self._disabled = [c for c in controls if c is not None and c.isEnabled()]
        for control in self._disabled:
            control.setEnabled(False)
        self._hidden = [d for d in window.findChildren(QDockWidget)
                        if d.isFloating() and d.isVisible()]
        for dock in self._hidden:
            dock.hide()
        self.screen.who.setText(f"Signed in: {user.name} ({user.role})")
        self._new_form(user.name)
        self.screen.setGeometry(window.rect())
        self.screen.show()
        self.screen.raise_()
        self.form.password_edit.setFocus()
        self.locked_changed.emit(True)
        return True

    def _new_form(self, name: str) -> None:
        if self.form is not None:
            self.form.deleteLater()
        form = SignInDialog(self.station, self.tasks, self.screen, name=name,
                            title="Unlock")
        form.setWindowFlags(Qt.WindowType.Widget)  # a form on the cover, not a window
        form.quit_button.hide()
        form.heading.hide()  # the cover says what this is
        form.sign_in_button.setText("Unlock")
        form.setMaximumWidth(420)
        form.accepted.connect(lambda: self._unlocked(form))
        self.screen.form_holder.addWidget(form, 0, Qt.AlignmentFlag.AlignHCenter)
        form.show()
        self.form = form

    def _unlocked(self, form: SignInDialog) -> None:
        if form.user is None:
            return
        self.locked = False
        self.screen.hide()
        for control in self._disabled:
            control.setEnabled(True)
        for dock in self._hidden:
            dock.show()
        self._disabled, self._hidden = [], []
        self._on_unlock(form.user)
        self.restart_idle()
        self.locked_changed.emit(False)
