"""The Recording panel without traps (#27 item 6), on a real station offscreen: it works on the
group picked in the tree; "Start selected" counts and names only the selected tiles shown;
"Start recording…" opens a dialog whose Cancel starts nothing; Stop tag and Stop all ask,
naming what stops and the recording modes that keep recording, and Cancel stops nothing."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from app.schemas import GroupIn, SourceIn
from tests.conftest import TESTSRC_5FPS
from tests.support.main_window import open_main_window
from tests.support.recording_panel import answer_stop, pick_group
from ui.groups_panel import ALL, KIND


@pytest.fixture
def window(qtbot, station, api_server):
    group = station.groups.create(GroupIn(name="wall"))
    for name in ("left", "right", "third"):
        source = station.sources.create(SourceIn(name=name, uri_rtsp=TESTSRC_5FPS))
        if name != "third":
            station.groups.add_source(group.id, source.id)
    with open_main_window(qtbot, station, api_server.url, tiles=3) as win:
        yield win


def _ids(station) -> dict[str, int]:
    return {s.name: s.id for s in station.sources.list()}


def _recorded(station, tag: str) -> set[str]:
    return {r.source.name for r in station.recordings.list(tag) if r.status.value == "recording"}


def test_panel_follows_the_tree_and_start_selected_counts_only_shown_tiles(qtbot, window,
                                                                          station):
    tags, tree, ids = window.tags, window.groups.tree, _ids(station)
    assert tags.group == "" and not tags.start_group_button.isEnabled()  # no second choice
    pick_group(qtbot, window, "wall")
    assert tags.group_label.text() == "wall" and tags.start_group_button.isEnabled()
    assert tags.tag().startswith("wall-")
    everything = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                      if tree.topLevelItem(i).data(0, KIND) == ALL)
    tree.setCurrentItem(everything)  # all sources: no group to start
    assert tags.group == "" and not tags.start_group_button.isEnabled()

    qtbot.mouseClick(window.wall.tiles[ids["right"]], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.wall.tiles[ids["third"]], Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.ControlModifier)
    assert tags.start_selected_button.text() == "Start selected (2)"
    assert tags.selection_label.text() == "Selected: right, third"
    pick_group(qtbot, window, "wall")  # the filter hides "third": it is not counted
    assert tags.start_selected_button.text() == "Start selected (1)"
    assert tags.selection_label.text() == \
        "Selected: right; 1 selected tile(s) hidden by the filter not counted"
    tags.tag_edit.setText("picked")
    tags.tag_edit.setModified(True)
    qtbot.mouseClick(tags.start_selected_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _recorded(station, "picked") == {"right"}, timeout=15000)


def test_start_recording_ellipsis_opens_a_dialog_and_cancel_starts_nothing(qtbot, window,
                                                                          station):
    tags, groups = window.tags, window.groups
    qtbot.waitUntil(lambda: "wall" in groups.group_names.values(), timeout=15000)
    tree = groups.tree
    item = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                if tree.topLevelItem(i).text(0).startswith("wall"))
    groups._context_menu(tree.visualItemRect(item).center())
    entry = next(a for a in groups.last_menu.actions() if a.text() == "Start recording…")
    entry.trigger()
    dialog = tags.start_dialog
    assert dialog is not None and dialog.isVisible()
    assert [dialog.sources.item(i).text() for i in range(dialog.sources.count())] == \
        ["left", "right"]
    assert dialog.start_button.text() == "Start 2 source(s)"
    dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
    assert tags.start_dialog is None and station.recordings.running_tags() == []

    entry.trigger()
    dialog = tags.start_dialog
    dialog.tag_edit.setText("from-menu")
    dialog.start_button.click()
    qtbot.waitUntil(lambda: _recorded(station, "from-menu") == {"left", "right"}, timeout=15000)
    # the one start is the dialog's: the cancelled one queued nothing before it
    assert station.recordings.running_tags() == ["from-menu"]
    qtbot.waitUntil(lambda: len(station.audit.list(action="start recording").items) == 1,
                    timeout=3000)  # the trail is written off the caller's thread


def test_stops_ask_naming_what_stops_and_the_modes_that_keep_recording(qtbot, window, station):
    tags = window.tags
    door = station.sources.create(SourceIn(name="door", uri_rtsp=TESTSRC_5FPS,
                                           record_mode="continuous"))
    wall = next(g for g in station.groups.list() if g.name == "wall")
    station.groups.add_source(wall.id, door.id)
    qtbot.waitUntil(lambda: station.recordings.is_running("continuous"), timeout=8000)
    station.recordings.start("shift", "wall")
    qtbot.waitUntil(lambda: any(r.name == "shift" for r in tags.summary), timeout=15000)

    tags.tag_edit.setText("shift")
    qtbot.mouseClick(tags.stop_button, Qt.MouseButton.LeftButton)
    text, details = answer_stop(qtbot, tags, yes=False)
    assert text == "Stop the tag “shift”? 3 recording(s) stop: door, left, right."
    assert details == "Recording modes keep recording: door (continuous), under their own tags."
    assert _recorded(station, "shift") == {"door", "left", "right"}  # Cancel stopped nothing

    qtbot.mouseClick(tags.stop_all_button, Qt.MouseButton.LeftButton)
    text, details = answer_stop(qtbot, tags, yes=False)
    assert text == "Stop every tag? 3 recording(s) of “shift” stop: door, left, right."
    assert details == "Recording modes keep recording: door (continuous) (under “continuous”)."
    assert _recorded(station, "shift") == {"door", "left", "right"}

    qtbot.mouseClick(tags.stop_all_button, Qt.MouseButton.LeftButton)
    answer_stop(qtbot, tags, yes=True)
    qtbot.waitUntil(lambda: not station.recordings.is_running("shift"), timeout=15000)
    assert _recorded(station, "continuous") == {"door"}  # the mode goes on
