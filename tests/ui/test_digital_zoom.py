"""Digital zoom (#27 item 3, ui/zoom.py) and the PTZ pad over a tile (#27 item 5,
ui/tile_ptz.py), offscreen Qt on real components:

- a live tile of the test pattern with a preview stream, on a wall of its own: the wheel to
  4x at a point keeps that scene point under the pointer, the tile switches to every picture
  of the main stream at once (at full size) and back to the preview at 1x; the inset is
  painted with the zoomed part outlined; a drag pans, clamped to the picture, and is no
  click; a double-click resets a zoomed tile and maximises one at 1x;
- the player's pictures (a synchronised playback tile and the Recordings player's view) on a
  picture whose colour says where it is: the pixel under the pointer is the same before and
  after zooming, the zoom stops at 8x, back at 1x the picture is exactly as before;
- the PTZ pad over a tile against the ONVIF simulator: a press on the tile gives the pad the
  keys, a held arrow key sends ContinuousMove and its release Stop; Shift+click centres the
  scene point under it (through the zoom); × closes it.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from app.audited import AuditedStation
from app.live import Demand
from app.schemas import SourceIn
from tests.conftest import TESTSRC
from ui.application import ensure_application
from ui.playback.tile_feed import TileFrame
from ui.playback.tile_view import PlaybackTile
from ui.recordings.player import FrameView
from ui.tile import CameraTile
from ui.wall import CameraWall
from ui.zoom import INSET_VIEW, fitted

MAIN = "testsrc://testsrc2?size=640x360&rate=25&gop=1"
SMALL = "testsrc://testsrc2?size=320x180&rate=25&gop=1"
LEFT = Qt.MouseButton.LeftButton


def wheel(widget, pos: QPointF, notches: int) -> None:
    """Turn the wheel over `widget` at `pos`, a notch (120) at a time, as a mouse does."""
    step = QPoint(0, 120 if notches > 0 else -120)
    for _ in range(abs(notches)):
        QApplication.sendEvent(widget, QWheelEvent(
            pos, widget.mapToGlobal(pos), QPoint(), step, Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False))


def mouse(widget, kind: QEvent.Type, pos: QPointF, held=LEFT) -> None:
    button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else LEFT
    QApplication.sendEvent(widget, QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, held,
                                               Qt.KeyboardModifier.NoModifier))


def drag(widget, start: QPointF, end: QPointF) -> None:
    mouse(widget, QEvent.Type.MouseButtonPress, start)
    mouse(widget, QEvent.Type.MouseMove, (start + end) / 2)
    mouse(widget, QEvent.Type.MouseMove, end)
    mouse(widget, QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)


def at(target, fx: float, fy: float) -> QPointF:
    """The widget point at (fx, fy) of the picture drawn in `target`."""
    return QPointF(target.x() + fx * target.width(), target.y() + fy * target.height())


def near(colour: QColor, wanted: QColor, tolerance: int = 60) -> bool:
    return (abs(colour.red() - wanted.red()) + abs(colour.green() - wanted.green())
            + abs(colour.blue() - wanted.blue())) <= tolerance


@pytest.fixture
def wall(qtbot, station):
    ensure_application()
    station.sources.create(SourceIn(name="cam", uri_rtsp=MAIN, uri_preview=SMALL))
    widget = CameraWall(station.sources.frames, station.sources.live_stats)
    qtbot.addWidget(widget)
    widget.resize(820, 480)
    widget.set_sources(station.sources.list())
    widget.show()
    yield widget
    widget.close_wall()


def test_a_live_tile_zooms_at_the_pointer_on_the_main_stream_pans_and_resets(qtbot, wall):
    tile = next(iter(wall.tiles.values()))
    width = lambda: tile.stream_size[0] if tile.stream_size else 0  # noqa: E731
    qtbot.waitUntil(lambda: width() == 320, timeout=15000)  # the grid plays the preview
    assert tile.shown is tile.preview and tile.slot.demand is Demand.NONE
    before = tile.grab().toImage()
    target = tile._target()
    pointer = at(target, 0.3, 0.6)

    wheel(tile, pointer, 4)  # 4 notches of sqrt(2): 4x
    state = tile.zoom.state
    assert state.factor == 4.0 and state.zoomed
    assert state.scene_point(0.3, 0.6) == pytest.approx((0.3, 0.6)), "the point stays put"
    assert (state.left, state.top) == pytest.approx((0.3 - 0.3 / 4, 0.6 - 0.6 / 4))
    # at once: every picture of the main stream, the preview asked for nothing
    assert tile.shown is tile.slot and tile.slot.demand is Demand.ALL
    assert tile.preview.demand is Demand.NONE
    # ... at the tile's size times the zoom, so at the stream's own 640x360 here
    qtbot.waitUntil(lambda: width() == 640 and tile.image.width() == 640, timeout=10000)
    # the main stream's picture, magnified: the same part of the scene in view
    source = state.source_rect(tile.image.width(), tile.image.height())
    assert (source.x(), source.y(), source.width()) == pytest.approx((0.225 * 640, 0.45 * 360, 160))

    zoomed = tile.grab().toImage()
    inset = tile.zoom.inset_rect(target, tile.image)  # the picture's bottom right corner
    assert target.contains(inset) and inset.width() == round(target.width() * 0.2)
    changed = sum(zoomed.pixelColor(x, y) != before.pixelColor(x, y)
                  for x in range(inset.left(), inset.right(), 4)
                  for y in range(inset.top(), inset.bottom(), 4))
    assert changed > 0.5 * (inset.width() // 4) * (inset.height() // 4)
    # the zoomed part outlined in the inset: its left edge, halfway down
    edge_x = inset.x() + state.left * inset.width() + 1
    edge_y = round(inset.y() + (state.top + state.span / 2) * inset.height())
    assert any(near(zoomed.pixelColor(round(edge_x) + dx, edge_y), INSET_VIEW)
               for dx in (-1, 0, 1)), "the zoomed part outlined in the inset"

    # a drag pans (to the right: what is to the left comes into view), clamped at the edges,
    # and is no click: the selection stays as it was
    centre = QPointF(tile.rect().center())
    drag(tile, centre, centre + QPointF(target.width() / 8, 0))  # an eighth of the view
    assert state.left == pytest.approx(0.225 - 0.25 / 8)
    drag(tile, centre, centre + QPointF(5000, 5000))
    assert (state.left, state.top) == (0.0, 0.0)
    drag(tile, centre, centre - QPointF(5000, 5000))
    assert (state.left, state.top) == (0.75, 0.75) and state.factor == 4.0
    assert wall.selected == set()

    qtbot.mouseDClick(tile, LEFT, pos=centre.toPoint())  # zoomed: back to 1x, not maximised
    assert not state.zoomed and wall.focused is None
    assert tile.shown is tile.preview and tile.preview.demand is Demand.ALL
    assert tile.slot.demand is Demand.NONE
    qtbot.waitUntil(lambda: width() == 320, timeout=10000)
    qtbot.mouseDClick(tile, LEFT, pos=centre.toPoint())  # at 1x: maximised, as before
    assert wall.focused == tile.source_id


def _gradient(width: int = 640, height: int = 360) -> QImage:
    """A picture whose colour says where it is: red grows rightwards, green downwards."""
    pixels = np.empty((height, width, 4), np.uint8)  # BGRX: Qt's RGB32
    pixels[..., 0], pixels[..., 3] = 0x80, 0xFF
    pixels[..., 1] = (np.arange(height) * 255 // (height - 1))[:, None]
    pixels[..., 2] = (np.arange(width) * 255 // (width - 1))[None, :]
    return QImage(pixels.data, width, height, width * 4, QImage.Format.Format_RGB32).copy()


def _playback_tile(image: QImage) -> PlaybackTile:
    tile = PlaybackTile(7, "yard", None)
    tile.show_frame(TileFrame(1, 0.0, 0.0, True, 0, "r1", image))
    return tile


def _frame_view(image: QImage) -> FrameView:
    view = FrameView()
    view.image = image
    return view


@pytest.mark.parametrize("make", [_playback_tile, _frame_view], ids=["sync-tile", "player"])
def test_the_player_s_picture_zooms_at_the_pointer_up_to_8x(qtbot, make):
    ensure_application()
    image = _gradient()
    widget = make(image)
    qtbot.addWidget(widget)
    widget.resize(520, 360)
    widget.show()
    target = fitted(image.width(), image.height(), widget.rect())
    pointer = at(target, 0.7, 0.4)
    before = widget.grab().toImage()
    colour = before.pixelColor(pointer.toPoint())

    wheel(widget, pointer, 7)  # 6 notches make 8x: the 7th changes nothing
    assert widget.zoom.state.factor == 8.0
    zoomed = widget.grab().toImage()
    after = zoomed.pixelColor(pointer.toPoint())
    assert abs(after.red() - colour.red()) <= 3 and abs(after.green() - colour.green()) <= 3, \
        "the scene point under the pointer stays under it"
    # elsewhere the picture is magnified: 40 px right of the pointer is 5 px of the picture
    right = zoomed.pixelColor(pointer.toPoint() + QPoint(40, 0))
    assert 0 < right.red() - colour.red() <= 6
    inset = widget.zoom.inset_rect(target, image)
    assert zoomed.pixelColor(inset.center()) != before.pixelColor(inset.center())

    drag(widget, pointer, pointer + QPointF(9000, 0))  # panned to the left edge
    assert widget.zoom.state.left == 0.0
    wheel(widget, pointer, -7)
    assert not widget.zoom.zoomed
    assert widget.grab().toImage() == before, "at 1x: the whole picture, no inset"


@pytest.fixture
def ptz_camera():
    from tests.support.onvif_camera import OnvifCamera, Profile

    with OnvifCamera([Profile("main", 640, 360, "rtsp://127.0.0.1:9/main")], user="admin",
                     password="tile-s3cret", ptz=True) as camera:
        yield camera


def test_the_ptz_pad_over_a_tile_takes_the_arrow_keys(qtbot, station, ptz_camera):
    from ui.tile_ptz import TilePtzOverlay

    ensure_application()
    source = station.sources.create(SourceIn(name="dome", uri_rtsp=TESTSRC))
    station.ptz.connect(source.id, ptz_camera.address, "admin", "tile-s3cret")
    tile = CameraTile(source.id, "dome", None)
    qtbot.addWidget(tile)
    tile.resize(640, 360)
    tile.show()
    overlay = TilePtzOverlay(tile, "dome")
    overlay.attach(AuditedStation(station, who="olga", role="operator").ptz, source.id,
                   station.ptz.capabilities(source.id), "operator")
    overlay.open()
    tile.activateWindow()
    assert overlay.parent() is tile and overlay.isVisible()
    assert tile.rect().contains(overlay.geometry()), "over the tile, inside it"
    overlay.pad.clearFocus()
    qtbot.mouseClick(tile, LEFT, pos=QPoint(600, 40))  # a press on the tile: the pad has the keys
    qtbot.waitUntil(lambda: QApplication.focusWidget() is overlay.pad, timeout=10000)

    qtbot.keyPress(QApplication.focusWidget(), Qt.Key.Key_Up)
    qtbot.waitUntil(lambda: ptz_camera.ptz.last("ContinuousMove") is not None, timeout=10000)
    assert ptz_camera.ptz.last("ContinuousMove").args["velocity"] == (0.0, 0.5, 0.0)
    assert ptz_camera.ptz.last("Stop") is None
    qtbot.keyRelease(QApplication.focusWidget(), Qt.Key.Key_Up)
    qtbot.waitUntil(lambda: ptz_camera.ptz.last("Stop") is not None, timeout=10000)
    assert not ptz_camera.ptz.moving
    assert ptz_camera.ptz.last("Stop").at > ptz_camera.ptz.last("ContinuousMove").at

    # Shift+click centres the scene point under it, through the tile's zoom: 2x around the
    # middle, then (0.75, 0.25) of the view is (0.625, 0.375) of the picture
    picture = QImage(640, 360, QImage.Format.Format_RGB32)
    picture.fill(QColor("#335577"))
    tile.set_still(picture)
    target = tile._target()
    wheel(tile, at(target, 0.5, 0.5), 2)
    assert tile.zoom.state.factor == 2.0
    shift, clicks = Qt.KeyboardModifier.ShiftModifier, []
    tile.clicked.connect(lambda *args: clicks.append(args))
    qtbot.mouseClick(tile, LEFT, shift, at(target, 0.75, 0.25).toPoint())
    qtbot.waitUntil(lambda: ptz_camera.ptz.last("RelativeMove") is not None, timeout=10000)
    turned = ptz_camera.ptz.last("RelativeMove").args["translation"]
    assert turned == pytest.approx((0.25, 0.25, 0.0))
    assert clicks == [], "the press was the centring's, not a click selecting the tile"

    moves = ptz_camera.ptz.operations().count("ContinuousMove")
    qtbot.mouseClick(overlay.close_button, LEFT)  # closed: the keys no longer move the camera
    assert not overlay.isVisible()
    qtbot.mouseClick(tile, LEFT, pos=QPoint(600, 40))
    assert QApplication.focusWidget() is not overlay.pad
    qtbot.keyPress(overlay.pad, Qt.Key.Key_Up)
    assert ptz_camera.ptz.operations().count("ContinuousMove") == moves
