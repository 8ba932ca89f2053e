"""The audit tab (offscreen Qt) on a real core: it lists the newest entries a page at a time,
filters by dialect, and shows what the operator does in the GUI — audited as dialect `gui`,
address `local`, the OS user name — as it happens."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog

from app.audited import AuditedStation, os_user
from ui.access_dialog import install_access_approvals
from ui.application import ensure_application
from ui.audit_view import COLUMNS, FAILED, PAGE_SIZE, AuditView
from ui.bridge import EventBridge
from ui.main_window import MainWindow
from ui.tasks import TaskRunner

TARGET, ACTION, RESULT = COLUMNS.index("Target"), COLUMNS.index("Action"), COLUMNS.index("Result")
WHO = COLUMNS.index("Who")


@pytest.fixture
def window(qtbot, station):
    ensure_application()
    bridge = EventBridge(station.bus)
    win = MainWindow(station, bridge, "http://127.0.0.1:9/")
    win.setProperty("quiet_errors", True)
    qtbot.addWidget(win)
    win.show()
    yield win
    bridge.close()


def _rows(view: AuditView) -> list[tuple[str, ...]]:
    model = view.model
    return [tuple(model.text(r, c) for c in range(len(COLUMNS))) for r in range(model.rowCount())]


def test_lists_the_newest_entries_and_pages_older(qtbot, station):
    ensure_application()
    for i in range(PAGE_SIZE + 5):
        station.audit.record(dialect="gui" if i % 50 == 0 else "native", address="127.0.0.1",
                             who="station-token", action="create source",
                             detail="POST /api/v1/source", target=f"source {i}",
                             result="422" if i == PAGE_SIZE + 4 else "200")
    assert station.audit.flush(timeout=30)  # all 205 in the catalog before the view reads
    tasks = TaskRunner()
    view = AuditView(station, tasks)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: view.model.rowCount() == PAGE_SIZE, timeout=30000)
    rows = _rows(view)
    assert rows[0][TARGET] == f"source {PAGE_SIZE + 4}" and rows[0][RESULT] == "422"
    assert rows[0][1:5] == ("native", "127.0.0.1", "station-token", "create source")
    action_tip = view.model.data(view.model.index(0, COLUMNS.index("Action")),
                                 Qt.ItemDataRole.ToolTipRole)
    assert action_tip == "create source\nPOST /api/v1/source"  # what the API was asked
    assert rows[0][0][:2] == "20" and "T" not in rows[0][0]  # local time, readable
    assert view.model.data(view.model.index(0, RESULT), Qt.ItemDataRole.ForegroundRole) == FAILED
    assert "205" in view.count_label.text()
    assert view.older_button.isEnabled()
    view.older_button.click()
    qtbot.waitUntil(lambda: view.model.rowCount() == PAGE_SIZE + 5, timeout=30000)
    assert _rows(view)[-1][TARGET] == "source 0" and not view.older_button.isEnabled()

    view.dialect_box.setCurrentIndex(view.dialect_box.findData("gui"))
    qtbot.waitUntil(lambda: view.model.rowCount() == 5, timeout=10000)
    assert [r[TARGET] for r in _rows(view)] == [f"source {i}" for i in (200, 150, 100, 50, 0)]
    view.shutdown()
    tasks.shutdown()


def test_what_the_operator_does_is_audited_and_shown_at_once(qtbot, window, station, monkeypatch,
                                                              tmp_path):
    view = window.audit_view
    window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.loads >= 1, timeout=5000)
    assert view.model.rowCount() == 0

    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("lobby", True))
    window.groups.ask_new_group()
    qtbot.waitUntil(lambda: [g.name for g in station.groups.list()] == ["lobby"], timeout=5000)
    group_id = station.groups.list()[0].id
    window.groups.ask_new_group()  # the same name again: refused by the core
    # no Refresh: the tab reloads when the audit writer reports new entries
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=10000)
    refused, created = _rows(view)
    assert created[1:7] == ("gui", "local", os_user(), "create group",
                          f"group lobby ({group_id})", "ok")  # the name beside the id
    assert refused[1:7] == ("gui", "local", os_user(), "create group", "name lobby",
                           "failed: conflict")

    # the settings, saved as the settings dialog saves them: which ones changed, never their values
    monkeypatch.setenv("RS_CONFIG_FILE", str(tmp_path / "config.toml"))
    station.settings_service.change({"token": "s3cret-value"}, AuditedStation(station).actor)
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=10000)
    saved = _rows(view)[0]
    assert saved[ACTION] == "save settings" and saved[TARGET] == "settings token"
    page = station.audit.list()
    assert "s3cret-value" not in page.model_dump_json()
    assert page.items[0].dialect == "gui"


def test_an_access_decision_is_audited(qtbot, station):
    ensure_application()
    bridge = EventBridge(station.bus)
    approvals = install_access_approvals(AuditedStation(station, who="alice"), bridge)
    done: list = []

    def ask() -> None:
        client_id = station.dc_auth.grant()
        done.append((client_id, station.dc_auth.request_access(client_id, "servicediscovery",
                                                                "Intruder", "http://page.example")))

    worker = threading.Thread(target=ask)
    worker.start()
    worker.join(5)
    client_id, pending = done[0]
    qtbot.waitUntil(lambda: pending.request_id in approvals.dialogs, timeout=5000)
    approvals.dialogs[pending.request_id].deny_button.click()
    [entry] = station.audit.list().items
    assert (entry.dialect, entry.address, entry.who, entry.action, entry.result) == (
        "gui", "local", "alice", "deny access", "ok")
    assert entry.target == f'dc-client:{client_id[:8]}, application "Intruder"'
    assert client_id not in entry.model_dump_json()
    bridge.close()


def test_the_dialect_filter_offers_exactly_the_dialects_the_api_mounts(station):
    """The filter's values are the names entries carry: the GUI's and each dialect policy's."""
    from api.app import create_app
    from api.security import POLICY
    from ui.audit_view import DIALECTS

    app = create_app(station)
    mounted = {app[POLICY].name} | {r.get_info()["app"][POLICY].name for r in app.router.resources()
                                    if "app" in r.get_info()}
    assert {value for _, value in DIALECTS if value} == mounted | {"gui"}


def test_filters_search_and_save_csv(qtbot, station, monkeypatch, tmp_path):
    """Who, source, a search typed, a time range, and Save CSV of what the filters select
    (the file dialog answered by the test); a name resolved beside its id."""
    from PySide6.QtCore import QDateTime
    from PySide6.QtWidgets import QFileDialog
    from sqlmodel import select

    from app.models import Source

    ensure_application()
    with station.catalog.session() as s:
        s.add(Source(name="Front door", enabled=False))
    with station.catalog.session() as s:
        sid = s.exec(select(Source.id).where(Source.name == "Front door")).one()
    for who, action, target in (("alice", "play footage", f"source {sid}"),
                                ("bob", "start recording", "tag night"),
                                ("station-token", "take snapshot", f"source {sid}"),
                                ("=evil()", "create group", "name g")):
        station.audit.record(dialect="gui", address="local", who=who, action=action,
                             target=target, result="ok")
    assert station.audit.flush(timeout=10)
    tasks = TaskRunner()
    view = AuditView(station, tasks)
    qtbot.addWidget(view)
    view.show()
    bar = view.filter_bar
    qtbot.waitUntil(lambda: view.model.rowCount() == 4 and bar.who_box.findData("alice") > 0
                    and bar.source_box.findData(sid) > 0, timeout=10000)
    assert _rows(view)[1][TARGET] == f"source Front door ({sid})"
    assert bar.source_box.itemText(bar.source_box.findData(sid)) == f"Front door ({sid})"

    bar.who_box.setCurrentIndex(bar.who_box.findData("alice"))
    qtbot.waitUntil(lambda: [r[ACTION] for r in _rows(view)] == ["play footage"], timeout=10000)
    bar.who_box.setCurrentIndex(0)
    bar.source_box.setCurrentIndex(bar.source_box.findData(sid))
    qtbot.waitUntil(lambda: [r[ACTION] for r in _rows(view)] == ["take snapshot", "play footage"],
                    timeout=10000)
    qtbot.keyClicks(bar.search_edit, "SNAPSHOT")
    qtbot.waitUntil(lambda: [r[ACTION] for r in _rows(view)] == ["take snapshot"], timeout=10000)

    saved = tmp_path / "trail.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(saved), ""))
    view.csv_button.click()
    qtbot.waitUntil(lambda: view.saved == saved, timeout=10000)
    lines = saved.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("time_utc,dialect,address,who,action,target")
    assert len(lines) == 2 and "take snapshot" in lines[1] and f"Front door ({sid})" in lines[1]
    assert "1 entries saved" in view.count_label.text()

    bar.search_edit.clear()
    bar.source_box.setCurrentIndex(0)
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=10000)
    view.csv_button.click()  # every entry: a caller named like a formula starts with '
    qtbot.waitUntil(lambda: len(saved.read_text(encoding="utf-8").splitlines()) == 5,
                    timeout=10000)
    assert "'=evil()" in saved.read_text(encoding="utf-8")
    bar.since_edit.setDateTime(QDateTime.currentDateTime().addDays(1))
    bar.since_check.setChecked(True)  # from tomorrow: nothing yet
    qtbot.waitUntil(lambda: view.model.rowCount() == 0, timeout=10000)
    view.shutdown()
    tasks.shutdown()


def test_the_user_filter_takes_an_account_however_it_came_in(qtbot, station):
    """#26: `alice` in the window, by a personal token, through MQTT: one user; `alicea` and
    `bob` are others."""
    ensure_application()
    station.accounts.create("alice", "alice's long password", role="operator")
    for who in ("alice", "alice (token wall)", "alice (mqtt command)", "alicea", "bob"):
        station.audit.record(dialect="native", address="local", who=who, action="take snapshot",
                             target="source 1", result="200")
    assert station.audit.flush(timeout=10)
    view = AuditView(station, TaskRunner())
    qtbot.addWidget(view)
    view.show()
    bar = view.filter_bar
    qtbot.waitUntil(lambda: bar.user_box.findData("alice") > 0, timeout=10000)
    bar.user_box.setCurrentIndex(bar.user_box.findData("alice"))
    qtbot.waitUntil(lambda: sorted(r[WHO] for r in _rows(view)) == [
        "alice", "alice (mqtt command)", "alice (token wall)"], timeout=10000)
