"""PTZ controls for a camera (#27 item 5, docs/ptz.md): press-and-hold arrows, zoom in and
out, home, presets (listed, gone to, saved, removed), the keyboard's arrow keys and +/-, and
click-to-centre for a tile to call. A widget of its own, shown over a live tile by
`ui.tile_ptz` (the tile menu's "PTZ and presets…").

The hold: pressing an arrow (or a key) sends `move` at once and again every `REPEAT_MS` while
it is held, each with a `HOLD_TIMEOUT_S` timeout the camera obeys by itself; releasing sends
`stop` at once. Losing the focus or being hidden while holding releases too. Should the Stop
be lost anyway, the camera stops when the last move's timeout runs out (the service's design,
docs/ptz.md).

Why an executor of its own and not the window's task runner: a Stop must never wait behind a
catalog read or an export another panel queued there. Two threads: a Stop goes out while a
move may still be on the wire, and the service keeps the order on the camera. Answers come
back to the GUI thread through a signal.

What the signed-in user may do is the `RoleGate`'s (ui.session): moving needs `move camera`,
saving and removing presets `change camera presets`; the service refuses the same again.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QFocusEvent, QHideEvent, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget)

from app.ptz.schemas import PtzOut, PtzPreset
from ui.session import RoleGate

REPEAT_MS = 300  # a held arrow's move again: well inside its timeout
HOLD_TIMEOUT_S = 1.0  # how long the camera keeps moving after a lost Stop
SPEED = 0.5
MOVE, PRESETS = "move camera", "change camera presets"

# (pan, tilt, zoom) of each control and key
ARROWS = {"up": (0.0, SPEED, 0.0), "down": (0.0, -SPEED, 0.0), "left": (-SPEED, 0.0, 0.0),
          "right": (SPEED, 0.0, 0.0), "zoom_in": (0.0, 0.0, SPEED), "zoom_out": (0.0, 0.0, -SPEED)}
KEYS = {Qt.Key.Key_Up: "up", Qt.Key.Key_Down: "down", Qt.Key.Key_Left: "left",
        Qt.Key.Key_Right: "right", Qt.Key.Key_Plus: "zoom_in", Qt.Key.Key_Equal: "zoom_in",
        Qt.Key.Key_Minus: "zoom_out"}
LABELS = {"up": "▲", "down": "▼", "left": "◀", "right": "▶", "zoom_in": "+", "zoom_out": "−"}


class _Answers(QObject):
    done = Signal(object, object, object)  # callback, result, error


class PtzPad(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._ptz: Any = None  # the station's PTZ service (or the GUI's audited view of it)
        self._source_id: int | None = None
        self.abilities = PtzOut(pan_tilt=False, zoom=False, relative=False, presets=False,
                                home=False)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gui-ptz")
        self._answers = _Answers(self)
        self._answers.done.connect(self._deliver)
        self.held: str | None = None  # the control or key held now
        self._keys: list[str] = []  # keys down, the last pressed wins
        self._repeat = QTimer(self)
        self._repeat.setInterval(REPEAT_MS)
        self._repeat.timeout.connect(self._send_move)
        self.gate = RoleGate(self)

        self.arrows: dict[str, QPushButton] = {}
        grid = QGridLayout()
        for name, (row, column) in {"up": (0, 1), "left": (1, 0), "right": (1, 2),
                                    "down": (2, 1), "zoom_in": (0, 3), "zoom_out": (2, 3)}.items():
            button = QPushButton(LABELS[name])
            button.setAutoRepeat(False)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys stay with the pad
            button.pressed.connect(lambda n=name: self.hold(n))
            button.released.connect(self.release)
            grid.addWidget(button, row, column)
            self.arrows[name] = button
        self.home_button = QPushButton("Home")
        self.home_button.clicked.connect(self.go_home)
        grid.addWidget(self.home_button, 1, 1)

        self.presets = QComboBox()
        self.go_button = QPushButton("Go")
        self.go_button.clicked.connect(self.go_preset)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_preset)
        self.name = QLineEdit()
        self.name.setMaxLength(64)
        self.name.setPlaceholderText("Preset name")
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save_preset)
        self.error = QLabel()
        self.error.setWordWrap(True)
        pick, save = QHBoxLayout(), QHBoxLayout()
        for widget in (self.presets, self.go_button, self.remove_button):
            pick.addWidget(widget)
        for widget in (self.name, self.save_button):
            save.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addLayout(pick)
        layout.addLayout(save)
        layout.addWidget(self.error)

        for button in (*self.arrows.values(), self.home_button, self.go_button):
            self.gate.guard(button, MOVE)
        for button in (self.save_button, self.remove_button):
            self.gate.guard(button, PRESETS)
        self._show(None)

    # --- what it controls ----------------------------------------------------------------
    def attach(self, ptz: Any, source_id: int, abilities: PtzOut, role: str | None = None) -> None:
        """Control `source_id` through `ptz` (PtzService or the audited station's view), with
        what its camera can do (`PtzService.capabilities`) and the signed-in user's role."""
        self.release()
        self._ptz, self._source_id, self.abilities = ptz, source_id, abilities
        self._show(role)
        if abilities.presets:
            self.refresh_presets()

    def _show(self, role: str | None) -> None:
        """Each control enabled when the camera can and the role may (the gate's tooltip
        says which role a refused one needs)."""
        self.gate.apply(role)
        able, moves, presets = self.abilities, self.gate.allowed(MOVE), self.gate.allowed(PRESETS)
        for name, button in self.arrows.items():
            button.setEnabled(moves and (able.zoom if name.startswith("zoom") else able.pan_tilt))
        self.home_button.setEnabled(moves and able.home)
        for widget, allowed in ((self.presets, True), (self.go_button, moves),
                                (self.remove_button, presets), (self.name, presets),
                                (self.save_button, presets)):
            widget.setEnabled(able.presets and allowed)

    # --- the hold ----------------------------------------------------------------------------
    def hold(self, control: str) -> None:
        """Start (or switch) a continuous move: sent now and every REPEAT_MS while held."""
        if self._ptz is None or not self.arrows[control].isEnabled():
            return
        self.held = control
        self._send_move()
        self._repeat.start()

    def release(self) -> None:
        """The arrow or key let go: stop at once (nothing if nothing was held)."""
        self._keys.clear()
        if self.held is None:
            return
        self.held = None
        self._repeat.stop()
        source_id, ptz = self._source_id, self._ptz
        self._submit(lambda: ptz.stop(source_id))

    def _send_move(self) -> None:
        if self.held is None:
            self._repeat.stop()
            return
        pan, tilt, zoom = ARROWS[self.held]
        source_id, ptz = self._source_id, self._ptz
        self._submit(lambda: ptz.move(source_id, pan, tilt, zoom, HOLD_TIMEOUT_S))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt naming
        control = KEYS.get(Qt.Key(event.key()))
        if control is None:
            super().keyPressEvent(event)
            return
        event.accept()
        if event.isAutoRepeat():  # the key held: the timer re-sends, not the keyboard
            return
        if control in self._keys:
            self._keys.remove(control)
        self._keys.append(control)
        self.hold(control)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt naming
        control = KEYS.get(Qt.Key(event.key()))
        if control is None or event.isAutoRepeat():
            super().keyReleaseEvent(event)
            return
        event.accept()
        if control in self._keys:
            self._keys.remove(control)
        if self._keys:  # another arrow still down: it moves on
            self.hold(self._keys[-1])
        else:
            self.release()

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 - Qt naming
        if self._keys:  # keys held while the focus went: their release never comes here
            self.release()
        super().focusOutEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt naming
        self.release()
        super().hideEvent(event)

    # --- one-shot commands ---------------------------------------------------------------
    def center_at(self, fx: float, fy: float) -> bool:
        """Click-to-centre on the point at (fx, fy) of the picture (0..1 from its top left);
        False when the camera offers no RelativeMove (or the role does not allow moving)."""
        if self._ptz is None or not self.abilities.relative or not self.gate.allowed(MOVE):
            return False
        x, y = max(-1.0, min(1.0, 2 * fx - 1)), max(-1.0, min(1.0, 2 * fy - 1))
        source_id, ptz = self._source_id, self._ptz
        self._submit(lambda: ptz.center(source_id, x, y))
        return True

    def go_home(self) -> None:
        source_id, ptz = self._source_id, self._ptz
        self._submit(lambda: ptz.home(source_id))

    def refresh_presets(self) -> None:
        source_id, ptz = self._source_id, self._ptz
        self._submit(lambda: ptz.presets(source_id), self._show_presets)

    def go_preset(self) -> None:
        token = self.presets.currentData()
        if token:
            source_id, ptz = self._source_id, self._ptz
            self._submit(lambda: ptz.goto_preset(source_id, token))

    def save_preset(self) -> None:
        name = self.name.text().strip()
        if not name:
            self.error.setText("Give the preset a name")
            return
        source_id, ptz = self._source_id, self._ptz
        self._submit(lambda: ptz.set_preset(source_id, name), lambda _p: self.refresh_presets())

    def remove_preset(self) -> None:
        token = self.presets.currentData()
        if token:
            source_id, ptz = self._source_id, self._ptz
            self._submit(lambda: ptz.remove_preset(source_id, token),
                         lambda _r: self.refresh_presets())

    def _show_presets(self, presets: list[PtzPreset]) -> None:
        self.presets.clear()
        for preset in presets:
            self.presets.addItem(preset.name, preset.token)

    # --- off the GUI thread ------------------------------------------------------------
    def _submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None) -> None:
        if self._ptz is None:
            return
        try:
            future: Future = self._pool.submit(fn)
        except RuntimeError:  # shut down: the pad is closing
            return
        future.add_done_callback(lambda f: self._answers.done.emit(
            on_done, None if f.exception() else f.result(), f.exception()))

    def _deliver(self, on_done, result, error) -> None:
        if error is not None:
            self.error.setText(getattr(error, "message", None) or str(error))
            return
        self.error.clear()
        if on_done is not None:
            on_done(result)

    def shutdown(self) -> None:
        """Stop whatever is held and let the commands on the way finish."""
        self.release()
        self._pool.shutdown(wait=True)
