"""The recording mode in the source dialog against a real core (offscreen Qt): Add source has
`continuous` preselected and the source it saves records by itself; the week grid painted with
the mouse gives the slots the service stores (one across midnight included) and shows them
again on edit; a schedule the service refuses shows its message and stores nothing; the
sources tree and the Recordings table show what a mode records.

`SCHEDULE_SCREENSHOT=1` makes the round-trip test save the dialog as docs/schedule.png (README)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QScrollArea

from app.record_modes import RecordMode
from app.schemas import SourceIn
from tests.conftest import TESTSRC_5FPS, wait_until
from tests.support.source_dialogs import open_source_dialog, save_source
from ui.groups_panel import ID, KIND, SOURCE, GroupsPanel
from ui.mode_marks import is_mode_record, mode_mark
from ui.recordings.recordings_model import COL_TAG, RecordRow, RecordsModel, Thumbnails
from ui.sources.schedule_cells import PER_DAY, schedule_from_cells

MON, TUE, WED = 0, 1, 2
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "schedule.png"


def _drag(qtbot, grid, start: tuple[int, str], end: tuple[int, str]) -> None:
    """Press on the cell of (day, "HH:MM"), move to the other one, release: real mouse
    events on the grid."""
    def point(day, hhmm):
        hours, minutes = map(int, hhmm.split(":"))
        return grid.cell_rect(day, hours * 2 + minutes // 30).center()
    qtbot.mousePress(grid, Qt.MouseButton.LeftButton, pos=point(*start))
    qtbot.mouseMove(grid, point(*end))
    qtbot.mouseRelease(grid, Qt.MouseButton.LeftButton, pos=point(*end))


def test_add_source_has_continuous_preselected_and_the_source_records_by_itself(qtbot, station,
                                                                              tasks):
    dialog = open_source_dialog(qtbot, station, tasks, kind="testsrc")
    form = dialog.record_mode
    assert form.current_mode == RecordMode.continuous
    assert form.record_tag.placeholderText() == "continuous"
    assert form.schedule.isHidden() or not form.schedule.isVisibleTo(dialog)
    form.set_mode(RecordMode.motion)
    assert form.record_tag.placeholderText() == "motion"
    form.set_mode(RecordMode.continuous)
    dialog.name.setText("always")
    saved = save_source(qtbot, dialog)

    source = station.sources.get(saved.id)  # read back through the service
    assert (source.record_mode, source.record_tag, source.retention_days) == (
        RecordMode.continuous, None, None)
    wait_until(lambda: station.recordings.running_record("continuous", source.id), 10,
               message="the continuous record")
    assert mode_mark(source) == "● continuous"

    # The API's default stays manual: a source created without a mode does not record.
    manual = station.sources.create(SourceIn(name="manual", uri_rtsp=TESTSRC_5FPS))
    assert manual.record_mode == RecordMode.manual and mode_mark(manual) == ""
    edit = open_source_dialog(qtbot, station, tasks, source_id=manual.id)
    assert edit.record_mode.current_mode == RecordMode.manual
    assert not edit.record_mode.record_tag.isEnabled()


def test_painted_week_gives_its_slots_and_round_trips_on_edit(qtbot, station, tasks):
    dialog = open_source_dialog(qtbot, station, tasks, kind="testsrc")
    form = dialog.record_mode
    form.set_mode(RecordMode.schedule)
    editor = form.schedule
    assert editor.isVisibleTo(dialog)
    grid = editor.grid
    _drag(qtbot, grid, (MON, "08:00"), (MON, "11:30"))           # Monday 08:00-12:00
    editor.brush_buttons["motion"].click()
    _drag(qtbot, grid, (TUE, "22:00"), (TUE, "23:30"))           # Tuesday 22:00-24:00 …
    _drag(qtbot, grid, (WED, "01:30"), (WED, "00:00"))           # … on to Wednesday 02:00
    editor.brush_buttons["off"].click()
    _drag(qtbot, grid, (MON, "20:00"), (MON, "20:00"))           # painting off: nothing
    form.record_tag.setText("office")
    form.retention.setValue(30)
    dialog.name.setText("office")
    assert form.record_tag.placeholderText().startswith("continuous or motion")
    if os.environ.get("SCHEDULE_SCREENSHOT"):  # make docs/schedule.png (README)
        dialog.resize(1010, 720)
        scroll = dialog.findChild(QScrollArea, "formScroll").verticalScrollBar()
        scroll.setValue(scroll.maximum())
        qtbot.wait(50)
        dialog.grab().save(str(SCREENSHOT))
    saved = save_source(qtbot, dialog)

    expected = [{"days": ["mon"], "from": "08:00", "to": "12:00", "mode": "continuous"},
                {"days": ["tue"], "from": "22:00", "to": "02:00", "mode": "motion"}]
    source = station.sources.get(saved.id)
    assert source.record_mode == RecordMode.schedule
    assert [s.model_dump(mode="json", by_alias=True) for s in source.record_schedule] == expected
    assert (source.record_tag, source.retention_days) == ("office", 30)
    assert mode_mark(source) == "● schedule"

    edit = open_source_dialog(qtbot, station, tasks, source_id=saved.id)
    again = edit.record_mode
    assert again.current_mode == RecordMode.schedule and again.schedule.isVisibleTo(edit)
    assert (again.record_tag.text(), again.retention.value()) == ("office", 30)
    cells = again.schedule.grid.cells
    assert cells[TUE][44:] == ["motion"] * 4 and cells[WED][:4] == ["motion"] * 4
    assert cells[MON][16:24] == ["continuous"] * 8 and cells[MON][24] == "off"
    assert schedule_from_cells(cells) == expected
    edit.description.setText("touched nothing else")
    save_source(qtbot, edit)
    assert [s.model_dump(mode="json", by_alias=True)
            for s in station.sources.get(saved.id).record_schedule] == expected


def test_a_schedule_the_service_refuses_shows_its_message_and_saves_nothing(qtbot, station,
                                                                           tasks):
    dialog = open_source_dialog(qtbot, station, tasks, kind="testsrc")
    form = dialog.record_mode
    form.set_mode(RecordMode.schedule)
    dialog.save_button.click()  # nothing painted: the service says a schedule needs a slot
    qtbot.waitUntil(lambda: not dialog.busy and tasks.pending == 0, timeout=10000)
    assert dialog.isVisible() and dialog.result() == 0
    assert "needs a record_schedule with at least one slot" in dialog.error_for("record_schedule")
    assert station.sources.list() == []

    # Single half-hours, alternating modes, a pattern no two days share: more slots than the
    # service takes (merging alike days cannot bring it under the limit).
    cells = [["off"] * PER_DAY for _ in range(7)]
    for day in range(4):
        for cell in range(day % 2, PER_DAY, 2):
            cells[day][cell] = ("continuous", "motion")[(cell // 2 + day // 2) % 2]
    form.schedule.grid.set_cells(cells)
    form.schedule.grid.changed.emit()
    assert len(schedule_from_cells(cells)) > 64
    dialog.save_button.click()
    qtbot.waitUntil(lambda: not dialog.busy and tasks.pending == 0, timeout=10000)
    assert dialog.error_for("record_schedule") == "At most 64 slots"
    assert station.sources.list() == []


def test_a_time_off_the_half_hour_is_shown_widened_and_kept_unless_painted(qtbot, station, tasks):
    odd = [{"days": ["sat"], "from": "08:15", "to": "09:00", "mode": "motion"}]
    source = station.sources.create(SourceIn(name="odd", uri_rtsp=TESTSRC_5FPS, record_mode="schedule",
                                             record_schedule=odd))
    edit = open_source_dialog(qtbot, station, tasks, source_id=source.id)
    editor = edit.record_mode.schedule
    assert editor.note.isVisibleTo(edit) and "half-hour" in editor.note.text()
    assert editor.grid.cells[5][16:18] == ["motion", "motion"]  # 08:00-09:00 on the grid
    save_source(qtbot, edit)
    assert [s.model_dump(mode="json", by_alias=True)
            for s in station.sources.get(source.id).record_schedule] == odd


def test_the_tree_and_the_recordings_table_show_what_a_mode_records(qtbot, station, tasks):
    yard = station.sources.create(SourceIn(name="yard", uri_rtsp=TESTSRC_5FPS,
                                           record_mode="continuous"))
    desk = station.sources.create(SourceIn(name="desk", uri_rtsp=TESTSRC_5FPS))
    panel = GroupsPanel(station, tasks, lambda message, error=False: None)
    qtbot.addWidget(panel)
    panel.reload()
    qtbot.waitUntil(lambda: len(_source_rows(panel)) == 2, timeout=5000)
    rows = _source_rows(panel)
    assert rows[yard.id][0] == "yard  ● continuous" and "“continuous”" in rows[yard.id][1]
    assert rows[desk.id] == ("desk", "")

    mode_record = wait_until(lambda: station.recordings.running_record("continuous", yard.id),
                             10, message="the mode's record")
    (manual_record,) = station.recordings.start_sources("incident", [yard.id], origin="api")
    model = RecordsModel(Thumbnails(tasks))
    model.set_rows([RecordRow.of(mode_record), RecordRow.of(manual_record)])
    tag = [model.index(i, COL_TAG) for i in range(2)]
    assert [model.data(i) for i in tag] == ["● continuous", "incident"]
    assert model.data(tag[0], Qt.ItemDataRole.ToolTipRole).startswith(
        "Records by itself (continuous)")
    assert is_mode_record(mode_record) and not is_mode_record(manual_record)
    station.recordings.stop("incident")


def _source_rows(panel) -> dict[int, tuple[str, str]]:
    return {item.data(0, ID): (item.text(0), item.toolTip(0)) for item in panel._items()
            if item.data(0, KIND) == SOURCE}
