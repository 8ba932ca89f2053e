"""The export dialog (offscreen Qt) on a real core: a test pattern recorded with a rollover,
the dialog opened from the Recordings tab's context menu with the record's range, Export
writes the MP4 to the chosen folder with the bar at 100 %, and Cancel stops an export."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import av
import pytest

from app.schemas import SourceIn
from app.station import build_station, start_station, stop_station
from tests.conftest import TESTSRC, make_settings, wait_until
from ui.application import ensure_application
from ui.bridge import EventBridge
from ui.recordings.export_dialog import STEPS, ExportDialog, from_qt, to_qt
from ui.recordings.recordings import RecordingsBrowser
from ui.tasks import TaskRunner


@pytest.fixture
def rolled(tmp_path):
    """A source recorded ~3.5 s with a new file every second."""
    station = build_station(make_settings(tmp_path, segment_s=1))
    start_station(station)
    source = station.sources.create(SourceIn(name="pattern", uri_rtsp=TESTSRC))
    wait_until(lambda: station.sources.get(source.id).status.value == "online", 15)
    station.recordings.start_sources("t", [source.id])
    time.sleep(3.5)
    station.recordings.stop("t")
    yield station, source.id
    stop_station(station)


def _frames(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


def test_context_menu_prefills_and_export_writes_the_file(qtbot, rolled, tmp_path):
    station, source_id = rolled
    ensure_application()
    bridge, tasks = EventBridge(station.bus), TaskRunner()
    browser = RecordingsBrowser(station, bridge, tasks)
    qtbot.addWidget(browser)
    try:
        browser.show()
        qtbot.waitUntil(lambda: browser.model.rowCount() >= 2, timeout=5000)
        assert browser.act_export in browser.table.actions()  # the context menu has it
        records = sorted(station.recordings.list("t"), key=lambda r: r.begin_utc)
        assert browser.select(records[0].id)
        dialog = browser.export_range_selected()
        assert dialog is not None
        qtbot.addWidget(dialog)
        assert from_qt(dialog.begin_edit.dateTime()).isoformat(timespec="milliseconds") \
            .replace("+00:00", "Z") == records[0].begin_utc

        # Widen the range across the first rollover, into the second file.
        begin = from_qt(dialog.begin_edit.dateTime())
        dialog.end_edit.setDateTime(to_qt(begin + timedelta(seconds=1.8)))
        out = tmp_path / "out"
        out.mkdir()
        dialog.folder_edit.setText(str(out))
        seen: list[int] = []
        dialog.progress.valueChanged.connect(seen.append)
        with qtbot.waitSignal(dialog.finished_export, timeout=20000) as done:
            dialog.export_button.click()
        written = done.args[0]
        assert dialog.progress.value() == STEPS
        assert len(written) == 1 and written[0].parent == out and written[0].suffix == ".mp4"
        assert list(out.iterdir()) == written  # no .part left behind
        assert _frames(written[0]) >= 40  # 1.8 s at 25 fps, from two files
        assert dialog.message.text() == f"Written: {written[0]}"
        assert not list(station.exports.work_dir.glob("*"))
        dialog.close()
    finally:
        browser.shutdown()
        bridge.close()
        tasks.shutdown()


def test_cancel_stops_and_leaves_no_file(qtbot, rolled, tmp_path, monkeypatch):
    station, source_id = rolled
    ensure_application()
    first = min(station.recordings.list("t"), key=lambda r: r.begin_utc)
    begin = datetime.fromisoformat(first.begin_utc.replace("Z", "+00:00"))
    dialog = ExportDialog(station, [source_id], begin, begin + timedelta(seconds=3), None)
    qtbot.addWidget(dialog)
    dialog.folder_edit.setText(str(tmp_path))
    # The cut holds after its first progress report until the operator has pressed Cancel.
    monkeypatch.setattr("recorder.export.PROGRESS_EVERY", 1)
    real = station.exports.export_to

    def held(ids, b, e, folder, *, progress, cancelled):
        def report(fraction: float) -> None:
            progress(fraction)
            wait_until(cancelled, 10, message="Cancel pressed")
        return real(ids, b, e, folder, progress=report, cancelled=cancelled)

    monkeypatch.setattr(station.exports, "export_to", held)
    dialog.export_button.click()
    assert dialog.running() and not dialog.export_button.isEnabled()
    dialog.cancel_button.click()
    assert dialog.message.text() == "Cancelling…"
    qtbot.waitUntil(lambda: dialog.export_button.isEnabled(), timeout=10000)
    assert dialog.message.text() == "Export cancelled."
    assert dialog.progress.value() == 0
    assert not [p for p in tmp_path.iterdir() if p.suffix in (".mp4", ".part")]
