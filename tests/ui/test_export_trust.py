"""The Export dialog an operator trusts (#25 item 4), offscreen on a real station core with
records placed in the catalog (no camera): a missing folder is made and remembered for the
next export; times typed key by key stay as typed and are the range exported (read back from
the evidence package's manifest); after success Open folder and Copy path replace Cancel; the
dialog keeps its size for 1 and for 12 cameras, before and after exporting them all."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication

from app.audited import AuditedStation
from app.evidence.verify import verify_package
from app.station import build_station, stop_station
from tests.conftest import make_settings
from tests.support.placed_records import place_record, quiet_source
from ui.application import ensure_application
from ui.recordings.export_dialog import ExportDialog
from ui.settings_dialog import SettingsDialog

BEGIN = datetime(2026, 3, 1, 10, 0, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def placed(tmp_path_factory):
    root = tmp_path_factory.mktemp("export-trust")
    station = build_station(make_settings(root))
    station.audit.start()
    ids = [quiet_source(station, f"Camera {n:02d} with a long descriptive name")
           for n in range(1, 13)]
    for source_id in ids:
        place_record(station, root, source_id, "t", BEGIN)
    yield station, ids
    stop_station(station)


def _dialog(qtbot, station, ids) -> ExportDialog:
    ensure_application()
    dialog = ExportDialog(station, ids, BEGIN, BEGIN + timedelta(seconds=1))
    qtbot.addWidget(dialog)
    return dialog


def _export(qtbot, dialog: ExportDialog) -> list:
    with qtbot.waitSignal(dialog.finished_export, timeout=20000) as done:
        dialog.export_button.click()
    return done.args[0]


def test_missing_folder_is_made_and_remembered(qtbot, placed, tmp_path):
    station, ids = placed
    dialog = _dialog(qtbot, station, ids[:1])
    folder = tmp_path / "cases" / "new"
    dialog.folder_edit.setText(str(folder))
    (written,) = _export(qtbot, dialog)
    assert written.parent == folder and written.suffix == ".mp4"
    assert _dialog(qtbot, station, ids[:2]).folder_edit.text() == str(folder)


def test_typed_times_stay_as_typed_and_are_exported(qtbot, placed, tmp_path):
    station, ids = placed
    dialog = _dialog(qtbot, station, ids[:1])
    dialog.begin_edit.setText("yesterday-ish")
    dialog.export_button.click()
    assert dialog.message.text().startswith("Type the times as") and not dialog.running()
    begin_local = (BEGIN + timedelta(seconds=0.25)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    typed_begin = begin_local + ".250"
    typed_end = (BEGIN + timedelta(seconds=1.5)).astimezone().strftime("%H:%M:%S") + ".5"
    for edit, text in ((dialog.begin_edit, typed_begin), (dialog.end_edit, typed_end)):
        edit.clear()
        qtbot.keyClicks(edit, text)
        assert edit.text() == text  # nothing re-interpreted while typing
    dialog.folder_edit.setText(str(tmp_path))
    dialog.evidence_box.setChecked(True)
    qtbot.keyClicks(dialog.note_edit, "Case 7")
    (package,) = _export(qtbot, dialog)
    assert dialog.begin_edit.text() == typed_begin and dialog.end_edit.text() == typed_end
    manifest = json.loads((package / "manifest.json").read_text())
    assert manifest["requested"]["begin"]["utc"] == "2026-03-01T10:00:00.250Z"
    assert manifest["requested"]["end"]["utc"] == "2026-03-01T10:00:01.500Z"
    assert manifest["exported"]["case_note"] == "Case 7"
    assert verify_package(package, station.evidence.public_key).ok


def test_after_success_open_folder_and_copy_path_and_the_shape_holds(qtbot, placed, tmp_path):
    station, ids = placed
    one, twelve = _dialog(qtbot, station, ids[:1]), _dialog(qtbot, AuditedStation(station), ids)
    for dialog in (one, twelve):
        dialog.show()
        qtbot.waitExposed(dialog)
    assert one.size() == twelve.size()
    before = twelve.size()
    assert twelve.cancel_button.isVisible() and not twelve.open_button.isVisible()
    twelve.folder_edit.setText(str(tmp_path))
    written = _export(qtbot, twelve)
    assert len(written) == 12
    assert twelve.message.text() == f"Written: 12 files in {tmp_path}"  # one line for twelve
    assert twelve.size() == before  # the same shape with twelve files written
    assert not twelve.cancel_button.isVisible() and not twelve.export_button.isVisible()
    assert twelve.open_button.isVisible() and twelve.copy_button.isVisible()
    opened: list[QUrl] = []
    twelve.open_url = lambda url: opened.append(url) or True
    twelve.open_button.click()
    assert opened == [QUrl.fromLocalFile(str(tmp_path))]
    twelve.copy_button.click()
    assert QGuiApplication.clipboard().text() == str(tmp_path)
    entry = station.audit.list(page_size=1).items[0]  # the window's station audits it
    assert entry.action == "export footage" and entry.dialect == "gui"
    assert entry.result == "ok"


def test_settings_show_the_evidence_public_key_read_only(qtbot, placed):
    station, _ = placed
    ensure_application()
    dialog = SettingsDialog(station.settings, None, station=station)
    qtbot.addWidget(dialog)
    assert dialog.evidence_key.text() == station.evidence.public_key
    assert dialog.evidence_key.isReadOnly()
    assert "evidence_public_key" not in dialog.changes()  # shown, never saved
