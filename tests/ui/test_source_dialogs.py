"""The source dialogs against a real core (offscreen Qt): every kind added through the form and
checked in the catalog (and in the recorded file), inline messages for what the core refuses
with nothing stored, masked passwords kept on edit, "Test connection" on the RTSP test camera
and on a dead address, delete asking first and refused while the source records."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import shiboken6
from sqlmodel import select

from app.models import Record, Source
from app.schemas import MASK, SourceIn
from app.services import devices
from tests.conftest import TESTSRC, decode_video, wait_until
from tests.support.main_window import open_main_window
from tests.support.media import small_clip
from tests.support.source_dialogs import open_source_dialog, save_source
from ui.sources import source_kinds
from ui.sources.source_dialog import DeleteSourceFlow, SourceDialog, confirm_delete_source


@pytest.fixture
def no_cameras(tmp_path, monkeypatch):
    """An empty /dev, whatever this machine has plugged in."""
    dev = tmp_path / "dev"
    dev.mkdir()
    monkeypatch.setattr(devices, "DEV_DIR", dev)
    return dev


def _save_refused(qtbot, dialog, tasks) -> None:
    dialog.save_button.click()
    qtbot.waitUntil(lambda: not dialog.busy and tasks.pending == 0, timeout=10000)
    assert dialog.isVisible() and dialog.result() == 0


def _stored(station, source_id: int) -> Source:
    with station.catalog.session() as s:
        return s.get(Source, source_id)


def _record(station, source_id: int, tag: str, seconds: float) -> Path:
    station.recordings.start_sources(tag, [source_id], origin="gui")
    time.sleep(seconds)
    (record,) = station.recordings.stop(tag)
    return Path(record.location)


# --- adding, kind by kind ----------------------------------------------------------------------
def test_test_pattern_added_through_the_dialog_records_with_its_size_and_encoding(qtbot, station, tasks):
    dialog = open_source_dialog(qtbot, station, tasks, kind="testsrc")
    page = dialog.page
    page.pattern.setCurrentIndex(page.pattern.findData("smptebars"))
    page.size.setEditText("320×240")
    page.rate.setValue(10)
    page.gop.setValue(1.0)
    dialog.name.setText("bars")
    dialog.ffmpeg_cmd.setText("-c:v libx264 -preset ultrafast -vf scale=160:-2")
    saved = save_source(qtbot, dialog)

    (source,) = station.sources.list()
    assert source.id == saved.id and source.name == "bars" and source.model.value == "Source"
    assert source.uri_rtsp == "testsrc://smptebars?size=320x240&rate=10&gop=1"
    assert source.ffmpeg_cmd == "-c:v libx264 -preset ultrafast -vf scale=160:-2"
    wait_until(lambda: station.sources.get(source.id).status.value == "online", 10, message="online")
    info = decode_video(_record(station, source.id, "bars-take", 1.5))
    assert (info["width"], info["height"]) == (160, 120)  # the encoding the dialog stored applied
    assert info["frames"] >= 10


@pytest.mark.rtsp
def test_rtsp_camera_with_credentials_then_edit_keeps_the_masked_password(qtbot, station, tasks,
                                                                          rtsp_camera_small):
    dialog = open_source_dialog(qtbot, station, tasks, kind="stream")
    dialog.page.url.setText(rtsp_camera_small.url)
    dialog.page.user.setText("op")
    dialog.page.password.setText("p@ss:w/rd")
    dialog.name.setText("door")
    dialog.record_mode.set_mode("manual")  # not recording: its address may change below
    source = save_source(qtbot, dialog)
    host = rtsp_camera_small.url.split("://", 1)[1]
    assert station.sources.get(source.id).uri_rtsp == f"rtsp://op:{MASK}@{host}"
    assert _stored(station, source.id).uri_rtsp == f"rtsp://op:p%40ss%3Aw%2Frd@{host}"
    wait_until(lambda: station.sources.get(source.id).status.value == "online", 20, message="online")

    edit = open_source_dialog(qtbot, station, tasks, source_id=source.id)
    assert edit.kind == "stream" and edit.name.text() == "door"
    assert (edit.page.url.text(), edit.page.user.text(), edit.page.password.text()) == (
        rtsp_camera_small.url, "op", MASK)
    edit.description.setText("front door")
    edit.page.udp.setChecked(True)
    save_source(qtbot, edit)
    row = _stored(station, source.id)
    assert row.uri_rtsp == f"rtsp://op:p%40ss%3Aw%2Frd@{host}#udp" and row.description == "front door"

    # a new address with the masked password would store "******": asked to type it again
    again = open_source_dialog(qtbot, station, tasks, source_id=source.id)
    again.page.url.setText(rtsp_camera_small.url.replace("/cam", "/other"))
    _save_refused(qtbot, again, tasks)
    assert "password again" in again.page.error_text("password")
    assert _stored(station, source.id).uri_rtsp == row.uri_rtsp


def test_a_preview_stream_gets_the_cameras_login_and_keeps_it_on_edit(qtbot, station, tasks,
                                                                      rtsp_camera_small):
    dialog = open_source_dialog(qtbot, station, tasks, kind="stream")
    dialog.page.url.setText(rtsp_camera_small.url)
    sub = rtsp_camera_small.url.replace("/cam", "/sub")
    dialog.page.preview.setText(sub)
    dialog.page.user.setText("op")
    dialog.page.password.setText("s3cret")
    dialog.name.setText("gate")
    source = save_source(qtbot, dialog)
    host = sub.split("://", 1)[1]
    assert _stored(station, source.id).uri_preview == f"rtsp://op:s3cret@{host}"
    assert station.sources.get(source.id).uri_preview == f"rtsp://op:{MASK}@{host}"

    edit = open_source_dialog(qtbot, station, tasks, source_id=source.id)
    assert edit.page.preview.text() == sub  # shown without the login, like the address
    edit.description.setText("kept")
    save_source(qtbot, edit)
    assert _stored(station, source.id).uri_preview == f"rtsp://op:s3cret@{host}"
    edit = open_source_dialog(qtbot, station, tasks, source_id=source.id)
    edit.page.preview.setText("")  # removed
    save_source(qtbot, edit)
    assert _stored(station, source.id).uri_preview is None


def test_snapshot_camera_with_digest_auth_and_edit_keeps_its_password(qtbot, station, tasks,
                                                                      snapshot_camera):
    dialog = open_source_dialog(qtbot, station, tasks, kind="snapshot")
    page = dialog.page
    page.url.setText(snapshot_camera.url("digest"))
    page.auth.setCurrentIndex(page.auth.findData("digest"))
    page.user.setText("admin")
    page.password.setText("s3cret")
    page.interval.setValue(0.5)
    source = save_source(qtbot, dialog)
    out = station.sources.get(source.id)
    assert out.model.value == "PictureSource" and out.uri_rtsp is None
    picture = out.uri_http_picture
    assert (picture.uri, picture.auth.value, picture.user, picture.password, picture.interval) == (
        snapshot_camera.url("digest"), "digest", "admin", MASK, 0.5)
    wait_until(lambda: station.sources.get(source.id).status.value == "online", 15,
               message="online with the digest credentials")

    edit = open_source_dialog(qtbot, station, tasks, source_id=source.id)
    assert edit.kind == "snapshot" and edit.page.password.text() == MASK
    edit.test_button.click()  # the stored password is needed: the running source's picture
    qtbot.waitUntil(lambda: not edit.probing, timeout=10000)
    assert edit.preview_image is not None and edit.preview_image.width() == 320
    edit.page.interval.setValue(1.0)
    save_source(qtbot, edit)
    stored = _stored(station, source.id).uri_http_picture
    assert stored["password"] == "s3cret" and stored["interval"] == 1.0
    served = snapshot_camera.served
    wait_until(lambda: snapshot_camera.served > served + 1, 10, message="polled again after the edit")
    assert station.sources.get(source.id).status.value == "online"


def test_snapshot_test_connection_reports_a_wrong_password(qtbot, station, tasks, snapshot_camera):
    dialog = open_source_dialog(qtbot, station, tasks, kind="snapshot")
    page = dialog.page
    page.url.setText(snapshot_camera.url("basic"))
    page.auth.setCurrentIndex(page.auth.findData("basic"))
    page.user.setText("admin")
    page.password.setText("wrong")
    dialog.test_button.click()
    qtbot.waitUntil(lambda: not dialog.probing, timeout=15000)
    assert "401" in dialog.preview_status.text() and dialog.preview_status.property("inlineError")
    page.password.setText("s3cret")
    dialog.test_button.click()
    qtbot.waitUntil(lambda: not dialog.probing, timeout=15000)
    assert dialog.preview_image is not None and dialog.preview_status.text().startswith("✓")
    assert station.sources.list() == []  # testing stores nothing


def test_local_camera_none_found_is_said_and_nothing_is_stored(qtbot, station, tasks, no_cameras):
    dialog = open_source_dialog(qtbot, station, tasks, kind="device")
    assert dialog.page.none_found
    assert "No cameras found" in dialog.page.hints["device"].text()
    _save_refused(qtbot, dialog, tasks)
    assert "Choose a camera" in dialog.error_for("uri_rtsp")
    assert station.sources.list() == []


def test_local_camera_picked_from_the_list(qtbot, station, tasks, no_cameras):
    (no_cameras / "video0").touch()  # a node the driver cannot be asked about still shows
    (no_cameras / "video10").touch()
    dialog = open_source_dialog(qtbot, station, tasks, kind="device")
    assert [d.path for d in dialog.page.devices] == [str(no_cameras / "video0"), str(no_cameras / "video10")]
    dialog.page.device.setCurrentIndex(1)
    source = save_source(qtbot, dialog)
    assert station.sources.get(source.id).uri_rtsp == f"device://{no_cameras}/video10"


def test_screen_source_uses_the_display(qtbot, station, tasks, monkeypatch, tmp_path):
    monkeypatch.setenv("DISPLAY", ":42")
    monkeypatch.setattr(source_kinds, "X11_SOCKETS", tmp_path)
    dialog = open_source_dialog(qtbot, station, tasks, kind="screen")
    assert dialog.page.display.currentText() == ":42"
    dialog.enabled.setChecked(False)  # nothing to capture on :42: keep it without reading it
    source = save_source(qtbot, dialog)
    out = station.sources.get(source.id)
    assert out.uri_rtsp == "screen://:42" and out.enabled is False and out.status.value == "offline"


def test_video_file_source(qtbot, station, tasks, tmp_path):
    dialog = open_source_dialog(qtbot, station, tasks, kind="file")
    dialog.page.path.setText(str(tmp_path / "missing.mp4"))
    _save_refused(qtbot, dialog, tasks)
    assert dialog.error_for("uri_rtsp") == "There is no such file."
    assert station.sources.list() == []
    clip = small_clip(tmp_path / "clip.mp4")
    dialog.page.path.setText(str(clip))
    source = save_source(qtbot, dialog)
    assert station.sources.get(source.id).uri_rtsp == f"file://{clip}"
    wait_until(lambda: station.sources.get(source.id).status.value == "online", 10, message="online")


# --- refusals: inline, and nothing stored ------------------------------------------------------
def test_invalid_address_and_ffmpeg_cmd_are_shown_inline_and_store_nothing(qtbot, station, tasks):
    dialog = open_source_dialog(qtbot, station, tasks, kind="stream")
    dialog.page.url.setText("htp://camera/stream")
    _save_refused(qtbot, dialog, tasks)
    assert "Unsupported URI scheme 'htp'" in dialog.error_for("uri_rtsp")
    assert dialog.page.url.property("invalid")

    dialog.page.url.setText("rtsp://127.0.0.1:1/x")
    dialog.ffmpeg_cmd.setText("-c:v vp9 -b:v 2M")
    _save_refused(qtbot, dialog, tasks)
    assert dialog.error_for("uri_rtsp") == ""
    assert "'vp9' is not supported" in dialog.error_for("ffmpeg_cmd")

    dialog.ffmpeg_cmd.setText("-preset turbo")
    _save_refused(qtbot, dialog, tasks)
    assert "-preset 'turbo'" in dialog.error_for("ffmpeg_cmd")
    assert station.sources.list() == []

    pattern = open_source_dialog(qtbot, station, tasks, kind="testsrc")
    pattern.page.size.setEditText("641×360")
    _save_refused(qtbot, pattern, tasks)
    assert "even" in pattern.error_for("uri_rtsp")
    pattern.page.size.setEditText("big")
    _save_refused(qtbot, pattern, tasks)
    assert "width×height" in pattern.error_for("uri_rtsp")
    assert station.sources.list() == []


def test_what_the_core_refuses_shows_next_to_the_field_it_names(qtbot, station, tasks):
    taken = station.sources.create(SourceIn(name="taken", uri_rtsp=TESTSRC))
    dialog = open_source_dialog(qtbot, station, tasks, kind="testsrc")
    dialog.name.setText("taken")
    _save_refused(qtbot, dialog, tasks)
    assert dialog.error_for("name") == "A source with that name already exists"
    assert [s.id for s in station.sources.list()] == [taken.id]
    dialog.name.setText("free")
    assert save_source(qtbot, dialog).name == "free"
    assert len(station.sources.list()) == 2


def test_address_cannot_change_while_recording(qtbot, station, tasks):
    source = station.sources.create(SourceIn(name="busy", uri_rtsp=TESTSRC))
    wait_until(lambda: station.sources.get(source.id).status.value == "online", 10, message="online")
    station.recordings.start_sources("busy-take", [source.id], origin="api")
    dialog = open_source_dialog(qtbot, station, tasks, source_id=source.id)
    dialog.page.rate.setValue(5)
    _save_refused(qtbot, dialog, tasks)
    assert "recording" in dialog.error_for("uri_rtsp")
    assert station.sources.get(source.id).uri_rtsp == TESTSRC
    station.recordings.stop("busy-take")


# --- test connection ---------------------------------------------------------------------------
@pytest.mark.rtsp
def test_test_connection_shows_the_rtsp_camera_picture_and_a_dead_address_error(qtbot, station, tasks,
                                                                                rtsp_camera_small):
    dialog = open_source_dialog(qtbot, station, tasks, kind="stream")
    dialog.page.url.setText(rtsp_camera_small.url)
    dialog.test_button.click()
    assert dialog.test_button.text() == "Connecting…"
    qtbot.waitUntil(lambda: not dialog.probing, timeout=20000)
    image = dialog.preview_image
    assert image is not None and (image.width(), image.height()) == (640, 360)
    pixels = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    assert pixels.std() > 10  # a real picture, not a blank
    assert "640×360" in dialog.preview_status.text() and "h264" in dialog.preview_status.text()
    assert dialog.preview.pixmap() is not None and not dialog.preview.pixmap().isNull()

    dialog.page.url.setText("rtsp://127.0.0.1:1/dead")
    dialog.test_button.click()
    qtbot.waitUntil(lambda: not dialog.probing, timeout=20000)
    assert dialog.preview_image is None and dialog.preview_status.property("inlineError")
    assert "Connection refused" in dialog.preview_status.text()
    assert station.sources.list() == []


def test_test_connection_of_a_file_obeys_media_dirs_like_saving_it(qtbot, station, tasks, tmp_path):
    clip = small_clip(tmp_path / "clip.mp4")  # tmp_path is the test station's media folder
    dialog = open_source_dialog(qtbot, station, tasks, kind="file")
    dialog.page.path.setText(str(clip))
    dialog.test_button.click()
    qtbot.waitUntil(lambda: not dialog.probing, timeout=15000)
    assert dialog.preview_image is not None and dialog.preview_image.width() == 160
    assert "160×120 · h264" in dialog.preview_status.text()

    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    dialog.page.path.setText(str(small_clip(elsewhere / "outside.mp4")))
    dialog.test_button.click()
    qtbot.waitUntil(lambda: not dialog.probing, timeout=15000)
    assert dialog.preview_image is None and dialog.preview_status.property("inlineError")
    assert "media_dirs" in dialog.preview_status.text()
    assert "media_dirs" in dialog.error_for("uri_rtsp")  # and next to the field, as Save says
    assert station.sources.list() == []


# --- delete ------------------------------------------------------------------------------------
def _answer(qtbot, flow, delete: bool) -> None:
    qtbot.waitUntil(lambda: flow.question is not None and flow.question.isVisible(), timeout=5000)
    assert "Delete “" in flow.question.text()
    button = flow.delete_button if delete else flow.question.escapeButton()
    button.click()
    qtbot.waitUntil(lambda: flow.done, timeout=10000)


def test_delete_asks_first_and_is_refused_while_the_source_records(qtbot, station, tasks):
    source = station.sources.create(SourceIn(name="cam", uri_rtsp=TESTSRC))
    wait_until(lambda: station.sources.get(source.id).status.value == "online", 10, message="online")
    station.recordings.start_sources("take", [source.id], origin="api")

    flow = confirm_delete_source(station, tasks, source.id)
    _answer(qtbot, flow, delete=True)
    assert "recording" in flow.error and flow.error_box.isVisible()
    assert "“cam” was not deleted" in flow.error_box.text()
    flow.error_box.accept()
    assert [s.id for s in station.sources.list()] == [source.id]

    (record,) = station.recordings.stop("take")
    flow = confirm_delete_source(station, tasks, source.id)
    _answer(qtbot, flow, delete=False)  # Cancel: nothing happens
    assert flow.error is None and [s.id for s in station.sources.list()] == [source.id]

    edit = open_source_dialog(qtbot, station, tasks, source_id=source.id)
    with qtbot.waitSignal(edit.deleted, timeout=10000):
        edit.delete_button.click()
        _answer(qtbot, edit.delete_flow, delete=True)
    assert station.sources.list() == []
    assert Path(record.location).is_file()  # its recording stays, on disk and in the catalog
    with station.catalog.session() as s:
        assert s.exec(select(Record).where(Record.id == record.id)).one().status == "finished"


def test_entry_points_open_window_modal_and_clean_up(qtbot, station, tasks):
    source = station.sources.create(SourceIn(name="one", uri_rtsp=TESTSRC))
    add = SourceDialog.add(station, tasks, None, kind="snapshot")
    edit = SourceDialog.edit(station, tasks, source.id, None)
    assert add.isVisible() and add.kind == "snapshot" and add.windowTitle() == "Add source"
    qtbot.waitUntil(lambda: edit.loaded, timeout=5000)
    assert edit.windowTitle() == "Edit source — one" and edit.kind == "testsrc"
    for dialog in (add, edit):
        dialog.reject()
    qtbot.waitUntil(lambda: not shiboken6.isValid(add) and not shiboken6.isValid(edit), timeout=5000)


def test_the_main_window_menu_opens_them_on_the_real_core(qtbot, station, api_server):
    with open_main_window(qtbot, station, api_server.url) as window:
        _add_and_delete_from_the_menu(qtbot, station, window)


def _add_and_delete_from_the_menu(qtbot, station, window) -> None:
    window.add_source()
    dialog = window.findChild(SourceDialog)
    assert dialog is not None and dialog.isVisible() and dialog.isModal()
    dialog.set_kind("testsrc")
    dialog.name.setText("from-the-menu")
    dialog.record_mode.set_mode("manual")  # not recording by itself: it may be deleted below
    source = save_source(qtbot, dialog)
    assert [s.name for s in station.sources.list()] == ["from-the-menu"]
    qtbot.waitUntil(lambda: source.id in window.wall.tiles, timeout=5000)  # the wall follows

    window.delete_source(source.id)
    (flow,) = window.findChildren(DeleteSourceFlow)
    _answer(qtbot, flow, delete=True)
    assert station.sources.list() == []
