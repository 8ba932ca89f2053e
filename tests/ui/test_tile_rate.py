"""Honest states (#23 item 5) against a real running core (offscreen Qt): a tile's rate is the
pictures it painted in the last second, not the camera's nominal rate; a grid tile on its
main stream's keyframes says "keyframes only"; the demo's test patterns have a preview
stream, so their grid tiles move at the full rate."""

from __future__ import annotations

from app.schemas import SourceIn
from app.station import seed_demo
from recorder.inputs import TestPatternConfig
from tests.conftest import TESTSRC
from tests.ui.test_camera_lost_tile import window  # noqa: F401


def painted_rate(qtbot, tile, seconds: float = 2.0) -> float:
    before = tile.frames_painted
    qtbot.wait(int(seconds * 1000))
    return (tile.frames_painted - before) / seconds


def test_the_rate_is_what_the_tile_painted_and_keyframes_only_says_so(qtbot, station, window):  # noqa: F811
    src = station.sources.create(SourceIn(name="cam", uri_rtsp=TESTSRC)).id  # 25 fps, gop 1 s
    qtbot.waitUntil(lambda: src in window.wall.tiles, timeout=5000)
    tile = window.wall.tiles[src]
    qtbot.waitUntil(lambda: tile.status == "online" and tile.frames_painted >= 2, timeout=15000)
    # in the grid, without a preview stream: the main stream's keyframes, one a second
    qtbot.waitUntil(lambda: "keyframes only" in tile.rate_text(), timeout=3000)
    qtbot.waitUntil(lambda: tile.stats.fps > 20, timeout=3000)  # the camera sends 25 ...
    assert tile.shown_fps <= 3 and painted_rate(qtbot, tile) <= 3  # ... the tile shows ~1

    window.wall.toggle_focus(src)  # focused: every picture
    qtbot.waitUntil(lambda: tile.shown_fps > 15, timeout=5000)
    measured = painted_rate(qtbot, tile)
    assert measured > 15 and abs(tile.shown_fps - measured) < 5, (tile.shown_fps, measured)
    assert "keyframes only" not in tile.rate_text()
    assert tile.rate_text() == f"online · {tile.shown_fps:.0f} fps"


def test_the_demo_sources_have_a_preview_and_their_grid_tiles_move(qtbot, station, window):  # noqa: F811
    seed_demo(station)
    demo = station.sources.list()
    assert len(demo) == 4
    for source in demo:
        main = TestPatternConfig.from_uri(source.uri_rtsp)
        preview = TestPatternConfig.from_uri(source.uri_preview)
        assert preview.pattern == main.pattern and preview.rate == main.rate
        assert preview.width * preview.height < main.width * main.height
    first = demo[0].id
    qtbot.waitUntil(lambda: first in window.wall.tiles, timeout=5000)
    tile = window.wall.tiles[first]
    qtbot.waitUntil(lambda: tile.shown_fps > 12, timeout=20000)  # the grid, at the full rate
    assert "keyframes only" not in tile.rate_text() and tile.shown is tile.preview
