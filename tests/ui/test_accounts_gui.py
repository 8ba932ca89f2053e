"""#26 in the window, against a real station (offscreen Qt): signing in (wrong answers say
nothing of which part was wrong, five in a row pause the dialog), the first start's admin
password, actions outside the role disabled with why (and refused by the services too), a
scoped user's wall and source tree, the audit trail naming the signed-in user, and the lock
(Ctrl+L, idle, unlocking as someone else)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from app.errors import StationError
from app.schemas import GroupIn, RecordStatus, SourceIn
from tests.conftest import TESTSRC
from tests.support.main_window import open_main_window
from ui.application import NoSignIn, ensure_application, identity_at_start
from ui.session import identity_of
from ui.sign_in import MAX_TRIES, REFUSED, FirstRunDialog, SignInDialog

PASSWORD = "correct horse battery"


def _user(station, name: str, role: str, scope=None):
    return station.accounts.create(name, PASSWORD, role=role, scope=scope, who=None)


def _sign_in(qtbot, dialog: SignInDialog, name: str, password: str) -> None:
    if not dialog.name_edit.isReadOnly():
        dialog.name_edit.setText(name)
    dialog.password_edit.setText(password)
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.checking, timeout=5000)


def test_wrong_answers_say_nothing_of_which_part_and_five_pause_the_dialog(qtbot, station, tasks):
    ensure_application()
    _user(station, "olga", "operator")
    dialog = SignInDialog(station, tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    _sign_in(qtbot, dialog, "olga", "wrong password")
    wrong_password = dialog.message.text()
    _sign_in(qtbot, dialog, "nobody", PASSWORD)
    assert dialog.message.text() == wrong_password == REFUSED  # no hint which part
    assert dialog.password_edit.text() == ""  # never left in the field
    for _ in range(MAX_TRIES - 2):
        _sign_in(qtbot, dialog, "olga", "still wrong")
    assert dialog.paused and not dialog.sign_in_button.isEnabled()
    assert "wait 30 s" in dialog.message.text()
    _sign_in(qtbot, dialog, "olga", PASSWORD)  # refused while paused: nothing is checked
    assert dialog.user is None and dialog.result() != QDialog.DialogCode.Accepted
    dialog._pause.stop()
    dialog._end_pause()
    _sign_in(qtbot, dialog, "olga", PASSWORD)
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.user.name == "olga"
    entries = station.audit.list(action="sign in", page_size=20).items
    assert [e.result for e in entries].count("failed: refused") == MAX_TRIES
    assert entries[0].result == "ok" and entries[0].who == "olga" and entries[0].dialect == "gui"
    assert not any(PASSWORD in (e.target or "") + (e.detail or "") for e in entries)


def test_first_start_shows_admin_password_once_and_signs_in_as_admin(qtbot, station):
    ensure_application()
    password = station.accounts.ensure_first_admin()
    assert password
    shown: list[QDialog] = []

    def show(dialog: QDialog) -> int:
        shown.append(dialog)
        assert isinstance(dialog, FirstRunDialog)
        label = dialog.password_label
        assert label.text() == password and dialog.name_label.text() == "admin"
        assert label.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
        dialog.copy_button.click()
        from PySide6.QtGui import QGuiApplication
        assert QGuiApplication.clipboard().text() == password
        return QDialog.DialogCode.Accepted

    identity = identity_at_start(station, password, show=show)
    assert len(shown) == 1 and identity.name == "admin" and identity.role == "admin"


def test_gui_login_asks_and_cancel_opens_no_window(qtbot, station):
    ensure_application()
    _user(station, "vera", "viewer")
    station.live.replace(station.settings.model_copy(update={"gui_login": True}))

    def sign_in(dialog: QDialog) -> int:
        assert isinstance(dialog, SignInDialog)
        dialog.show()
        _sign_in(qtbot, dialog, "vera", PASSWORD)
        return dialog.result()

    identity = identity_at_start(station, None, show=sign_in)
    assert (identity.name, identity.role, identity.groups) == ("vera", "viewer", None)
    with pytest.raises(NoSignIn):
        identity_at_start(station, None, show=lambda dialog: QDialog.DialogCode.Rejected)
