"""The recordings browser and the in-app player against a real running core (offscreen Qt):
real recordings from a test pattern and from the RTSP test camera, checked in the catalog
and on disk, not only in the widgets."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from datetime import date, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from app.schemas import GroupIn, SourceIn
from tests.conftest import TESTSRC, md5_of
from ui.application import ensure_application
from ui.bridge import EventBridge
from ui.recordings.player import PlayerWidget, clock
import ui.recordings.recordings
from ui.recordings.recordings import RecordingsBrowser
from ui.recordings.recordings_model import (
    COL_BEGIN,
    COL_DURATION,
    COL_MD5,
    COL_SIZE,
    COL_STATUS,
    COL_SYNC,
    THUMB,
    human_size,
    local_time,
)
from ui.tasks import TaskRunner

PATTERN_2 = "testsrc://smptebars?size=320x240&rate=25&gop=1"


def add_sources(station, group: str, *uris: tuple[str, str]) -> list[int]:
    grp = station.groups.create(GroupIn(name=group))
    ids = []
    for name, uri in uris:
        src = station.sources.create(SourceIn(name=name, uri_rtsp=uri))
        station.groups.add_source(grp.id, src.id)
        ids.append(src.id)
    deadline = time.monotonic() + 15
    while not all(station.sources.get(i).status.value == "online" for i in ids):
        assert time.monotonic() < deadline, "sources never came online"
        time.sleep(0.05)
    return ids


def record(qtbot, station, tag: str, group: str, seconds: float):
    station.recordings.start(tag, group)
    qtbot.wait(int(seconds * 1000))
    return station.recordings.stop(tag)


@pytest.fixture
def make_browser(qtbot, station):
    ensure_application()
    made = []

    def make() -> RecordingsBrowser:
        bridge = EventBridge(station.bus)
        tasks = TaskRunner()
        widget = RecordingsBrowser(station, bridge, tasks)
        qtbot.addWidget(widget)
        widget.resize(1340, 700)
        widget.show()
        made.append((widget, tasks, bridge))
        qtbot.waitUntil(lambda: widget.loads > 0, timeout=5000)
        return widget

    yield make
    for widget, tasks, bridge in made:
        widget.shutdown()
        bridge.close()
        tasks.shutdown()


@pytest.fixture
def cams(station):
    return add_sources(station, "cams", ("pattern", TESTSRC))


def row_text(browser, record_id: str, col: int) -> str:
    row = browser.model.row_of(record_id)
    assert row >= 0, f"record {record_id} is not listed"
    return browser.model.index(row, col).data()


def listed_ids(browser) -> set[str]:
    return {row.record.id for row in browser.model.rows}


def reloaded(qtbot, browser, action) -> None:
    """Run `action` (which changes the filters) and wait for the browser's next answer."""
    before = browser.loads
    action()
    qtbot.waitUntil(lambda: browser.loads > before and not browser.loading, timeout=5000)


def non_blank(image) -> bool:
    image = image.convertToFormat(image.Format.Format_RGB888)
    pixels = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    return pixels.std() > 20


def keyframe_times(path: str) -> list[float]:
    with av.open(path) as container:
        stream = container.streams.video[0]
        return [float(p.pts * stream.time_base) for p in container.demux(stream)
                if p.is_keyframe and p.pts is not None]


# --- listing ---------------------------------------------------------------------------
@pytest.mark.usefixtures("cams")
def test_lists_records_with_duration_size_md5_state_and_thumbnail(qtbot, station, make_browser):
    finished = record(qtbot, station, "done", "cams", 1.5)[0]
    running = station.recordings.start("live", "cams")[0]
    browser = make_browser()
    qtbot.waitUntil(lambda: listed_ids(browser) == {finished.id, running.id}, timeout=5000)

    assert finished.status.value == "finished" and finished.hash_md5 == md5_of(Path(finished.location))
    assert row_text(browser, finished.id, COL_DURATION) == clock(finished.duration_s)
    assert finished.duration_s > 1.0
    assert row_text(browser, finished.id, COL_SIZE) == human_size(Path(finished.location).stat().st_size)
    assert row_text(browser, finished.id, COL_MD5) == "✓ verified"
    assert row_text(browser, running.id, COL_MD5) == "● recording"
    assert row_text(browser, running.id, COL_STATUS) == "recording"
    # The running record's duration grows from the one-second tick, without a reload. (The
    # start's event may reach the browser after it was made and reload it once: a tick is
    # looked for between reloads, three times at most; without ticks each try sees a reload.)
    for _attempt in range(3):
        loads = browser.loads
        first = row_text(browser, running.id, COL_DURATION)
        qtbot.waitUntil(lambda: row_text(browser, running.id, COL_DURATION) != first, timeout=3000)
        if browser.loads == loads:
            break
    assert browser.loads == loads
    # Thumbnails: the first keyframe, decoded off the GUI thread, then kept.
    qtbot.waitUntil(lambda: all(browser.thumbnails.get(r.record) is not None
                                for r in browser.model.rows), timeout=8000)
    thumb = browser.thumbnails.get(finished).toImage()
    assert thumb.width() <= THUMB.width() and thumb.height() <= THUMB.height() and non_blank(thumb)
    decoded = browser.thumbnails.decoded
    browser.reload()
    qtbot.waitUntil(lambda: browser.loads > loads, timeout=5000)
    assert browser.thumbnails.decoded == decoded  # from the cache

    # A file removed behind the station's back: the MD5 state says so.
    Path(finished.location).unlink()
    reloaded(qtbot, browser, browser.reload)
    assert row_text(browser, finished.id, COL_MD5) == "✗ missing"
    station.recordings.stop("live")


def test_filters_by_tag_source_status_and_date(qtbot, station, make_browser, monkeypatch):
    pattern, bars = add_sources(station, "cams", ("pattern", TESTSRC), ("bars", PATTERN_2))
    solo_group = station.groups.create(GroupIn(name="solo"))
    station.groups.add_source(solo_group.id, bars)
    both = record(qtbot, station, "morning", "cams", 1.0)
    solo = record(qtbot, station, "evening", "solo", 1.0)
    live = station.recordings.start("now", "solo")
    browser = make_browser()
    everything = {r.id for r in both + solo + live}
    qtbot.waitUntil(lambda: listed_ids(browser) == everything, timeout=5000)
    assert [browser.tag_box.itemText(i) for i in range(browser.tag_box.count())] == [
        "All tags", "evening", "morning", "now"]

    reloaded(qtbot, browser, lambda: browser.tag_box.setCurrentText("morning"))
    assert listed_ids(browser) == {r.id for r in both}
    reloaded(qtbot, browser, lambda: browser.source_box.setCurrentText("bars"))
    assert listed_ids(browser) == {r.id for r in both if r.source.id == bars}
    reloaded(qtbot, browser, lambda: browser.tag_box.setCurrentIndex(0))
    assert listed_ids(browser) == {r.id for r in both + solo + live if r.source.id == bars}
    reloaded(qtbot, browser, lambda: browser.status_box.setCurrentText("recording"))
    assert listed_ids(browser) == {live[0].id}
    reloaded(qtbot, browser, lambda: browser.status_box.setCurrentText("finished"))
    assert listed_ids(browser) == {r.id for r in both + solo if r.source.id == bars}
    reloaded(qtbot, browser, browser.clear_filters)
    assert listed_ids(browser) == everything

    today = date.today()
    reloaded(qtbot, browser, lambda: (browser.from_date.setDate(today + timedelta(days=1)),
                                      browser.from_check.setChecked(True)))
    assert listed_ids(browser) == set()
    reloaded(qtbot, browser, lambda: browser.from_date.setDate(today))
    assert listed_ids(browser) == everything
    reloaded(qtbot, browser, lambda: (browser.to_date.setDate(today - timedelta(days=1)),
                                      browser.to_check.setChecked(True)))
    assert listed_ids(browser) == set()
    reloaded(qtbot, browser, lambda: browser.to_date.setDate(today))
    assert listed_ids(browser) == everything
    assert browser.filter_bar.date_button.text() == today.isoformat()
    # The presets of the date button.
    reloaded(qtbot, browser, lambda: browser.filter_bar.set_last_days(6))
    assert browser.filter_bar.date_button.text() == "Last 7 days" and not browser.to_check.isChecked()
    assert browser.filters()["begin_from"].date() == today - timedelta(days=6)
    assert listed_ids(browser) == everything
    reloaded(qtbot, browser, lambda: browser.filter_bar.set_last_days(None))
    assert browser.filter_bar.date_button.text() == "Any date" and "begin_from" not in browser.filters()
    # Newest first, as the catalog has them.
    begins = [r.record.begin_utc for r in browser.model.rows]
    assert begins == sorted(begins, reverse=True)
    assert pattern != bars
    # Past the list's limit: the newest are shown, and the count says there are more.
    monkeypatch.setattr(ui.recordings.recordings, "LIST_LIMIT", 2)
    reloaded(qtbot, browser, browser.reload)
    newest = [r.id for r in station.recordings.find(limit=2)]
    assert [r.record.id for r in browser.model.rows] == newest
    assert browser.filter_bar.count_label.text() == "2+ records"
    station.recordings.stop("now")


# --- the player ------------------------------------------------------------------------
@pytest.mark.usefixtures("cams")
def test_play_shows_moving_frames_and_pause_holds(qtbot, station, make_browser):
    rec = record(qtbot, station, "clip", "cams", 2.0)[0]
    browser = make_browser()
    qtbot.waitUntil(lambda: browser.select(rec.id), timeout=5000)
    player = browser.player
    qtbot.waitUntil(lambda: player.frames_shown == 1, timeout=10000)  # the first frame, paused
    assert player.position == 0.0 and player.key_frame and non_blank(player.view.image)
    assert abs(player.duration - rec.duration_s) < 0.1
    browser.act_play.trigger()
    qtbot.waitUntil(lambda: player.playing, timeout=3000)
    qtbot.waitUntil(lambda: player.frames_shown > 12, timeout=5000)
    assert player.position > 0.4 and non_blank(player.view.image)
    player.play_button.click()  # pause
    qtbot.waitUntil(lambda: not player.playing, timeout=3000)
    held = player.frames_shown
    qtbot.wait(400)
    assert player.frames_shown == held
    player.play_button.click()  # on to the end: the player stops by itself
    qtbot.waitUntil(lambda: not player.playing and player.position > rec.duration_s - 0.1, timeout=8000)
    assert "/ " + clock(player.duration) in player.time_label.text()


@pytest.mark.usefixtures("cams")
def test_scrub_lands_on_a_keyframe_and_step_advances_one_frame(qtbot, station, make_browser):
    rec = record(qtbot, station, "scrub", "cams", 3.2)[0]
    keys = keyframe_times(rec.location)
    assert len(keys) >= 3  # gop 1 s: a keyframe each second
    browser = make_browser()
    qtbot.waitUntil(lambda: browser.select(rec.id), timeout=5000)
    player = browser.player
    qtbot.waitUntil(lambda: player.frames_shown == 1, timeout=10000)

    player.slider.setValue(2500)  # what dragging the slider does
    expected = max(t for t in keys if t <= 2.5)
    qtbot.waitUntil(lambda: player.frames_shown == 2, timeout=5000)
    assert player.key_frame and abs(player.position - expected) < 1e-6
    assert player.slider.value() == int(expected * 1000)  # the slider snaps to it

    # Many positions in a burst (a drag): the newest wins, landing on its keyframe.
    for ms in range(100, 1900, 50):
        player.slider.setValue(ms)
    qtbot.waitUntil(lambda: abs(player.position - max(t for t in keys if t <= 1.85)) < 1e-6
                    and player.key_frame, timeout=5000)

    shown, index, position = player.frames_shown, player.frame_index, player.position
    player.step_button.click()
    qtbot.waitUntil(lambda: player.frames_shown == shown + 1, timeout=3000)
    assert player.frame_index == index + 1
    assert abs(player.position - (position + 1 / player.fps)) < 1e-3
    assert not player.key_frame
    player.step()
    qtbot.waitUntil(lambda: player.frames_shown == shown + 2, timeout=3000)
    assert player.frame_index == index + 2
    # Stepping while playing pauses first, then shows exactly the next frame.
    player.play()
    qtbot.waitUntil(lambda: player.playing, timeout=3000)
    player.step()
    qtbot.waitUntil(lambda: not player.playing, timeout=3000)
    settled = player.frames_shown
    qtbot.wait(300)
    assert player.frames_shown == settled


@pytest.mark.usefixtures("cams")
def test_plays_a_file_still_being_recorded(qtbot, station, make_browser):
    browser = make_browser()
    rec = station.recordings.start("growing", "cams")[0]
    qtbot.waitUntil(lambda: browser.select(rec.id), timeout=5000)
    player = browser.player
    assert player.live
    qtbot.waitUntil(lambda: player.frames_shown >= 1, timeout=8000)
    browser.act_play.trigger()
    qtbot.waitUntil(lambda: player.position > 2.5, timeout=10000)  # past what existed at open
    assert non_blank(player.view.image)
    done = station.recordings.stop("growing")[0]
    qtbot.waitUntil(lambda: not player.live, timeout=5000)  # the browser told the player
    qtbot.waitUntil(lambda: not player.playing, timeout=10000)  # it ends with the file
    assert player.position >= done.duration_s - 0.2
    assert row_text(browser, rec.id, COL_MD5) == "✓ verified"


@pytest.mark.rtsp
def test_rtsp_camera_recording_plays_and_steps(qtbot, station, rtsp_camera_small, make_browser):
    add_sources(station, "cam", ("rtsp", rtsp_camera_small.url))
    rec = record(qtbot, station, "ipcam", "cam", 2.5)[0]
    assert rec.status.value == "finished"
    browser = make_browser()
    qtbot.waitUntil(lambda: browser.select(rec.id), timeout=5000)
    player = browser.player
    qtbot.waitUntil(lambda: player.frames_shown == 1, timeout=10000)
    assert (player.view.image.width(), player.view.image.height()) == (640, 360)
    player.step()
    qtbot.waitUntil(lambda: player.frames_shown == 2, timeout=3000)
    assert player.frame_index == 1
    player.play()
    qtbot.waitUntil(lambda: player.position > 1.0, timeout=5000)
    assert non_blank(player.view.image)


# --- actions ---------------------------------------------------------------------------
@pytest.mark.usefixtures("cams")
def test_open_folder_opens_the_records_folder(qtbot, station, make_browser):
    rec = record(qtbot, station, "where", "cams", 1.0)[0]
    browser = make_browser()
    opened: list[QUrl] = []
    browser.open_url = opened.append
    qtbot.waitUntil(lambda: browser.select(rec.id), timeout=5000)
    browser.act_folder.trigger()
    assert opened == [QUrl.fromLocalFile(str(Path(rec.location).parent))]
    assert Path(opened[0].toLocalFile(), Path(rec.location).name).is_file()


@pytest.mark.usefixtures("cams")
def test_delete_asks_first_and_removes_the_file(qtbot, station, make_browser):
    rec = record(qtbot, station, "trash", "cams", 1.0)[0]
    running = station.recordings.start("keep", "cams")[0]
    path = Path(rec.location)
    browser = make_browser()
    qtbot.waitUntil(lambda: browser.select(running.id), timeout=5000)
    assert not browser.act_delete.isEnabled()  # a running record's file is never deleted
    browser.select(rec.id)
    assert browser.act_delete.isEnabled()

    browser.act_delete.trigger()
    box = browser.confirm_box
    assert box is not None and box.isVisible() and str(path) in box.informativeText()
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: browser.confirm_box is None, timeout=3000)
    qtbot.wait(300)
    assert path.is_file() and station.recordings.get(rec.id).status.value == "finished"
    assert browser.message.text() == "Nothing deleted."

    browser.act_delete.trigger()
    browser.confirm_box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: station.recordings.get(rec.id).status.value == "deleted", timeout=5000)
    assert not path.exists() and station.recordings.get(rec.id).location == str(path)
    qtbot.waitUntil(lambda: row_text(browser, rec.id, COL_STATUS) == "deleted", timeout=5000)
    assert row_text(browser, rec.id, COL_MD5) == "✗ missing"
    assert browser.player.path is None and not browser.act_play.isEnabled()
    assert Path(running.location).is_file()
    station.recordings.stop("keep")


@pytest.mark.usefixtures("cams")
def test_stop_from_the_browser_finalizes_the_record(qtbot, station, make_browser):
    rec = station.recordings.start("halt", "cams")[0]
    browser = make_browser()
    qtbot.waitUntil(lambda: browser.select(rec.id), timeout=5000)
    qtbot.wait(1000)
    assert browser.act_stop.isEnabled()
    browser.act_stop.trigger()
    qtbot.waitUntil(lambda: station.recordings.get(rec.id).status.value == "finished", timeout=5000)
    qtbot.waitUntil(lambda: row_text(browser, rec.id, COL_MD5) == "✓ verified", timeout=5000)
    assert not browser.act_stop.isEnabled()


@pytest.mark.usefixtures("cams")
def test_what_the_core_and_the_api_do_shows_up_at_once(qtbot, station, make_browser, api_server):
    browser = make_browser()
    loads = browser.loads
    started = station.recordings.start("remote", "cams")[0]
    qtbot.waitUntil(lambda: started.id in listed_ids(browser), timeout=2000)  # event, not polling
    assert browser.loads == loads + 1
    qtbot.waitUntil(lambda: browser.tag_box.findText("remote") > 0, timeout=2000)
    qtbot.wait(800)
    stop = urllib.request.Request(api_server.url + "api/v1/record?tag_name=remote", method="PUT")
    urllib.request.urlopen(stop, timeout=10).read()
    qtbot.waitUntil(lambda: row_text(browser, started.id, COL_STATUS) == "finished", timeout=2000)

    query = urllib.parse.urlencode({"location": started.location})
    delete = urllib.request.Request(
        f"{api_server.url}api/v1/record/{started.id}/file/?{query}", method="DELETE")
    with urllib.request.urlopen(delete, timeout=10) as resp:
        assert json.loads(resp.read())["status"] == "deleted"
    qtbot.waitUntil(lambda: row_text(browser, started.id, COL_STATUS) == "deleted", timeout=2000)
    assert not Path(started.location).exists()


@pytest.mark.usefixtures("cams")
def test_sync_to_a_folder_shows_progress_and_sets_sync_location(qtbot, station, make_browser,
                                                                 tmp_path):
    records = record(qtbot, station, "ship", "cams", 1.5) + record(qtbot, station, "ship", "cams", 1.0)
    other = record(qtbot, station, "stay", "cams", 1.0)[0]
    total = sum(r.size_bytes for r in records)
    station.sync.bytes_per_second = max(20_000, int(total / 1.5))  # about 1.5 s: progress to see
    browser = make_browser()
    qtbot.waitUntil(lambda: browser.select(records[0].id), timeout=5000)
    target = station.settings.sync_dirs[0] / "backup"  # a sync writes only under sync_dirs
    target.mkdir(parents=True)

    browser.act_sync.trigger()
    dialog = browser.sync_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.tag_box.currentText() == "ship"
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()  # no destination yet
    dialog.choose_folder = lambda: str(target)  # the folder picker's answer
    dialog.browse_button.click()
    assert dialog.location_edit.text() == str(target) and ok.isEnabled()
    values: list[int] = []
    browser.sync_progress.bar.valueChanged.connect(values.append)
    ok.click()

    qtbot.waitUntil(lambda: browser.sync_progress.isVisible(), timeout=5000)
    assert not browser.act_sync.isEnabled()  # one job at a time from here
    qtbot.waitUntil(lambda: browser.sync_progress.job is not None
                    and browser.sync_progress.job.status.value == "done", timeout=15000)
    assert values[-1] == 1000 and any(0 < v < 1000 for v in values), values
    assert values == sorted(values)
    assert "2 of 2 files" in browser.sync_progress.bar.format()
    for rec in records:
        stored = station.recordings.get(rec.id)
        assert stored.sync_location and Path(stored.sync_location).parent.parent == target
        assert md5_of(Path(stored.sync_location)) == rec.hash_md5
        qtbot.waitUntil(lambda: row_text(browser, rec.id, COL_SYNC) == stored.sync_location,
                        timeout=3000)
    assert station.recordings.get(other.id).sync_location is None
    assert row_text(browser, other.id, COL_SYNC) == "—"
    assert browser.act_sync.isEnabled()


@pytest.mark.usefixtures("cams")
def test_sync_refused_shows_the_reason_and_stores_nothing(qtbot, station, make_browser, tmp_path):
    running = station.recordings.start("unfinished", "cams")[0]
    browser = make_browser()
    qtbot.waitUntil(lambda: browser.select(running.id), timeout=5000)
    browser.act_sync.trigger()
    dialog = browser.sync_dialog
    dialog.location_edit.setText(str(station.settings.sync_dirs[0]))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: "no finished records" in browser.message.text(), timeout=5000)
    assert station.sync.list() == [] and not browser.sync_progress.isVisible()
    station.recordings.stop("unfinished")


@pytest.mark.usefixtures("cams")
def test_begin_column_is_local_time(qtbot, station, make_browser):
    rec = record(qtbot, station, "clock", "cams", 0.6)[0]
    browser = make_browser()
    qtbot.waitUntil(lambda: rec.id in listed_ids(browser), timeout=5000)
    begin = datetime.fromisoformat(rec.begin_utc.replace("Z", "+00:00")).astimezone()
    assert row_text(browser, rec.id, COL_BEGIN) == begin.strftime("Today %H:%M:%S")
    assert local_time(rec.begin_utc, today=begin.date() + timedelta(days=1)) == begin.strftime(
        "%Y-%m-%d %H:%M")


@pytest.mark.usefixtures("cams")
def test_player_survives_a_broken_file_and_plays_a_cut_one(qtbot, station, tmp_path):
    """A file that is not video shows an error in the picture; a file cut short (a crash)
    plays up to where it ends; the player goes on working either way."""
    ensure_application()
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    rec = station.recordings.start("cut", "cams")[0]
    from recorder.mp4file import probe_duration  # a second of it written, however loaded
    qtbot.waitUntil(lambda: (probe_duration(Path(rec.location)) or 0) >= 1.0, timeout=10000)
    cut = tmp_path / "cut.mp4"  # what a crash leaves: the file as it stood while recording
    cut.write_bytes(Path(rec.location).read_bytes())
    rec = station.recordings.stop("cut")[0]
    player = PlayerWidget()
    qtbot.addWidget(player)
    player.resize(480, 300)
    player.show()
    try:
        player.open(junk)
        qtbot.waitUntil(lambda: player.error != "", timeout=5000)
        assert "cannot play" in player.error and player.view.image is None
        player.open(cut)
        qtbot.waitUntil(lambda: player.frames_shown == 1, timeout=5000)
        assert player.error == ""
        player.play()
        qtbot.waitUntil(lambda: player.playing, timeout=3000)
        qtbot.waitUntil(lambda: not player.playing, timeout=8000)  # it reached the cut
        assert 0.3 < player.position < rec.duration_s and player.error == ""
        assert non_blank(player.view.image)
    finally:
        player.shutdown()
