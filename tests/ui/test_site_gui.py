"""The GUI on a site of two stations (issue #15 item 4), offscreen: the window runs on an
in-process station ("north"), a second station ("south") is a real process on the same
PostgreSQL catalog with the same token. The sources tree shows a row per station (online
state, free disk), a tile of south's camera is fed from south's MJPEG and says why when south
goes away, Start/Stop on a group mixing both stations records on both owners, and the
Recordings tab lists south's records with their station and plays and copies them through
south's API, and its timeline thumbnails and plays them from there too; the Recordings tab
exports south's footage too (fetched from south as north's API forwards it)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
import urllib.request
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import av
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLabel

from api.server import ApiServer
from app.schemas import GroupIn, RecordStatus, SourceIn, iso_utc
from app.site.remote_feed import RemoteSlot
from app.station import build_station, start_station, stop_station
from tests.conftest import TESTSRC, make_settings, wait_until
from tests.support.main_window import open_main_window
from tests.support.recording_panel import answer_stop, pick_group
from tests.support.station_process import StationProcess
from ui.groups_panel import KIND, SOURCE, STATION
from ui.recordings.export_dialog import from_qt
from ui.recordings.recordings_model import COL_STATION
from ui.recordings.timeline_view import LANE_H, RULER_H, parse_utc

TOKEN = "site-gui-token"
FREE = re.compile(r"· [\d.]+ (B|KB|MB|GB|TB) free")


class Site:
    """north in this process (the GUI's station), south as a process, one catalog."""

    def __init__(self, tmp_path, database_url: str):
        self.tmp_path, self.database_url = tmp_path, database_url
        self.north = build_station(make_settings(tmp_path, database_url=database_url,
                                                 token=TOKEN, station_name="north"))
        start_station(self.north)
        # The stations of a site share the credentials key (sources' addresses are stored
        # encrypted in the shared catalog): south's config folder gets north's.
        key = Path(os.environ["RS_CONFIG_FILE"]).parent / "credentials.key"
        shutil.copy(key, tmp_path / "credentials.key")
        self.api = ApiServer(self.north, "127.0.0.1", 0).start()
        self.north.site.announce(self.api.url.rstrip("/"))
        self.south = self.start_south()
        self.south_id = next(s["id"] for s in self.call("GET", "/api/v1/station") if s["this"])

    def start_south(self) -> StationProcess:
        return StationProcess(self.tmp_path, name="south", env={
            "RS_DATABASE_URL": self.database_url, "RS_TOKEN": TOKEN, "RS_STATION_NAME": "south"})

    def call(self, method: str, path: str, body=None):
        status, data, _ = self.south.call(method, path, body, token=TOKEN, timeout=30)
        assert status == 200, (method, path, status, data)
        return data

    def stop(self) -> None:
        if self.south.proc.poll() is None:
            self.south.stop()
        self.api.stop()
        stop_station(self.north)


@pytest.fixture
def site(tmp_path, postgres_server):
    current = Site(tmp_path, postgres_server.new_database())
    yield current
    current.stop()


@pytest.fixture
def sources(site):
    """cam-n (north's) and cam-s (south's), both in the group `mixed`; north knows the owner."""
    north = site.north
    cam_n = north.sources.create(SourceIn(name="cam-n", uri_rtsp=TESTSRC)).id
    cam_s = site.call("POST", "/api/v1/source", {"name": "cam-s", "uri_rtsp": TESTSRC})["id"]
    group = north.groups.create(GroupIn(name="mixed"))
    north.groups.add_source(group.id, cam_n)
    north.groups.add_source(group.id, cam_s)
    wait_until(lambda: north.site.owner(cam_s) == site.south_id, timeout=10,
               message="north's heartbeat reads south's source")
    wait_until(lambda: all(north.sources.get(i).status == "online" for i in (cam_n, cam_s)),
               timeout=20, message="both sources online as north sees them")
    return cam_n, cam_s


@pytest.fixture
def window(qtbot, site, sources):
    with open_main_window(qtbot, site.north, site.api.url, tiles=2, size=(1300, 800)) as win:
        yield win


def station_rows(win) -> dict[str, object]:
    """The tree's station rows by their label's first word (the station's name)."""
    return {item.text(0).split()[0]: item for item in win.groups._items()
            if item.data(0, KIND) == STATION}


def children(item) -> list[str]:
    return [item.child(i).text(0) for i in range(item.childCount())
            if item.child(i).data(0, KIND) == SOURCE]


def test_station_rows_a_remote_tile_and_its_owner_going_away(qtbot, site, sources, window):
    cam_n, cam_s = sources
    qtbot.waitUntil(lambda: set(station_rows(window)) == {"north", "south"}, timeout=5000)
    rows = station_rows(window)
    north_row, south_row = rows["north"], rows["south"]
    assert "(this station)" in north_row.text(0) and FREE.search(north_row.text(0))
    assert FREE.search(south_row.text(0)) and "offline" not in south_row.text(0)
    assert south_row.toolTip(0).startswith("online") and "disk: " in south_row.toolTip(0)
    assert children(north_row) == ["cam-n"] and children(south_row) == ["cam-s"]
    # picking a station limits the wall to its sources
    window.groups.tree.setCurrentItem(south_row)
    assert window.wall.shown_ids() == [cam_s]
    window.groups.tree.setCurrentItem(window.groups.tree.topLevelItem(0))
    assert sorted(window.wall.shown_ids()) == sorted([cam_n, cam_s])

    # south's camera on north's wall: pictures from south's MJPEG, at a reduced rate
    tile = window.wall.tiles[cam_s]
    assert isinstance(tile.slot, RemoteSlot)
    qtbot.waitUntil(lambda: tile.image is not None and tile.frame_seq >= 3, timeout=20000)
    qtbot.waitUntil(lambda: tile.stats.fps > 0, timeout=5000)
    assert tile.status == "online" and tile.stats.fps < 10  # the camera sends 25
    assert tile.image.width() == 320 and tile.image.height() == 240
    assert not isinstance(window.wall.tiles[cam_n].slot, RemoteSlot)

    # nobody watches (north's station picked: south's tile hidden): the feed lets go of the
    # owner's stream; shown again, it asks again
    def feeding() -> bool:
        return any(t.name == f"remote-feed-{cam_s}" for t in threading.enumerate())

    assert feeding()
    window.groups.tree.setCurrentItem(station_rows(window)["north"])
    assert window.wall.shown_ids() == [cam_n]
    qtbot.waitUntil(lambda: not feeding(), timeout=5000)
    seen = tile.slot.latest().seq
    qtbot.wait(1500)
    assert tile.slot.latest().seq == seen
    window.groups.tree.setCurrentItem(window.groups.tree.topLevelItem(0))
    qtbot.waitUntil(lambda: feeding() and tile.frame_seq > seen, timeout=10000)

    # south stops (SIGTERM): its tile and its row say so, not after 15 s but at once
    site.south.stop()
    qtbot.waitUntil(lambda: tile.status == "offline", timeout=10000)
    assert tile.error == "station 'south' was stopped"
    qtbot.waitUntil(lambda: "offline" in station_rows(window)["south"].text(0), timeout=8000)
    assert station_rows(window)["south"].toolTip(0).startswith(
        "offline: station 'south' was stopped")
    assert "offline" not in station_rows(window)["north"].text(0)

    # south comes back (same config: the same station): the feed reconnects by itself
    site.south = site.start_south()
    seen = tile.frame_seq
    qtbot.waitUntil(lambda: tile.status == "online" and tile.frame_seq > seen + 2, timeout=30000)
    qtbot.waitUntil(lambda: "offline" not in station_rows(window)["south"].text(0), timeout=8000)


def test_mixed_group_start_stop_and_the_other_stations_records(qtbot, site, sources, window,
                                                               tmp_path):
    north, tags = site.north, window.tags
    pick_group(qtbot, window, "mixed")
    tags.tag_edit.setText("site-shift")
    tags.tag_edit.setModified(True)
    qtbot.mouseClick(tags.start_group_button, Qt.MouseButton.LeftButton)

    def records():
        return north.recordings.list("site-shift")

    qtbot.waitUntil(lambda: len(records()) == 2, timeout=15000)
    assert {r.station for r in records()} == {north.station_id, site.south_id}
    assert all(r.status == RecordStatus.recording for r in records())
    qtbot.wait(2500)
    qtbot.waitUntil(lambda: tags.running.topLevelItemCount() == 1, timeout=5000)
    tags.running.setCurrentItem(tags.running.topLevelItem(0))
    qtbot.mouseClick(tags.stop_button, Qt.MouseButton.LeftButton)
    answer_stop(qtbot, tags)
    qtbot.waitUntil(lambda: all(r.status == RecordStatus.finished and r.hash_md5
                                for r in records()), timeout=15000)
    remote = next(r for r in records() if r.station == site.south_id)
    local = next(r for r in records() if r.station == north.station_id)

    # the Recordings tab: both stations' records, with their station
    browser = window.recordings

    def listed(record) -> str | None:
        row = browser.model.row_of(record.id)
        return browser.model.rows[row].record.status.value if row >= 0 else None

    # south's record stopped on south raises no event here: the list is read again by itself
    qtbot.waitUntil(lambda: listed(remote) == listed(local) == "finished", timeout=12000)
    assert not browser.table.isColumnHidden(COL_STATION)

    def station_text(record_id: str) -> str:
        return browser.model.data(browser.model.index(browser.model.row_of(record_id),
                                                      COL_STATION))

    assert station_text(remote.id) == "south" and station_text(local.id) == "north"
    assert browser.model.rows[browser.model.row_of(remote.id)].md5_state == "verified"

    # playing south's record: read from south's API, the first frame decoded
    window.tabs.setCurrentWidget(browser)
    assert browser.select(remote.id)
    player = browser.player
    qtbot.waitUntil(lambda: player.remote is not None and player.frames_shown >= 1, timeout=15000)
    assert player.remote.url == f"{site.south.url}/api/v1/record/{remote.id}/video"
    assert player.view.image is not None and player.view.image.width() == 320
    assert "on south" in player.view.caption
    assert not browser.act_folder.isEnabled() and not browser.act_delete.isEnabled()
    browser.play_selected()
    qtbot.waitUntil(lambda: player.frames_shown >= 10, timeout=10000)
    # south's thumbnail comes the same way
    qtbot.waitUntil(lambda: browser.thumbnails.get(remote) is not None, timeout=10000)

    # a copy of south's file, streamed from south: the bytes south hashed
    copy = tmp_path / "copy.mp4"
    browser.ask_save_path = lambda _suggested: str(copy)
    browser.save_copy_selected()
    # the file appears (renamed from .part) just before the GUI thread hears it is done
    qtbot.waitUntil(lambda: "Saved copy.mp4" in browser.message.text(), timeout=15000)
    assert hashlib.md5(copy.read_bytes()).hexdigest() == remote.hash_md5
    assert not (tmp_path / "copy.mp4.part").exists()

    # a local record plays from this disk, as ever
    assert browser.select(local.id)
    qtbot.waitUntil(lambda: player.path is not None and player.frames_shown >= 1, timeout=10000)
    assert player.remote is None
    assert browser.act_folder.isEnabled()

    # south's record on the timeline: a thumbnail and, on a click, played, both from south's API
    timeline, view = browser.timeline, browser.timeline.view
    loads = timeline.loads
    view.show_range(parse_utc(remote.begin_utc) - timedelta(seconds=1), 10.0)
    qtbot.waitUntil(lambda: timeline.loads > loads and not timeline.loading, timeout=5000)
    y = RULER_H + view.lanes.index(timeline.lane(sources[1])) * LANE_H + LANE_H // 2
    x = round(view.x_of(parse_utc(remote.begin_utc) + timedelta(seconds=1)))
    qtbot.mouseMove(view, QPoint(x, y))
    qtbot.waitUntil(lambda: timeline.thumb.isVisible(), timeout=10000)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(x, y))
    qtbot.waitUntil(lambda: player.remote is not None and player.playing
                    and player.frames_shown >= 1, timeout=15000)
    assert player.remote.url == f"{site.south.url}/api/v1/record/{remote.id}/video"
    assert str(player.path) == remote.location and "on south" in player.view.caption

    # the token is in no widget
    assert not [label.text() for label in window.findChildren(QLabel) if TOKEN in label.text()]


def test_the_gui_exports_the_other_stations_footage_as_the_api_does(qtbot, site, sources,
                                                                     window, tmp_path):
    """South's footage exported from north's Recordings tab: the export service decides the
    range is south's to cut and has it fetched through the site client, so the operator gets
    the very bytes an API client gets from north (which forwards) and from south itself."""
    cam_s, north = sources[1], site.north
    site.call("POST", "/api/v1/record/sources", {"tag_name": "far-export", "source_ids": [cam_s]})
    qtbot.wait(2500)  # footage to export: time is the point here
    site.call("PUT", "/api/v1/record", {"tag_name": "far-export"})

    def finished():
        return [r for r in north.recordings.list("far-export")
                if r.status == RecordStatus.finished and r.hash_md5]

    qtbot.waitUntil(lambda: len(finished()) == 1, timeout=15000)
    (remote,) = finished()
    assert remote.station == site.south_id
    browser = window.recordings
    window.tabs.setCurrentWidget(browser)
    qtbot.waitUntil(lambda: browser.model.row_of(remote.id) >= 0, timeout=12000)
    assert browser.select(remote.id)
    dialog = browser.export_range_selected()
    assert dialog is not None
    qtbot.addWidget(dialog)
    out = tmp_path / "far-out"
    out.mkdir()
    dialog.folder_edit.setText(str(out))
    with qtbot.waitSignal(dialog.finished_export, timeout=30000) as done:
        dialog.export_button.click()
    (written,) = done.args[0]
    assert written.parent == out and written.name.startswith("cam-s_")
    assert list(out.iterdir()) == [written]  # no .part left behind
    assert dialog.message.text().startswith("Written: ")
    assert not list(north.exports.work_dir.glob("*"))  # nothing cut on north's disk
    begin, end = from_qt(dialog.begin_edit.dateTime()), from_qt(dialog.end_edit.dateTime())
    dialog.close()

    query = urlencode({"begin": iso_utc(begin), "end": iso_utc(end)})
    path = f"/api/v1/source/{cam_s}/export?{query}"
    status, from_south, _ = site.south.call("GET", path, token=TOKEN, timeout=30)
    assert status == 200
    request = urllib.request.Request(site.api.url.rstrip("/") + path,
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as answer:  # north's API forwards
        from_north = answer.read()
    assert written.read_bytes() == from_south == from_north
    with av.open(str(written)) as container:
        assert sum(1 for _ in container.decode(container.streams.video[0])) >= 25
