"""Tiles of sources with a preview stream, in the main window against a real core (offscreen
Qt): the grid plays the small stream, a focused tile switches to the main stream at once and
back when unfocused; a source without one, or whose preview is down, shows its main stream."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.live import Demand
from recorder.imaging import decode_jpeg
from app.schemas import SourceIn
from tests.conftest import TESTSRC
from tests.support.main_window import open_main_window
from ui.application import ensure_application

MAIN = "testsrc://testsrc2?size=640x360&rate=25&gop=1"
SMALL = "testsrc://testsrc2?size=320x180&rate=25&gop=1"


@pytest.fixture
def window(qtbot, station):
    ensure_application()
    station.sources.create(SourceIn(name="cam", uri_rtsp=MAIN, uri_preview=SMALL))
    station.sources.create(SourceIn(name="plain", uri_rtsp=TESTSRC))
    with open_main_window(qtbot, station, "http://127.0.0.1:9", tiles=2) as win:
        yield win


def _tile(window, station, name):
    ids = {s.name: s.id for s in station.sources.list()}
    return window.wall.tiles[ids[name]]


def _width(tile) -> int:
    """The width of the stream the tile shows (its pictures are made the tile's size)."""
    return tile.stream_size[0] if tile.stream_size is not None else 0


def test_a_tile_plays_the_preview_and_switches_to_the_main_stream_on_focus(qtbot, window, station):
    cam, plain = _tile(window, station, "cam"), _tile(window, station, "plain")
    assert cam.preview is not None and cam.shown is cam.preview
    assert plain.preview is None and plain.shown is plain.slot  # as without the feature
    qtbot.waitUntil(lambda: _width(cam) == 320, timeout=8000)
    seq = cam.frame_seq
    qtbot.waitUntil(lambda: cam.frame_seq >= seq + 10, timeout=3000)  # every frame, not keyframes
    assert cam.slot.demand is Demand.NONE, "the main stream decodes nothing for the grid"
    assert plain.slot.demand is Demand.KEYFRAMES

    qtbot.mouseDClick(cam, Qt.MouseButton.LeftButton)  # focus: the main stream, at once
    assert cam.shown is cam.slot and cam.slot.demand is Demand.ALL
    assert cam.preview.demand is Demand.NONE
    assert _width(cam) == 320, "the last preview picture stays up until the main's first"
    qtbot.waitUntil(lambda: _width(cam) == 640, timeout=1500)
    seq = cam.frame_seq
    qtbot.waitUntil(lambda: cam.frame_seq >= seq + 10, timeout=3000)

    qtbot.keyClick(window, Qt.Key.Key_Escape)  # back to the grid: the preview again
    assert cam.shown is cam.preview and cam.slot.demand is Demand.NONE
    assert cam.preview.demand is Demand.ALL
    qtbot.waitUntil(lambda: _width(cam) == 320, timeout=1500)


def test_a_tile_follows_its_source_gaining_and_losing_a_preview(qtbot, window, station):
    plain = _tile(window, station, "plain")
    qtbot.waitUntil(lambda: _width(plain) == 320, timeout=8000)  # TESTSRC: 320x240
    station.sources.update(plain.source_id, SourceIn(uri_preview=SMALL))
    qtbot.waitUntil(lambda: plain.preview is not None, timeout=5000)
    assert plain.shown is plain.preview
    qtbot.waitUntil(lambda: plain.stream_size is not None and plain.stream_size[1] == 180,
                    timeout=5000)
    station.sources.update(plain.source_id, SourceIn(uri_preview=None))
    qtbot.waitUntil(lambda: plain.preview is None, timeout=5000)
    assert plain.shown is plain.slot and plain.slot.demand is Demand.KEYFRAMES
    qtbot.waitUntil(lambda: plain.stream_size[1] == 240, timeout=5000)


def test_a_tile_whose_preview_is_down_shows_the_main_stream(qtbot, window, station):
    cam = _tile(window, station, "cam")
    station.sources.update(cam.source_id, SourceIn(uri_preview="rtsp://127.0.0.1:9/sub"))
    qtbot.waitUntil(lambda: cam.preview is not None and cam.preview.latest() is None, timeout=5000)
    qtbot.waitUntil(lambda: cam.shown is cam.slot, timeout=6000)  # after PREVIEW_STALE_S
    assert cam.slot.demand is Demand.KEYFRAMES and cam.preview.demand is Demand.ALL
    qtbot.waitUntil(lambda: _width(cam) == 640, timeout=4000)


def test_the_decoder_makes_pictures_of_the_tiles_size_while_only_tiles_watch(qtbot, window, station):
    wide = station.sources.create(SourceIn(name="wide", uri_rtsp=SMALL, uri_preview=MAIN))
    qtbot.waitUntil(lambda: wide.id in window.wall.tiles, timeout=5000)
    cam = window.wall.tiles[wide.id]

    def made_for_the_tile(tile) -> bool:  # no larger than the tile, as large as fits
        image = tile.image
        return (image is not None and image.width() <= tile.width() and image.height() <= tile.height()
                and (image.width() >= tile.width() - 2 or image.height() >= tile.height() - 2))

    qtbot.waitUntil(lambda: _width(cam) == 640 and made_for_the_tile(cam), timeout=8000)
    assert cam.width() < 640 and cam.stream_size == (640, 360), "the stream's size is known"
    # a viewer without a box (an MJPEG client) gets the stream's pictures as they come
    token = cam.preview.watch(Demand.ALL)
    qtbot.waitUntil(lambda: cam.image.width() == 640, timeout=3000)
    assert not cam.preview.latest().shrunk
    cam.preview.unwatch(token)
    qtbot.waitUntil(lambda: made_for_the_tile(cam), timeout=3000)

    # a tile on its main stream's keyframes gets them small too, but the API's picture is
    # the camera's, not the tile's
    big = station.sources.create(SourceIn(name="big", uri_rtsp=MAIN))
    qtbot.waitUntil(lambda: big.id in window.wall.tiles, timeout=5000)
    slot = window.wall.tiles[big.id].slot
    qtbot.waitUntil(lambda: slot.latest() is not None and slot.latest().shrunk, timeout=8000)
    picture = decode_jpeg(station.sources.picture_jpeg(big.id))
    assert picture.shape == (360, 640, 3)
    # a small focused tile (every picture, at its size): the API's picture is the next one,
    # full size, not the GOP's keyframe
    focused = slot.watch(Demand.ALL, (320, 180))
    seq = slot.latest().seq
    qtbot.waitUntil(lambda: slot.latest().seq > seq + 2 and slot.latest().shrunk, timeout=5000)
    puts, put = [], slot.put
    slot.put = lambda *args, **kwargs: puts.append(put(*args, **kwargs)) or puts[-1]
    picture = decode_jpeg(station.sources.picture_jpeg(big.id))
    del slot.put
    assert picture.shape == (360, 640, 3)
    assert [f.full_size for f in puts if not f.shrunk][:1] == [(640, 360)], \
        "the decoder's next picture, full size (a keyframe decoded for it has no full_size)"
    qtbot.waitUntil(lambda: slot.latest().shrunk, timeout=3000)  # small again after it
    slot.unwatch(focused)
