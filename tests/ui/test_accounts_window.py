"""#26 in the main window, against a real station (offscreen Qt): a viewer's controls
disabled with why and the same calls refused by the services, an operator's recording
audited under their name, a scoped user's wall and tree, the lock, and Settings › Users."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.errors import StationError
from app.schemas import GroupIn, RecordStatus, SourceIn
from tests.conftest import TESTSRC_5FPS
from tests.support.main_window import open_main_window
from tests.support.recording_panel import pick_group
from ui.lock import BACKGROUND
from ui.session import identity_of
from ui.settings_dialog import SettingsDialog
from ui.users_page import UsersPage

PASSWORD = "correct horse battery"


@pytest.fixture
def two_groups(station):
    """Groups `north` (source n1) and `south` (source s1)."""
    ids = {}
    for group_name, source_name in (("north", "n1"), ("south", "s1")):
        group = station.groups.create(GroupIn(name=group_name))
        source = station.sources.create(SourceIn(name=source_name, uri_rtsp=TESTSRC_5FPS))
        station.groups.add_source(group.id, source.id)
        ids[group_name], ids[source_name] = group.id, source.id
    return ids


def _identity(station, name: str, role: str, scope=None):
    return identity_of(station.accounts.create(name, PASSWORD, role=role, scope=scope, who=None))


def test_viewer_sees_controls_disabled_with_why_and_services_refuse(qtbot, station, api_server,
                                                                    two_groups):
    viewer = _identity(station, "vera", "viewer")
    with open_main_window(qtbot, station, api_server.url, tiles=2, identity=viewer) as window:
        tags = window.tags
        for control in (tags.start_group_button, tags.stop_button, window.settings_action):
            assert not control.isEnabled()
        assert tags.start_group_button.toolTip() == "Needs the operator role"
        assert window.settings_action.toolTip() == "Needs the admin role"
        assert window.events.ack_button.toolTip() == "Needs the operator role"
        assert not window.recordings.act_export.isEnabled()
        tags.start_group_button.setEnabled(True)  # a panel's own rule enabling it again
        assert not tags.start_group_button.isEnabled()
        assert window.status.user_label.text() == "Signed in: vera (viewer)"
        # Ctrl+R reaches the service without the button: refused there, audited as vera.
        with pytest.raises(StationError) as refused:
            window.audited.recordings.start("sneaky", "north")
        assert refused.value.kind == "forbidden"
        assert station.recordings.list(status=RecordStatus.recording) == []
        entry = station.audit.list(action="start recording").items[0]
        assert (entry.who, entry.result) == ("vera", "failed: forbidden")
        # A viewer may bookmark.
        window.audited.bookmarks.create(_bookmark(two_groups["n1"]))
        assert station.audit.list(action="create bookmark").items[0].who == "vera"


def _bookmark(source_id: int):
    from datetime import datetime, timezone

    from app.schemas import BookmarkIn
    return BookmarkIn(source_id=source_id, time_utc=datetime.now(timezone.utc), title="seen")


def test_operator_records_under_their_name_and_without_sign_in_all_is_enabled(
        qtbot, station, api_server, two_groups):
    with open_main_window(qtbot, station, api_server.url, tiles=2) as window:
        pick_group(qtbot, window, "north")
        assert window.tags.start_group_button.isEnabled() and window.settings_action.isEnabled()
        assert not window.status.user_label.isVisible()
    operator = _identity(station, "olga", "operator")
    with open_main_window(qtbot, station, api_server.url, tiles=2, identity=operator) as window:
        pick_group(qtbot, window, "north")
        assert window.tags.start_group_button.isEnabled()
        assert not window.settings_action.isEnabled()  # admin only
        window.tags.tag_edit.setText("shift")
        qtbot.mouseClick(window.tags.start_group_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(station.recordings.list(status=RecordStatus.recording)),
                        timeout=8000)
        window.audited.recordings.stop("shift")
        entries = station.audit.list(action="start recording").items
        assert (entries[0].who, entries[0].dialect, entries[0].result) == ("olga", "gui", "ok")


def test_scoped_user_sees_only_their_groups_sources(qtbot, station, api_server, two_groups):
    scoped = _identity(station, "nina", "operator", scope=[two_groups["north"]])
    north = station.events.open("camera_lost", source_id=two_groups["n1"], text="n1: lost")
    south = station.events.open("camera_lost", source_id=two_groups["s1"], text="s1: lost")
    with open_main_window(qtbot, station, api_server.url, tiles=1, identity=scoped) as window:
        events = window.events
        # the test patterns move: motion events of n1 come and go, so the panel may reload
        # at any moment; what it shows is judged, not whether it is idle
        qtbot.waitUntil(lambda: north.id in [e.id for e in events.events], timeout=15000)
        assert {e.source_id for e in events.events} <= {two_groups["n1"], None}
        # the status bar's alarms and the lost tiles are nina's too: one lost camera, not two
        desk = window.alarms
        qtbot.waitUntil(lambda: desk.unacknowledged == 1, timeout=10000)
        assert set(desk.lost) == {two_groups["n1"]}
        station.events.open("camera_lost", source_id=two_groups["s1"], text="s1: lost again")
        station.events.open("camera_lost", source_id=two_groups["n1"], text="n1: lost again")
        qtbot.waitUntil(lambda: desk.unacknowledged == 2, timeout=10000)
        assert two_groups["s1"] not in desk.lost
        assert "s1: lost again" not in [e.text for e in desk.announced]
        events.ask_acknowledge_all = lambda: True
        events.acknowledge_all()  # a scoped "all": only what nina can see
        qtbot.waitUntil(lambda: station.events.get(north.id).acknowledged_at is not None,
                        timeout=15000)
        assert station.events.get(south.id).acknowledged_at is None
        assert set(window.wall.tiles) == {two_groups["n1"]}
        qtbot.waitUntil(lambda: window.groups.group_names == {two_groups["north"]: "north"},
                        timeout=15000)
        tree = window.groups.tree
        shown = {tree.topLevelItem(i).child(j).text(0)
                 for i in range(tree.topLevelItemCount())
                 for j in range(tree.topLevelItem(i).childCount())}
        assert "s1" not in shown and "n1" in shown
        pick_group(qtbot, window, "north")  # the Recording panel works on the tree's group
        assert window.tags.group_label.text() == "north"
        # the Recordings tab: its source choices and the timeline's lanes are nina's too
        browser = window.recordings
        sources = browser.filter_bar.source_box
        qtbot.waitUntil(lambda: [sources.itemData(i) for i in range(1, sources.count())]
                        == [two_groups["n1"]], timeout=10000)
        qtbot.waitUntil(lambda: [lane.source_id for lane in browser.timeline.view.lanes]
                        == [two_groups["n1"]], timeout=10000)
        assert window.tabs.isTabVisible(window.tabs.indexOf(window.audit_view)) is False


def test_lock_by_key_and_idle_unlocks_for_password_or_someone_else(qtbot, station, api_server,
                                                                   two_groups):
    olga = _identity(station, "olga", "operator")
    _identity(station, "adam", "admin")
    with open_main_window(qtbot, station, api_server.url, tiles=2, identity=olga) as window:
        lock = window.access.lock
        window.audited.recordings.start_sources("while-locked", [two_groups["n1"]])
        QTest.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: lock.locked, timeout=2000)
        assert lock.screen.isVisible() and lock.screen.geometry() == window.rect()
        # Nothing of the window shows through: a tile's middle and the docks are the cover.
        picture = window.grab().toImage()
        tile = next(iter(window.wall.tiles.values()))
        for widget in (tile, window.tags, window.groups):
            middle = widget.mapTo(window, widget.rect().center())
            assert picture.pixelColor(middle).name() == BACKGROUND
        assert "olga (operator)" in lock.screen.who.text()
        assert not window.menuBar().isEnabled() and not window.centralWidget().isEnabled()
        form = lock.form
        assert form.name_edit.isReadOnly() and form.name_edit.text() == "olga"
        form.password_edit.setText("not it")
        form.sign_in_button.click()
        qtbot.waitUntil(lambda: not form.checking, timeout=15000)
        assert lock.locked and form.message.text().startswith("The user name or the password")
        window.close()
        assert window.isVisible()  # a locked window does not close
        form.password_edit.setText(PASSWORD)
        form.sign_in_button.click()
        qtbot.waitUntil(lambda: not lock.locked, timeout=15000)
        assert window.menuBar().isEnabled() and not lock.screen.isVisible()
        running = station.recordings.list("while-locked", status=RecordStatus.recording)
        assert len(running) == 1  # the lock is only the window's
        # Idle: the lock comes by itself; someone else unlocks and the window is theirs.
        lock.idle.setInterval(200)
        lock.restart_idle()
        qtbot.waitUntil(lambda: lock.locked, timeout=3000)
        form = lock.form
        form.other_button.click()
        form.name_edit.setText("adam")
        form.password_edit.setText(PASSWORD)
        form.sign_in_button.click()
        qtbot.waitUntil(lambda: not lock.locked, timeout=15000)
        assert window.access.identity.name == "adam" and window.settings_action.isEnabled()
        assert window.audited.actor["who"] == "adam"
        assert window.status.user_label.text() == "Signed in: adam (admin)"


def test_users_page_adds_edits_resets_disables_and_revokes(qtbot, station, tasks, two_groups):
    admin = identity_of(station.accounts.create("adam", PASSWORD, role="admin", who=None))
    dialog = SettingsDialog(station.settings, station=station, who=admin.who, role="admin",
                            tasks=tasks)
    qtbot.addWidget(dialog)
    page = dialog.users_page
    qtbot.waitUntil(lambda: page.busy == 0 and bool(page.users), timeout=15000)
    answers = []

    def answer(form) -> bool:
        answers.pop(0)(form)
        return True
    page.ask = answer

    def new_user(form) -> None:
        form.name_edit.setText("Nina")
        form.role_box.setCurrentText("viewer")
        form.every_source.setChecked(False)
        form.check_group("south")
        form.password_edit.setText("short")
    answers.append(new_user)
    page.add_user()
    qtbot.waitUntil(lambda: page.busy == 0, timeout=15000)
    assert "8 characters" in page.message.text()  # the service's word, shown
    answers.append(lambda form: (new_user(form), form.password_edit.setText(PASSWORD)))
    page.add_user()
    qtbot.waitUntil(lambda: page.busy == 0 and station.accounts.get("nina") is not None,
                    timeout=15000)
    nina = station.accounts.get("nina")
    assert (nina.role, nina.scope) == ("viewer", [two_groups["south"]])
    qtbot.waitUntil(lambda: page.current() is not None and page.current().name == "nina",
                    timeout=15000)
    answers.append(lambda form: form.role_box.setCurrentText("operator"))
    page.edit_user()
    qtbot.waitUntil(lambda: station.accounts.get("nina").role == "operator", timeout=15000)
    page.ask_password = lambda _name: "a brand new password"
    page.select("nina")
    session = station.tokens.issue(nina.id)
    page.load_tokens()
    qtbot.waitUntil(lambda: page.busy == 0 and len(page.tokens) == 1, timeout=15000)
    page.token_table.selectRow(0)
    page.revoke_token()
    qtbot.waitUntil(lambda: page.busy == 0 and not page.tokens, timeout=15000)
    assert station.tokens.identify(session.token) is None
    page.reset_password()
    qtbot.waitUntil(lambda: station.accounts.verify("nina", "a brand new password"),
                    timeout=15000)
    page.select("nina")
    qtbot.waitUntil(lambda: page.busy == 0, timeout=15000)
    page.toggle_enabled()
    qtbot.waitUntil(lambda: page.busy == 0 and not station.accounts.get("nina").enabled,
                    timeout=15000)
    page.select("adam")
    qtbot.waitUntil(lambda: page.busy == 0 and page.current().name == "adam", timeout=15000)
    page.toggle_enabled()  # the last enabled admin: the service says no, the page shows it
    qtbot.waitUntil(lambda: page.busy == 0, timeout=15000)
    assert "last enabled admin" in page.message.text(), page.message.text()
    trail = station.audit.list(who="adam", page_size=50).items
    assert {"create user", "update user", "change password", "disable user",
            "revoke token"} <= {e.action for e in trail}


def test_users_tab_only_for_admins(qtbot, station, tasks):
    for role, shown in (("operator", False), ("admin", True), (None, True)):
        dialog = SettingsDialog(station.settings, station=station, role=role, tasks=tasks)
        qtbot.addWidget(dialog)
        titles = dialog.page_titles()
        assert ("Users" in titles) is shown


def test_an_admins_change_to_the_signed_in_account_applies_and_disabling_locks(
        qtbot, station, api_server, two_groups):
    nina = _identity(station, "nina", "operator", scope=[two_groups["north"]])
    with open_main_window(qtbot, station, api_server.url, tiles=1, identity=nina) as window:
        access = window.access
        assert access.user_check.isActive()
        qtbot.waitUntil(lambda: set(window.wall.tiles) == {two_groups["n1"]}, timeout=10000)
        station.accounts.update("nina", scope=[two_groups["south"]], role="viewer", who="admin")
        access.check_user()  # what its timer does every USER_CHECK_MS
        qtbot.waitUntil(lambda: access.identity.groups == (two_groups["south"],), timeout=10000)
        assert access.role == "viewer" and not window.tags.start_group_button.isEnabled()
        qtbot.waitUntil(lambda: set(window.wall.tiles) == {two_groups["s1"]}, timeout=10000)
        station.accounts.disable("nina", who="admin")
        access.check_user()
        qtbot.waitUntil(lambda: access.lock.locked, timeout=10000)
