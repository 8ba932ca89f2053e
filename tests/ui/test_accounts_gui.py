"""#26 in the window, against a real station (offscreen Qt): signing in (wrong answers say
nothing of which part was wrong, five in a row pause the dialog), the first start's admin
password, actions outside the role disabled with why (and refused by the services too), a
scoped user's wall and source tree, the audit trail naming the signed-in user, and the lock
(Ctrl+L, idle, unlocking as someone else)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QLabel

from tests.support.main_window import open_main_window
from ui.application import NoSignIn, ensure_application, identity_at_start, show_first_run
from ui.sign_in import MAX_TRIES, REFUSED, SignInDialog

PASSWORD = "correct horse battery"


def _user(station, name: str, role: str, scope=None):
    return station.accounts.create(name, PASSWORD, role=role, scope=scope, who=None)


def _sign_in(qtbot, dialog: SignInDialog, name: str, password: str) -> None:
    if not dialog.name_edit.isReadOnly():
        dialog.name_edit.setText(name)
    dialog.password_edit.setText(password)
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.checking, timeout=15000)


def test_wrong_answers_say_nothing_of_which_part_and_five_pause_the_dialog(qtbot, station, tasks):
    ensure_application()
    _user(station, "olga", "operator")
    dialog = SignInDialog(station, tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.other_button.isVisible()  # only when unlocking someone's window
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


def test_first_start_shows_admin_password_once_and_signs_in_as_admin(qtbot, station,
                                                                     api_server):
    ensure_application()
    password = station.accounts.ensure_first_admin()
    assert password
    identity = identity_at_start(station, password, show=lambda dialog: 1 / 0)  # no question
    assert identity.name == "admin" and identity.role == "admin"
    with open_main_window(qtbot, station, api_server.url, identity=identity) as window:
        dialog = show_first_run(window, password)
        assert dialog.isVisible() and dialog.isModal() and window.isVisible()
        label = dialog.password_label
        assert label.text() == password and dialog.name_label.text() == "admin"
        assert label.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
        assert "shown only now" in dialog.findChild(QLabel, "first_run_note").text()
        dialog.copy_button.click()
        assert QGuiApplication.clipboard().text() == password
        assert window.status.user_label.text() == "Signed in: admin (admin)"
        dialog.accept()


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


def test_new_install_signs_in_and_an_upgraded_one_is_told_once(qtbot, station, api_server,
                                                               tmp_path, monkeypatch):
    from app.settings import ensure_station_id, read_config
    from tests.conftest import make_settings
    from ui.application import UPGRADE_NOTICE, show_upgrade_notice, upgrade_notice_due

    monkeypatch.delenv("RS_GUI_LOGIN", raising=False)
    fresh = make_settings(tmp_path / "new")
    new_file = tmp_path / "new.toml"
    assert ensure_station_id(fresh, new_file).gui_login is True
    assert read_config(new_file)["gui_login"] is True and read_config(new_file)["station_id"]
    monkeypatch.setenv("RS_GUI_LOGIN", "false")  # a test or `make run`: the environment decides
    ensure_station_id(fresh, tmp_path / "env.toml")
    assert "gui_login" not in read_config(tmp_path / "env.toml")
    assert not upgrade_notice_due(station)

    monkeypatch.delenv("RS_GUI_LOGIN")
    upgraded = tmp_path / "upgraded.toml"
    upgraded.write_text('station_id = "older"\n')  # from before #26: no gui_login key
    monkeypatch.setenv("RS_CONFIG_FILE", str(upgraded))
    assert ensure_station_id(station.settings.model_copy(update={"station_id": "older"}),
                             upgraded).gui_login is False
    assert upgrade_notice_due(station)
    with open_main_window(qtbot, station, api_server.url) as window:
        show_upgrade_notice(window)
        assert window.status.currentMessage() == UPGRADE_NOTICE
    assert read_config(upgraded) == {"station_id": "older", "gui_login_notice_shown": True}
    station.live.replace(station.settings.model_copy(update={"gui_login_notice_shown": True}))
    assert not upgrade_notice_due(station)  # once
