"""Adding cameras (#27 item 7) against a real core and ONVIF camera simulators (offscreen Qt):
Add source files the new source into the group picked and says so; Find cameras adds several
found cameras at once, with their preview streams, named from the camera (its ONVIF name, else
its model plus address), into a group, with a PTZ camera's control kept (its arrows work at
once), and sums up what was added and what failed (a camera whose login fails)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from sqlmodel import select

from app.models import Source
from app.record_modes import RecordMode
from app.schemas import GroupIn
from tests.support.onvif_camera import OnvifCamera, Profile
from tests.support.probe_fanout import ProbeFanout
from ui.sources.source_dialog import SourceDialog

USER, PASSWORD = "operator", "pa ss@1"
MAIN, SUB = "rtsp://127.0.0.1:9/main", "rtsp://127.0.0.1:9/sub"  # not opened by these tests


def _dialog(qtbot, station, tasks, reports: list[str], **kwargs) -> SourceDialog:
    dialog = SourceDialog(station, tasks, None, report=reports.append, **kwargs)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitUntil(lambda: dialog.group.loaded, timeout=15000)
    return dialog


def test_add_source_with_a_group_puts_the_source_in_it_and_says_so(qtbot, station, tasks):
    lobby = station.groups.create(GroupIn(name="Lobby"))
    station.groups.create(GroupIn(name="Yard"))
    reports: list[str] = []
    dialog = _dialog(qtbot, station, tasks, reports, kind="testsrc", group="Yard")
    assert [dialog.group.itemText(i) for i in range(dialog.group.count())] == \
        ["No group", "Lobby", "Yard"]
    assert dialog.group.currentText() == "Yard"  # the group picked in the tree, preselected
    dialog.group.setCurrentText("Lobby")
    dialog.record_mode.set_mode(RecordMode.manual)
    dialog.name.setText("door")
    with qtbot.waitSignal(dialog.saved, timeout=10000) as saved:
        dialog.save_button.click()
    source = saved.args[0]
    assert [s.id for s in station.groups.get(lobby.id).sources] == [source.id]
    assert reports == ["Added the source “door” to the group “Lobby”."]


@pytest.fixture
def cameras(station):
    """Three simulators behind one discovery address: two that take the login (one named,
    one without a name) and one whose login differs."""
    profiles = [Profile("Profile_1", 1280, 720, MAIN), Profile("Profile_2", 640, 360, SUB)]
    with OnvifCamera(profiles, user=USER, password=PASSWORD, name="Gate West", ptz=True) as named, \
            OnvifCamera(profiles, user=USER, password=PASSWORD, name="", model="SIM-2000") as bare, \
            OnvifCamera(profiles, user=USER, password="other", name="Back Door") as locked, \
            ProbeFanout([c.probe_address for c in (named, bare, locked)]) as group:
        station.discovery.probe_to = group.address
        yield named, bare, locked


def test_find_cameras_adds_checked_cameras_into_a_group_with_a_summary(qtbot, station, tasks,
                                                                      cameras):
    named, bare, locked = cameras
    from app.audited import AuditedStation

    yard = station.groups.create(GroupIn(name="Yard"))
    reports: list[str] = []
    dialog = _dialog(qtbot, AuditedStation(station, who="ada"), tasks, reports, kind="onvif")
    page = dialog.find_cameras
    page.probe_button.click()
    qtbot.waitUntil(lambda: page.cameras.count() == 3 and not page.probing, timeout=15000)
    assert not page.add_checked_button.isEnabled()
    for i in range(3):
        page.cameras.item(i).setCheckState(Qt.CheckState.Checked)
    assert page.add_checked_button.text() == "Add 3 checked camera(s)"
    page.user.setText(USER)
    page.password.setText(PASSWORD)
    dialog.group.setCurrentText("Yard")
    dialog.record_mode.set_mode(RecordMode.manual)
    page.add_checked_button.click()
    qtbot.waitUntil(lambda: dialog.batch.summary_box is not None, timeout=10000)

    text = dialog.batch.summary_box.text()  # in the list's order (the probe's: by name)
    assert text.splitlines() == [
        f"Added 2 camera(s) to the group “Yard”: SIM-2000 {bare.address}, Gate West.",
        "1 failed:",
        f"• Back Door: the camera at {locked.address} refused this user and password"]
    assert reports == [f"Added 2 camera(s) to the group “Yard”: SIM-2000 {bare.address}, "
                       "Gate West. 1 failed."]
    members = {s.name: s.id for s in station.groups.get(yard.id).sources}
    assert set(members) == {"Gate West", f"SIM-2000 {bare.address}"}
    # the PTZ camera's control was kept with it: its tile's arrows move it at once
    station.ptz.move(members["Gate West"], tilt=-0.25)
    station.ptz.stop(members["Gate West"])
    assert named.ptz.operations()[-2:] == ["ContinuousMove", "Stop"]
    assert station.sources.onvif_control(members[f"SIM-2000 {bare.address}"]) is None  # no PTZ
    station.audit.flush()
    kept = station.audit.list(action="connect camera control").items
    assert [(e.who, e.target, e.result) for e in kept] == [
        ("ada", f"source Gate West ({members['Gate West']})", "ok")]
    with station.catalog.session() as session:
        for source in session.exec(select(Source)).all():
            assert source.uri_rtsp == "rtsp://operator:pa%20ss%401@127.0.0.1:9/main"
            assert source.uri_preview == "rtsp://operator:pa%20ss%401@127.0.0.1:9/sub"
            assert source.record_mode == "manual"
    # the one that failed stays listed and checked, to try again with its own login
    assert page.cameras.count() == 1 and page.checked_cameras()[0].name == "Back Door"
    assert "other" not in text and PASSWORD not in text
    dialog.batch.summary_box.accept()
    assert dialog.isVisible()  # a failure keeps the dialog open
    page.password.setText("other")
    page.add_checked_button.click()
    qtbot.waitUntil(lambda: dialog.batch.summary_box is not None, timeout=10000)
    assert dialog.batch.summary_box.text() == "Added 1 camera(s) to the group “Yard”: Back Door."
    dialog.batch.summary_box.accept()
    assert not dialog.isVisible()  # all added: closing the summary closes the dialog


def test_an_operator_may_not_add_the_checked_cameras(qtbot, station, tasks, cameras):
    """Adding sources is an admin's (#26): the button says so, disabled, with cameras checked."""
    from app.audited import AuditedStation

    dialog = _dialog(qtbot, AuditedStation(station, role="operator"), tasks, [], kind="onvif")
    page = dialog.find_cameras
    page.probe_button.click()
    qtbot.waitUntil(lambda: page.cameras.count() == 3 and not page.probing, timeout=15000)
    page.cameras.item(0).setCheckState(Qt.CheckState.Checked)
    assert page.add_checked_button.text() == "Add 1 checked camera(s)"
    assert not page.add_checked_button.isEnabled()
    assert page.add_checked_button.toolTip() == "Needs the admin role"
    assert not dialog.group.isEnabled() and dialog.group.toolTip() == "Needs the admin role"
