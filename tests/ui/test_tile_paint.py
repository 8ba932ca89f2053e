"""What a tile paints, from the pixels the decoder hands over: BGRX (Qt's RGB32, painted from
the frame's memory as it is) and RGB24 (snapshots, another station's pictures) must both come
out in their true colours, drawn scaled as painted (down to half size) or smooth-scaled once
(smaller than that), under a name bar that is drawn again when its words change. The wall's
one frame clock feeds every shown tile."""

from __future__ import annotations

import numpy as np
import pytest

from app.live import FrameSlot, LiveStats
from app.schemas import SourceOut, SourceStatus
from recorder.imaging import decode_jpeg, encode_jpeg
from ui.application import ensure_application
from ui.wall import CameraWall

RED, BLUE = (230, 20, 20), (20, 20, 230)  # RGB


def halves(width: int, height: int, bgrx: bool) -> np.ndarray:
    """Left half red, right half blue, as BGRX or RGB24."""
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[:, : width // 2], rgb[:, width // 2:] = RED, BLUE
    if not bgrx:
        return rgb
    return np.dstack([rgb[..., ::-1], np.full((height, width), 255, np.uint8)]).copy()


def colour_at(image, x: int, y: int) -> tuple[int, int, int]:
    pixel = image.pixelColor(x, y)
    return pixel.red(), pixel.green(), pixel.blue()


def close(a, b, tolerance: int = 12) -> bool:
    return all(abs(p - q) <= tolerance for p, q in zip(a, b))


@pytest.fixture
def wall(qtbot):
    ensure_application()
    slots = {1: FrameSlot()}
    wall = CameraWall(lambda source_id, preview: None if preview else slots[source_id],
                      lambda _source_id: LiveStats(SourceStatus.online, None, None, 25.0))
    qtbot.addWidget(wall)
    wall.set_sources([SourceOut(id=1, created_utc="2026-11-26T00:00:00Z", status="online",
                                model="Source", name="cam", uri_rtsp="rtsp://127.0.0.1:9/x",
                                uri_http_picture=None, description=None, ffmpeg_cmd=None)])
    tile = wall.tiles[1]
    wall.resize(328, 188)  # one tile of 320x180 inside the wall's margins
    wall.show()
    qtbot.waitUntil(lambda: tile.width() == 320 and tile.height() == 180, timeout=3000)
    yield wall, slots[1], tile
    wall.close_wall()


@pytest.mark.parametrize("bgrx", [True, False], ids=["bgrx", "rgb24"])
@pytest.mark.parametrize("size", [(640, 360), (1280, 720)], ids=["half", "quarter"])
def test_a_tile_paints_the_frame_in_its_true_colours(qtbot, wall, bgrx, size):
    _wall, slot, tile = wall
    slot.put(halves(*size, bgrx=bgrx))
    qtbot.waitUntil(lambda: tile.frames_shown == 1, timeout=2000)  # the wall's clock fed it
    assert (tile.image.width(), tile.image.height()) == size
    shot = tile.grab().toImage()
    assert close(colour_at(shot, 60, 120), RED), colour_at(shot, 60, 120)
    assert close(colour_at(shot, 260, 120), BLUE), colour_at(shot, 260, 120)
    # the name bar is over the picture: darker than the picture beneath it
    assert colour_at(shot, 100, 4)[0] < 160


def test_the_name_bar_follows_the_tiles_state(qtbot, wall):
    _wall, slot, tile = wall
    slot.put(halves(640, 360, bgrx=True))
    qtbot.waitUntil(lambda: tile.frames_shown == 1, timeout=2000)
    plain = tile.grab().toImage()
    tile.set_recording("meeting", True)
    badge = tile.grab().toImage()
    # the REC badge (red, under the bar at the right) appears on the next paint
    assert not close(colour_at(plain, 300, 40), colour_at(badge, 300, 40), 30)
    tile.set_name("a much longer name for the same camera")
    assert tile.grab().toImage() != badge


def test_a_bgrx_frame_makes_the_same_jpeg_and_rgb_as_rgb24():
    bgrx, rgb = halves(64, 32, bgrx=True), halves(64, 32, bgrx=False)
    slot = FrameSlot()
    frame = slot.put(bgrx)
    assert frame.rgb.shape == (32, 64, 3) and np.array_equal(frame.rgb, rgb)
    assert frame.rgb is frame.rgb  # converted once
    decoded = decode_jpeg(slot.jpeg()[1])
    assert close(tuple(int(v) for v in decoded[16, 8]), RED)
    assert close(tuple(int(v) for v in decoded[16, 56]), BLUE)
    assert encode_jpeg(bgrx) == encode_jpeg(rgb)
