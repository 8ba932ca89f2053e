"""Signing in to the window (#26): the sign-in dialog at start (`gui_login`), the same
dialog to unlock a locked window, and the first start's dialog that shows the `admin`
password once.

The password is checked by `AccountService.verify` on a worker thread (`TaskRunner`): its
scrypt takes ~0.1 s, which the GUI thread must not spend. A refusal says only that the name
and password did not match (never which one was wrong); five in a row pause the dialog for
30 s, so guessing from the keyboard is slow. Each sign-in and refusal is in the audit trail
(dialect `gui`), never with the password.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.accounts.service import FIRST_ADMIN, UserOut
from ui.tasks import TaskRunner

MAX_TRIES = 5        # wrong answers in a row before a pause
PAUSE_MS = 30_000    # how long the pause is
REFUSED = "The user name or the password is not right."


def audit_sign_in(station: Any, name: str, ok: bool) -> None:
    """A sign-in (or a refused one) in the trail; the name is what was typed, the password
    never goes anywhere but `verify`."""
    audit = getattr(station, "audit", None)
    if audit is not None:
        audit.record(dialect="gui", address="local", who=name[:64] or "-", action="sign in",
                     target=f"user {name[:64]}", result="ok" if ok else "failed: refused")


class SignInDialog(QDialog):
    """Name and password; `user` is the account once accepted. With `name` the dialog
    unlocks the window for that user (the name fixed) and offers "Sign in as someone else",
    which frees the name field."""

    def __init__(self, station: Any, tasks: TaskRunner, parent: QWidget | None = None, *,
                 name: str | None = None, title: str = "Sign in — Recording Station"):
        super().__init__(parent)
        self.station, self.tasks = station, tasks
        self.user: UserOut | None = None
        self.failures = 0
        self.checking = False
        self.setWindowTitle(title)
        self.name_edit = QLineEdit(name or "")
        self.name_edit.setObjectName("sign_in_name")
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("sign_in_password")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #c53030;")
        form = QFormLayout()
        form.addRow("User name", self.name_edit)
        form.addRow("Password", self.password_edit)
        self.buttons = QDialogButtonBox(self)
        self.sign_in_button = self.buttons.addButton("Sign in",
                                                     QDialogButtonBox.ButtonRole.AcceptRole)
        self.sign_in_button.setDefault(True)
        self.other_button = QPushButton("Sign in as someone else")
        self.other_button.clicked.connect(self.someone_else)
        self.buttons.addButton(self.other_button, QDialogButtonBox.ButtonRole.ResetRole)
        self.other_button.setVisible(name is not None)  # after the box, which shows it
        self.quit_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.sign_in_button.clicked.connect(self.try_sign_in)
        self.buttons.rejected.connect(self.reject)
        self._pause = QTimer(self, singleShot=True, interval=PAUSE_MS)
        self._pause.timeout.connect(self._end_pause)
        self.heading = QLabel(f"Sign in to {getattr(station, 'name', 'Recording Station')}")
        self.heading.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.setMinimumWidth(380)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        if name is not None:
            self.name_edit.setReadOnly(True)
            self.password_edit.setFocus()

    @property
    def paused(self) -> bool:
        return self._pause.isActive()

    def someone_else(self) -> None:
        self.name_edit.setReadOnly(False)
        self.name_edit.clear()
        self.password_edit.clear()
        self.name_edit.setFocus()

    def try_sign_in(self) -> None:
        name, password = self.name_edit.text().strip(), self.password_edit.text()
        if self.checking or self.paused:
            return
        if not name or not password:
            self.message.setText("Type your user name and password.")
            return
        self.checking = True
        self.sign_in_button.setEnabled(False)
        self.message.setText("Checking…")
        accounts, station = self.station.accounts, self.station

        def check() -> UserOut | None:
            user = accounts.verify(name, password)
            audit_sign_in(station, name, user is not None)
            return user
        self.tasks.run(check, self._checked)

    def _checked(self, user: UserOut | None, error: BaseException | None) -> None:
        self.checking = False
        self.password_edit.clear()
        if error is None and user is not None:
            self.user, self.failures = user, 0
            self.message.clear()
            self.accept()
            return
        self.failures += 1
        if error is not None:
            self.message.setText("The sign-in could not be checked; try again.")
        elif self.failures >= MAX_TRIES:
            self.failures = 0
            self._pause.start()
            self.message.setText(f"{REFUSED} Too many tries: wait {PAUSE_MS // 1000} s.")
        else:
            self.message.setText(REFUSED)
        self.sign_in_button.setEnabled(not self.paused)
        self.password_edit.setFocus()

    def _end_pause(self) -> None:
        self.sign_in_button.setEnabled(True)
        self.message.setText("You can try again.")


class FirstRunDialog(QDialog):
    """The first start created `admin` with a random password: shown here once (and on the
    console), selectable, with a copy button; it is kept nowhere in clear."""

    def __init__(self, password: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("First start — Recording Station")
        intro = QLabel("This station has user accounts. The first one was made for you:")
        intro.setWordWrap(True)
        self.name_label = QLabel(FIRST_ADMIN)
        self.password_label = QLabel(password)
        self.password_label.setObjectName("first_admin_password")
        for label in (self.name_label, self.password_label):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                          | Qt.TextInteractionFlag.TextSelectableByKeyboard)
            label.setStyleSheet("font-family: monospace; font-weight: bold;")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the password to the clipboard")
        self.copy_button.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.password_label.text()))
        row = QHBoxLayout()
        row.addWidget(self.password_label, 1)
        row.addWidget(self.copy_button)
        form = QFormLayout()
        form.addRow("User name", self.name_label)
        form.addRow("Password", row)
        note = QLabel("This password is shown only now: write it down or keep it in a password "
                      "manager. Change it in Settings › Users, or with "
                      "`recording-station user passwd admin`. You are signed in as admin.")
        note.setObjectName("first_run_note")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok, self)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)
