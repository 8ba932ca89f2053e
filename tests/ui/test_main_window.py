"""The main window against a real running core (offscreen Qt): the camera wall (live
tiles, re-flow, focus, selection), recording controls, groups panel, status bar, remote
control awareness and closing while recording — asserting on the catalog and the files."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox

from app.live import Demand
from app.schemas import GroupIn, SourceIn
from tests.conftest import TESTSRC, decode_video, md5_of
from tests.support.main_window import open_main_window
from tests.support.recording_panel import answer_stop, pick_group
from ui.application import ensure_application
from ui.settings_dialog import SettingsDialog
from app.layouts.auto_grid import best_grid


@pytest.fixture
def window(qtbot, station, api_server):
    ensure_application()
    group = station.groups.create(GroupIn(name="wall"))
    for name in ("left", "right", "third"):
        src = station.sources.create(SourceIn(name=name, uri_rtsp=TESTSRC))
        if name != "third":
            station.groups.add_source(group.id, src.id)
    with open_main_window(qtbot, station, api_server.url, tiles=3) as win:
        yield win


def _non_blank(tile) -> bool:
    if tile.image is None:
        return False
    grabbed = tile.grab().toImage().convertToFormat(tile.image.Format.Format_RGB888)
    pixels = np.frombuffer(grabbed.constBits(), np.uint8, grabbed.sizeInBytes())
    return pixels.std() > 20


def _ids(station) -> dict[str, int]:
    return {s.name: s.id for s in station.sources.list()}


def test_tiles_show_live_frames_with_status_and_fps(qtbot, window):
    qtbot.waitUntil(lambda: all(_non_blank(t) for t in window.wall.tiles.values()), timeout=15000)
    qtbot.waitUntil(lambda: all(t.stats.fps > 10 for t in window.wall.tiles.values()), timeout=8000)
    tile = next(iter(window.wall.tiles.values()))
    assert tile.status == "online" and tile.demand == Demand.KEYFRAMES


def test_grid_reflows_and_focus_decodes_every_frame(qtbot, window, station):
    # the automatic grid on a 16:9 area: the most picture, then the fewest empty cells
    assert [best_grid(n, 1280, 720) for n in (1, 2, 4, 5, 9)] == [(1, 1), (2, 1), (2, 2), (3, 2), (3, 3)]
    ids = _ids(station)
    wall = window.wall
    left = wall.tiles[ids["left"]]
    qtbot.mouseDClick(left, Qt.MouseButton.LeftButton)
    assert wall.focused == ids["left"] and wall.shown_ids() == [ids["left"]]
    assert left.demand == Demand.ALL
    assert all(t.demand == Demand.NONE and t.isHidden() for i, t in wall.tiles.items() if i != ids["left"])
    # the focused tile gets every frame: its picture changes several times a second
    seq = left.frame_seq
    qtbot.waitUntil(lambda: left.frame_seq >= seq + 5, timeout=3000)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert wall.focused is None and len(wall.shown_ids()) == 3
    assert all(t.demand == Demand.KEYFRAMES and t.isVisible() for t in wall.tiles.values())
    # a fourth source arrives through the API: one tile more, the others keep running
    before = {i: id(t) for i, t in wall.tiles.items()}
    station.sources.create(SourceIn(name="fourth", uri_rtsp=TESTSRC))
    qtbot.waitUntil(lambda: len(wall.tiles) == 4, timeout=5000)
    assert all(id(wall.tiles[i]) == before[i] for i in before)


def test_start_and_stop_a_group_from_the_panel(qtbot, window, station):
    tags = window.tags
    pick_group(qtbot, window, "wall")
    tags.tag_edit.setText("shift-a")
    tags.tag_edit.setModified(True)
    qtbot.mouseClick(tags.start_group_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: station.recordings.is_running("shift-a"), timeout=5000)
    qtbot.waitUntil(lambda: [r.name for r in tags.summary] == ["shift-a"], timeout=5000)
    assert tags.summary[0].records == 2
    qtbot.waitUntil(lambda: tags.running.topLevelItemCount() == 1 and
                    tags.running.topLevelItem(0).text(3) != "0 B", timeout=5000)
    assert window.status.rec_label.text() == "● 2 recording"
    ids = _ids(station)
    assert window.wall.tiles[ids["left"]].recording_tags == {"shift-a"}
    assert not window.wall.tiles[ids["third"]].recording_tags
    qtbot.wait(1500)
    tags.running.setCurrentItem(tags.running.topLevelItem(0))
    qtbot.mouseClick(tags.stop_button, Qt.MouseButton.LeftButton)
    answer_stop(qtbot, tags)
    qtbot.waitUntil(lambda: not station.recordings.is_running("shift-a"), timeout=5000)
    for record in station.recordings.list("shift-a"):
        assert record.status.value == "finished"
        assert decode_video(record.location)["frames"] >= 20
        assert record.hash_md5 == md5_of(Path(record.location))
    qtbot.waitUntil(lambda: window.status.rec_label.text() == "idle", timeout=5000)


def test_selected_tiles_record_under_a_tag_and_f9_stops(qtbot, window, station):
    ids = _ids(station)
    wall, tags = window.wall, window.tags
    qtbot.mouseClick(wall.tiles[ids["right"]], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(wall.tiles[ids["third"]], Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.ControlModifier)
    assert tags.selected_sources == sorted([ids["right"], ids["third"]])
    tags.tag_edit.setText("picked")
    tags.tag_edit.setModified(True)
    qtbot.mouseClick(tags.start_selected_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: station.recordings.is_running("picked"), timeout=5000)
    recorded = {r.source[0].id if isinstance(r.source, list) else r.source.id
                for r in station.recordings.list("picked")}
    assert recorded == {ids["right"], ids["third"]}
    qtbot.waitUntil(lambda: any(r.name == "picked" for r in tags.summary), timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_F9)  # the shortcut toggles: the typed tag records, so stop
    answer_stop(qtbot, tags)
    qtbot.waitUntil(lambda: not station.recordings.is_running("picked"), timeout=5000)


def test_report_says_what_kind_of_message_it_is_never_guessed_from_its_words(qtbot, window, station,
                                                                             monkeypatch):
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text, *_: warned.append(text))
    window.setProperty("quiet_errors", False)
    window.report("Started nothing: the disk is full", error=True)
    window.report("Could not be clearer: all is well")
    assert warned == ["Started nothing: the disk is full"]
    assert window.status.currentMessage() == "Could not be clearer: all is well"
    # through a panel: an operator's slip is an error, a stop is a result
    window.tags.tag_edit.setText("")
    window.tags.stop_selected()
    assert warned[-1] == "Pick a running tag to stop."
    station.recordings.start("brief", "wall")
    window.tags.stop_tag("brief")
    qtbot.waitUntil(lambda: window.status.currentMessage() == "Stopped 2 recording(s) of “brief”.",
                    timeout=15000)
    assert len(warned) == 2


def test_the_settings_dialog_is_handed_the_window_s_station(qtbot, window, station):
    seen = []

    def look() -> None:
        dialog = window.findChild(SettingsDialog)
        seen.append(dialog.station)
        dialog.reject()
    QTimer.singleShot(100, look)
    window.open_settings()  # modal: returns once `look` closed it
    assert seen == [station]


def test_a_recording_started_through_the_api_appears_in_the_gui(qtbot, window, api_server, station):
    body = json.dumps({"model": "Source", "tag_name": "remote", "group_name": "wall"}).encode()
    request = urllib.request.Request(api_server.url + "api/v1/record", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    qtbot.waitUntil(lambda: any("remote" in t.recording_tags for t in window.wall.tiles.values()),
                    timeout=5000)
    assert any("started by api" in n for n in window.notifications)
    station.recordings.stop("remote", origin="api")
    qtbot.waitUntil(lambda: not any(t.recording_tags for t in window.wall.tiles.values()), timeout=5000)
    assert any("stopped by api" in n for n in window.notifications)


def test_a_tile_shows_a_recording_paused_or_muted_by_another_front_end(qtbot, window, station):
    """Device Connect pauses and mutes running recordings (and can start one muted): the
    tile's REC badge says so, whichever front end did it, and forgets it once stopped."""
    ids = _ids(station)
    tile = window.wall.tiles[ids["left"]]
    [record] = station.recordings.start_sources("desk", [ids["left"]], origin="dc",
                                                audio_muted=True)
    qtbot.waitUntil(lambda: tile.recording_flags.get("desk") == {"muted"}, timeout=15000)
    assert "desk (muted)" in tile.badge_text(0)
    station.recordings.pause(record.id, origin="dc")
    qtbot.waitUntil(lambda: tile.recording_flags.get("desk") == {"muted", "paused"}, timeout=5000)
    assert tile.badge_text(65) == "● REC 0:01:05  desk (muted, paused)"
    station.recordings.set_audio_muted(record.id, False, origin="dc")
    station.recordings.resume(record.id, origin="dc")
    qtbot.waitUntil(lambda: tile.recording_flags.get("desk") == set(), timeout=5000)
    assert tile.badge_text(0) == "● REC 0:00:00  desk"
    station.recordings.stop("desk", origin="dc")
    qtbot.waitUntil(lambda: not tile.recording_tags, timeout=5000)
    assert tile.recording_flags == {}


def test_groups_panel_drop_rename_remove(qtbot, window, station, monkeypatch):
    panel = window.groups
    ids = _ids(station)
    wall_group = next(g for g in station.groups.list() if g.name == "wall")
    qtbot.waitUntil(lambda: wall_group.id in panel.members, timeout=5000)
    # drag "third" from All sources and drop it onto the group
    tree = panel.tree
    dragged = next(i for i in panel._items() if i.data(0, Qt.ItemDataRole.UserRole) == "source"
                   and i.data(0, Qt.ItemDataRole.UserRole + 1) == ids["third"]
                   and i.parent().data(0, Qt.ItemDataRole.UserRole) == "all")
    target = next(i for i in panel._items() if i.data(0, Qt.ItemDataRole.UserRole) == "group")
    tree.clearSelection()
    dragged.setSelected(True)
    drop = QDropEvent(QPointF(tree.visualItemRect(target).center()), Qt.DropAction.CopyAction,
                      tree.mimeData([dragged]), Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    tree.dropEvent(drop)
    qtbot.waitUntil(lambda: ids["third"] in panel.members.get(wall_group.id, []), timeout=5000)
    assert ids["third"] in [s.id for s in station.groups.get(wall_group.id).sources]
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("lobby", True))
    panel.ask_rename(wall_group.id)
    qtbot.waitUntil(lambda: panel.group_names.get(wall_group.id) == "lobby", timeout=5000)
    assert [g.name for g in station.groups.list()] == ["lobby"]
    panel.remove_from_group(ids["left"], wall_group.id)
    qtbot.waitUntil(lambda: ids["left"] not in panel.members.get(wall_group.id, []), timeout=5000)
    # picking the group limits the wall to its sources
    panel.filter_changed.emit(panel.members[wall_group.id])
    assert set(window.wall.shown_ids()) == {ids["right"], ids["third"]}
    # the group's context menu offers the actions
    item = next(i for i in panel._items() if i.data(0, Qt.ItemDataRole.UserRole + 1) == wall_group.id
                and i.data(0, Qt.ItemDataRole.UserRole) == "group")
    panel._context_menu(panel.tree.visualItemRect(item).center())
    labels = [a.text() for a in panel.last_menu.actions()]
    panel.last_menu.close()
    assert labels == ["Start recording…", "Play recordings together…", "Rename…", "Delete group…"]


def test_status_bar_url_token_and_disk(qtbot, window, station):
    bar = window.status
    bar.copy_url()
    assert QApplication.clipboard().text() == window.api_url
    assert "no token" in bar.token_label.text()
    bar.settings = station.settings.model_copy(update={"token": "t0ps3cret"})
    bar._show_token(False)
    assert "t0ps3cret" not in bar.token_label.text()
    bar._show_token(True)
    assert "t0ps3cret" in bar.token_label.text()
    assert bar.disk_label.property("low") is False
    bar.settings = bar.settings.model_copy(update={"disk_floor_mb": 1 << 40})  # no disk has that
    bar.refresh()
    assert bar.disk_label.property("low") is True and "free" in bar.disk_label.text()
    assert bar.cpu_label.text().startswith("CPU ")


def test_a_signal_closes_without_asking_even_while_recording(qtbot, window, station, monkeypatch):
    """SIGTERM at logout must not wait for an answer nobody gives (the installed package's
    test hung there when the signal came while the window still showed a recording)."""
    station.recordings.start("night", "wall")
    qtbot.waitUntil(lambda: window.running_count() == 2, timeout=5000)
    window.setProperty("close_choice", None)

    def asked():
        raise AssertionError("a signal must not ask")
    monkeypatch.setattr(window, "ask_close_choice", asked)
    assert window.close_for_signal()
    assert not window.isVisible()


def test_closing_while_recording_can_keep_the_station_running(qtbot, window, station):
    station.recordings.start("night", "wall")
    qtbot.waitUntil(lambda: window.running_count() == 2, timeout=5000)
    window.setProperty("close_choice", "cancel")
    window.close()
    assert window.isVisible() and station.recordings.is_running("night")
    window.setProperty("close_choice", "keep")
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible() or window.isMinimized(), timeout=3000)
    assert station.recordings.is_running("night")  # still recording in the background
    window.tray.restore()
    window.setProperty("close_choice", "stop")
    assert window.close()
