"""The Device Connect approval question (offscreen Qt) on a real core: a token request made
on another thread (as the API's) shows a question; Allow issues the token, Deny refuses it,
and a request that times out closes its question by itself."""

from __future__ import annotations

import threading

import pytest

from app.dialects.device_connect.dc_auth import AccessDenied
from ui.access_dialog import install_access_approvals
from ui.application import ensure_application
from ui.bridge import EventBridge


@pytest.fixture
def bridge(qtbot, station):
    ensure_application()
    bridge = EventBridge(station.bus)
    yield bridge
    bridge.close()


def _request_from_another_thread(station, app_name: str = "Viewer"):
    """What the API thread does on `GET authorization/accessToken`."""
    done: list = []

    def ask() -> None:
        client_id = station.dc_auth.grant()
        done.append(station.dc_auth.request_access(client_id, "servicediscovery,mediastreamrecording",
                                                   app_name, "http://page.example"))

    worker = threading.Thread(target=ask)
    worker.start()
    worker.join(5)
    return done[0]


def test_allow_issues_the_token_and_deny_refuses(qtbot, station, bridge):
    approvals = install_access_approvals(station, bridge)
    pending = _request_from_another_thread(station)
    qtbot.waitUntil(lambda: pending.request_id in approvals.dialogs, timeout=5000)
    dialog = approvals.dialogs[pending.request_id]
    assert "“Viewer”" in dialog.text() and "http://page.example" in dialog.informativeText()
    assert "mediastreamrecording" in dialog.informativeText()
    assert not pending.future.done()  # it waits for the operator
    dialog.allow_button.click()
    token = pending.future.result(timeout=5)
    assert station.dc_auth.check(token.token, "mediastreamrecording").application_name == "Viewer"
    assert approvals.dialogs == {}

    assert token.acts_as.role == "viewer"  # the default: watch and play only

    # the operator chooses whom the application acts as
    station.accounts.create("door-app", "door app password", role="operator")
    chosen = _request_from_another_thread(station, "Door")
    qtbot.waitUntil(lambda: chosen.request_id in approvals.dialogs, timeout=5000)
    combo = approvals.dialogs[chosen.request_id].acts_as
    combo.setCurrentIndex(combo.findData("door-app"))
    approvals.dialogs[chosen.request_id].allow_button.click()
    door = chosen.future.result(timeout=5)
    assert door.acts_as.name == "door-app" and door.allows("start recording")
    assert not token.allows("start recording")

    refused = _request_from_another_thread(station, "Intruder")
    qtbot.waitUntil(lambda: refused.request_id in approvals.dialogs, timeout=5000)
    approvals.dialogs[refused.request_id].deny_button.click()
    with pytest.raises(AccessDenied):
        refused.future.result(timeout=5)
    assert station.dc_auth.pending() == []


def test_a_request_that_ends_elsewhere_closes_its_question(qtbot, station, bridge):
    early = _request_from_another_thread(station, "Early")  # before the window exists
    approvals = install_access_approvals(station, bridge)
    assert early.request_id in approvals.dialogs
    dialog = approvals.dialogs[early.request_id]
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    with qtbot.waitSignal(dialog.finished, timeout=5000):
        threading.Thread(target=station.dc_auth.expire, args=(early.request_id,)).start()
    assert approvals.dialogs == {}
    with pytest.raises(Exception, match="in time"):
        early.future.result(timeout=5)
