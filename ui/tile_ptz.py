"""The PTZ pad over a live tile (#27 item 5): the tile menu's "PTZ and presets…" puts the
controls (`ui.ptz_overlay.PtzPad`) on the tile itself, semi-transparent over the bottom left
of the picture, so the operator watches the camera move where the controls are; × closes it.

The keyboard's arrows and +/- go to the pad while the tile has the focus: the pad takes it
when the overlay opens and again at any press on the tile (a tile takes no focus of its own),
so a click on the picture never leaves the arrows with another widget. The pad stops a held
move when it loses the focus or is hidden (its own rule), so a tile hidden by the wall stops
the camera too.

Click-to-centre (cameras that offer RelativeMove): Shift+click on the picture turns the camera
so that point comes to the middle. Shift, because a plain click selects the tile and a
double-click maximises it: neither may move a camera. The point is the scene's, through the
tile's digital zoom (`ui.zoom.ZoomState.scene_point`), so centring works on a zoomed tile.

Why a child widget with an event filter on the tile and not code in `ui.tile`: the tile
paints and zooms pictures; it knows nothing of cameras that move, and the pad is only there
for the few sources with PTZ.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from app.ptz.schemas import PtzOut
from ui.ptz_overlay import PtzPad
from ui.zoom import fitted

MARGIN = 8
NAME_BAR = 24  # the tile's name bar (ui.tile) stays readable above the pad
STYLE = """
#tilePtz { background: rgba(17, 20, 24, 170); border: 1px solid rgba(255, 255, 255, 60);
           border-radius: 6px; }
#tilePtz QLabel { color: white; background: transparent; }
"""


class TilePtzOverlay(QFrame):
    closed = Signal()

    def __init__(self, tile: QWidget, title: str):
        super().__init__(tile)
        self.tile = tile
        self.setObjectName("tilePtz")
        self.setStyleSheet(STYLE)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        heading = QLabel(f"PTZ · {title}")
        self.close_button = QToolButton()
        self.close_button.setText("×")
        self.close_button.setToolTip("Close the PTZ controls")
        self.close_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.close_button.clicked.connect(self.close_overlay)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(heading, 1)
        top.addWidget(self.close_button)
        self.pad = PtzPad(self)
        self.pad.layout().setContentsMargins(0, 0, 0, 0)  # compact: a tile is small
        self.pad.layout().setSpacing(3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(top)
        layout.addWidget(self.pad)
        tile.installEventFilter(self)

    def attach(self, ptz: Any, source_id: int, abilities: PtzOut, role: str | None) -> None:
        self.pad.attach(ptz, source_id, abilities, role)

    def open(self) -> None:
        """Shown over the tile, on top, with the keys."""
        self.place()
        self.show()
        self.raise_()
        self.pad.setFocus()

    def place(self) -> None:
        """The bottom left corner of the tile, below its name bar, no larger than the tile
        leaves."""
        hint, top = self.sizeHint(), NAME_BAR + MARGIN // 2
        width = min(hint.width(), self.tile.width() - 2 * MARGIN)
        height = min(hint.height(), self.tile.height() - top - MARGIN)
        self.setGeometry(MARGIN, max(top, self.tile.height() - height - MARGIN), max(0, width),
                         max(0, height))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt naming
        if watched is self.tile:
            if event.type() == QEvent.Type.Resize:
                self.place()
            elif event.type() == QEvent.Type.MouseButtonPress and self.isVisible():
                self.pad.setFocus()  # the arrows work while the tile has the focus
                if (event.button() == Qt.MouseButton.LeftButton
                        and event.modifiers() & Qt.KeyboardModifier.ShiftModifier):
                    return self.centre_at(event.position())
        return False

    def centre_at(self, pos) -> bool:
        """Turn the camera to the scene point under the tile's point `pos`; whether the
        press was taken (a picture shown and a camera that can)."""
        image = getattr(self.tile, "image", None)
        zoom = getattr(self.tile, "zoom", None)
        if image is None or zoom is None:
            return False
        target = fitted(image.width(), image.height(), self.tile.rect())
        if not target.contains(pos.toPoint()):
            return False
        fx = (pos.x() - target.x()) / max(1, target.width())
        fy = (pos.y() - target.y()) / max(1, target.height())
        return self.pad.center_at(*zoom.state.scene_point(fx, fy))

    def close_overlay(self) -> None:
        """Stop whatever is held, let the commands on the way finish, and go."""
        self.tile.removeEventFilter(self)
        self.setObjectName("tilePtzClosed")  # not found again while its deletion waits
        self.pad.clearFocus()
        self.hide()
        self.pad.shutdown()
        self.closed.emit()
        self.deleteLater()
