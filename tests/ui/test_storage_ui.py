"""The operator's view of unattended operation (offscreen Qt, a real running core): the lock
column protects a record in the catalog, gaps and a deleted record's reason are shown, the
Storage tab saves retention and applies it to the running guard, and the status bar says
where the disk stands and when the guard stopped recordings for a full disk."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.models import Record
from app.schemas import GroupIn, SourceIn
from app.settings import Settings
from app.station import apply_settings
from tests.conftest import TESTSRC_5FPS, wait_until
from tests.support.main_window import open_main_window
from tests.support.recordings import record_tag
from ui.application import ensure_application
from ui.bridge import EventBridge
from ui.recordings.recordings import RecordingsBrowser
from ui.recordings.recordings_model import COL_GAPS, COL_LOCK, COL_STATUS
from ui.settings_dialog import SettingsDialog
from ui.tasks import TaskRunner


@pytest.fixture
def browser(qtbot, station):
    ensure_application()
    bridge, tasks = EventBridge(station.bus), TaskRunner()
    widget = RecordingsBrowser(station, bridge, tasks)
    qtbot.addWidget(widget)
    widget.resize(1340, 700)
    widget.show()
    qtbot.waitUntil(lambda: widget.loads > 0, timeout=5000)
    yield widget
    widget.shutdown()
    bridge.close()
    tasks.shutdown()


def _cell(browser, record_id: str, col: int):
    row = browser.model.row_of(record_id)
    assert row >= 0, f"record {record_id} is not listed"
    return browser.model.index(row, col)


def _click(qtbot, browser, index) -> None:
    rect = browser.table.visualRect(index)
    qtbot.mouseClick(browser.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_the_lock_column_protects_a_record_from_retention(qtbot, station, browser):
    first, second = record_tag(station, "locks")
    qtbot.waitUntil(lambda: browser.model.row_of(first.id) >= 0, timeout=5000)
    lock = _cell(browser, first.id, COL_LOCK)
    assert lock.data(Qt.ItemDataRole.AccessibleTextRole) == "not protected"
    assert "Click to protect" in lock.data(Qt.ItemDataRole.ToolTipRole)

    _click(qtbot, browser, lock)
    qtbot.waitUntil(lambda: station.recordings.get(first.id).protected, timeout=5000)
    qtbot.waitUntil(lambda: _cell(browser, first.id, COL_LOCK).data(
        Qt.ItemDataRole.AccessibleTextRole) == "protected", timeout=5000)
    assert not station.recordings.get(second.id).protected

    # retention spares it, deletes the other and the row says why
    station.storage.configure(floor_bytes=0, retention_days=0, retention_max_gb=1e-9)
    assert station.storage.retention_pass() == [second.id]
    qtbot.waitUntil(lambda: _cell(browser, second.id, COL_STATUS).data() == "deleted",
                    timeout=5000)
    tip = _cell(browser, second.id, COL_STATUS).data(Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("retention: recordings over")
    assert _cell(browser, second.id, COL_LOCK).data(Qt.ItemDataRole.DecorationRole) is None

    # clicked again: released
    _click(qtbot, browser, _cell(browser, first.id, COL_LOCK))
    qtbot.waitUntil(lambda: not station.recordings.get(first.id).protected, timeout=5000)
    qtbot.waitUntil(lambda: _cell(browser, first.id, COL_LOCK).data(
        Qt.ItemDataRole.AccessibleTextRole) == "not protected", timeout=5000)
    assert browser.select(first.id)
    assert browser.act_protect.text() == "Protect" and browser.act_protect.isEnabled()


def test_gaps_are_shown_per_record(qtbot, station, browser):
    (record,) = record_tag(station, "gaps", sources=1)
    begin = datetime.now(timezone.utc) - timedelta(minutes=5)
    with station.catalog.session() as s:  # as the core stores an outage (app.models)
        row = s.get(Record, record.id)
        row.gaps = [{"begin_utc": begin.isoformat(), "end_utc": (begin + timedelta(seconds=10.5)).isoformat()}]
        s.add(row)
    browser.reload()
    qtbot.waitUntil(lambda: _cell(browser, record.id, COL_GAPS).data() == "1 (10.5 s)",
                    timeout=5000)
    assert "(10.5 s)" in _cell(browser, record.id, COL_GAPS).data(Qt.ItemDataRole.ToolTipRole)
    assert browser.select(record.id)
    assert browser._detail_labels["Gaps"].text().endswith("(10.5 s)")


def test_storage_tab_saves_retention_and_the_guard_takes_it_at_once(qtbot, station, tmp_path,
                                                                    monkeypatch):
    config = tmp_path / "config" / "recording-station.toml"
    monkeypatch.setenv("RS_CONFIG_FILE", str(config))
    ensure_application()
    dialog = SettingsDialog(station.settings, None, station=station)
    qtbot.addWidget(dialog)
    dialog.show()
    page, recording = dialog.pages["Storage"], dialog.pages["Recording"]
    for key in ("disk_floor_mb", "retention_days", "retention_max_gb"):
        assert page.isAncestorOf(dialog.fields[key][1]), key
    for key in ("segment_s", "fsync_s"):  # how files are cut: the Recording page's
        assert recording.isAncestorOf(dialog.fields[key][1]), key
    # the live figures, from the storage service
    qtbot.waitUntil(lambda: "free of" in dialog.disk_figures.text(), timeout=5000)
    assert "Used by recordings" in dialog.disk_figures.text()

    values = {"disk_floor_mb": 321, "retention_days": 14, "retention_max_gb": 2.5,
              "segment_s": 600, "fsync_s": 1.5}
    for key, value in values.items():
        dialog.fields[key][1].setValue(value)
    with qtbot.waitSignal(dialog.finished, timeout=3000):
        dialog.save_button.click()
    reloaded = Settings(data_dir=station.settings.data_dir)
    assert {key: getattr(reloaded, key) for key in values} == values
    guard = station.storage
    assert (guard.floor_bytes, guard.retention_days, guard.retention_max_gb) == (321 << 20, 14, 2.5)
    assert station.recordings.disk_floor_bytes == 321 << 20
    assert (station.settings.segment_s, station.settings.fsync_s) == (600, 1.5)
    assert station.recorder._segment_s == 600  # the recorder rolls files over at the new length


@pytest.fixture
def window(qtbot, station, api_server):
    ensure_application()
    group = station.groups.create(GroupIn(name="wall"))
    src = station.sources.create(SourceIn(name="cam", uri_rtsp=TESTSRC_5FPS))
    station.groups.add_source(group.id, src.id)
    with open_main_window(qtbot, station, api_server.url, tiles=1) as win:
        wait_until(lambda: station.sources.get(src.id).status.value == "online", 10,
                   message="online")
        yield win


def test_status_bar_shows_the_floor_and_a_stop_for_a_full_disk(qtbot, station, window):
    bar = window.status
    free, _where = bar._disk()
    assert bar.disk_label.property("low") is False and bar.disk_label.property("near") is False
    # near the floor: amber, the floor named
    near_mb = (free >> 20) * 2 // 3
    window._on_settings_saved(station.settings.model_copy(update={"disk_floor_mb": near_mb}))
    assert bar.disk_label.property("near") is True and bar.disk_label.property("low") is False
    assert "floor" in bar.disk_label.text()

    (record,) = station.recordings.start("night", "wall")
    tile = next(iter(window.wall.tiles.values()))
    qtbot.waitUntil(lambda: bool(tile.recording_tags), timeout=3000)
    # The floor rises above what the disk has: the running guard stops the recording.
    high = station.settings.model_copy(update={"disk_floor_mb": (free >> 20) + 1024})
    apply_settings(station, high)
    window._on_settings_saved(high)
    qtbot.waitUntil(lambda: station.recordings.get(record.id).status.value == "failed",
                    timeout=5000)
    assert station.recordings.get(record.id).error.startswith("disk full: ")
    qtbot.waitUntil(lambda: "recordings stopped: disk full" in bar.disk_label.text(), timeout=3000)
    assert bar.disk_label.property("low") is True
    assert "Stopped 1 recording(s)" in bar.disk_label.toolTip()
    assert any("Stopped 1 recording(s)" in n for n in window.notifications)
    qtbot.waitUntil(lambda: not tile.recording_tags, timeout=3000)  # the REC badge is off

    # room again (the floor back down), a recording starts: the notice goes
    low = station.settings.model_copy(update={"disk_floor_mb": 0})
    apply_settings(station, low)
    window._on_settings_saved(low)
    station.recordings.start("morning", "wall")
    qtbot.waitUntil(lambda: "disk full" not in bar.disk_label.text(), timeout=3000)
    assert bar.disk_label.property("low") is False
    assert Path(station.recordings.get(record.id).location).stat().st_size > 0
