"""A lost camera's tile against a real running core (offscreen Qt): the real RTSP test camera
stopped while its source records → the camera watch opens `camera_lost`, and the tile shows
the red banner "Camera lost · m:ss" over the dimmed last picture with an amber REC badge
("REC · no signal"); the camera started again → `camera_back` closes it and the tile is as
before. A second test drives the event through the service alone (no camera): the banner
counts from the event's begin, and a tile added later still shows a camera lost already."""

from __future__ import annotations

import time

import pytest

from app.schemas import SourceIn
from tests.support.camera import RtspCamera, skip_reason
from tests.support.main_window import open_main_window
from ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, station, api_server):
    with open_main_window(qtbot, station, api_server.url, size=(900, 600)) as win:
        yield win


def banner_colour(tile):
    """The colour inside the lost banner's left margin (where the tile painted it last), or
    at that place in the middle of the tile when it has none."""
    image = tile.grab().toImage()
    if tile.lost_banner is None:
        return image.pixelColor(tile.width() // 2 - 60, tile.height() // 2)
    return image.pixelColor(tile.lost_banner.left() + 5, tile.lost_banner.center().y())


def is_red(colour) -> bool:
    return colour.red() > 150 and colour.green() < 90 and colour.blue() < 90


@pytest.mark.skipif(bool(skip_reason()), reason=skip_reason() or "")
def test_a_camera_stopped_while_recording_shows_lost_and_comes_back(qtbot, station, window):
    with RtspCamera(width=320, height=240, fps=25, gop_seconds=1) as cam:
        src = station.sources.create(SourceIn(name="door", uri_rtsp=cam.url)).id
        qtbot.waitUntil(lambda: src in window.wall.tiles, timeout=5000)
        tile = window.wall.tiles[src]
        qtbot.waitUntil(lambda: tile.image is not None and tile.status == "online", timeout=15000)
        station.recordings.start_sources("desk", [src], origin="test")
        qtbot.waitUntil(lambda: "desk" in tile.recording_tags, timeout=5000)
        assert tile.lost_since is None and "no signal" not in tile.badge_text(0)

        cam.stop()
        stopped = time.time()
        qtbot.waitUntil(lambda: tile.lost_since is not None, timeout=6000)
        assert time.time() - stopped < 4.0  # the watch's 2 s, and the bridge
        (lost,) = station.events.list(kind="camera_lost", source_id=src, open=True)
        assert tile.badge_text(3) == "● REC · no signal 0:00:03  desk"
        qtbot.waitUntil(lambda: is_red(banner_colour(tile)), timeout=3000)  # the banner
        # the badge's amber (top right) and the dimmed picture under it
        image = tile.grab().toImage()
        badge = image.pixelColor(tile.width() - 12, 41)
        assert badge.red() > 180 and 100 < badge.green() < 170 and badge.blue() < 80, badge.name()

        cam.start()  # the same port: the camera is back
        station.sources.retry_now(src)
        qtbot.waitUntil(lambda: tile.lost_since is None, timeout=20000)
        assert station.events.get(lost.id).end is not None
        qtbot.waitUntil(lambda: bool(station.events.list(kind="camera_back", source_id=src)),
                        timeout=3000)  # written right after the close
        qtbot.waitUntil(lambda: not is_red(banner_colour(tile)), timeout=3000)
        assert "no signal" not in tile.badge_text(0)
        station.recordings.stop("desk")


def test_the_banner_counts_from_the_event_and_follows_new_tiles(qtbot, station, window):
    src = station.sources.create(SourceIn(name="yard", uri_rtsp="rtsp://127.0.0.1:9/none")).id
    qtbot.waitUntil(lambda: src in window.wall.tiles, timeout=5000)
    tile = window.wall.tiles[src]
    lost = station.events.open("camera_lost", source_id=src, text="yard: camera lost")
    qtbot.waitUntil(lambda: tile.lost_since is not None, timeout=3000)
    qtbot.waitUntil(lambda: is_red(banner_colour(tile)), timeout=3000)
    assert tile._lost_second in (0, 1)
    qtbot.waitUntil(lambda: tile._lost_second >= 1, timeout=3000)  # it counts, repainted

    # a window opened while the camera is lost shows it on its tile at once
    other = MainWindow(station, window.bridge, window.api_url)
    other.setProperty("close_choice", "stop")
    qtbot.addWidget(other)
    other.show()
    qtbot.waitUntil(lambda: src in other.wall.tiles
                    and other.wall.tiles[src].lost_since is not None, timeout=5000)

    station.events.close(lost.id)
    qtbot.waitUntil(lambda: tile.lost_since is None
                    and other.wall.tiles[src].lost_since is None, timeout=3000)
    assert not is_red(banner_colour(tile))
