"""Motion… on a source: its live picture with the zones drawn over it, the detection
settings beside it, and the motion tuner's overlay (what the detector sees now: changed
pixels, the contours it counted, the share changed) so the operator can see what a slider
does before saving it.

Everything goes through `station.motion` (the service the API calls too) on the GUI's
worker threads: reading the settings, polling `tune()` about five times a second, saving
with `change(source_id, {...}, actor)`, which validates, stores, applies live and audits as
the operator (dialect `gui`, as every other change the GUI makes). A refused value shows the
service's words in the banner. With "Apply as I move" on, the detection controls are saved
half a second after the operator stops moving them, so the tuner shows their effect; zones
are saved with Save.

The picture is the source's preview stream when it has one (the stream the detector
analyses, so the overlay fits it exactly), else its main stream, watched at the canvas's
size while the dialog is open and let go when it closes.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.live import Demand, FrameSlot
from ui.errors import error_text
from ui.forms import DIALOG_STYLE, Banner, hint_label, if_alive
from ui.motion.settings_form import MotionSettingsForm
from ui.motion.tuner import TunerPoller, status_text
from ui.motion.zone_canvas import ZoneCanvas
from ui.motion.zone_list import ZoneList
from ui.motion.zones import ZoneSet
from ui.session import who_of
from ui.tasks import TaskRunner

PICTURE_MS = 100       # the live picture at up to 10 a second: enough to draw zones on
LIVE_APPLY_MS = 500    # "Apply as I move": saved this long after the last move


def gui_actor(station=None) -> str:
    """Who the service's log names for a change from this window: the GUI's dialect and the
    signed-in user (#26; else the OS user), as the API names its callers (`dialect:who`). The
    audit entry itself is the audited station's (`app.audited`: `change motion settings`), as
    for every GUI change."""
    return f"gui:{who_of(station)}"


class MotionDialog(QDialog):
    saved = Signal(object)   # the MotionStatus the service answered

    def __init__(self, station: Any, source_id: int, source_name: str, tasks: TaskRunner,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.station, self.source_id, self.tasks = station, source_id, tasks
        self.setWindowTitle(f"Motion — {source_name}")
        self.setStyleSheet(DIALOG_STYLE)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.slot: FrameSlot | None = None
        self._token: int | None = None
        self._frame_seq = -1
        self.loaded = False
        self.saves = 0  # answers to a save so far (tests wait on it)
        self.canvas = ZoneCanvas(self)
        self.zone_list = ZoneList(self.canvas, self)
        self.form = MotionSettingsForm(self)
        self.status_label = QLabel("reading the settings…")
        self.status_label.setWordWrap(True)
        self.banner = Banner(self)
        self.tuner_check = QCheckBox("Show what the detector sees")
        self.tuner_check.setChecked(True)
        self.tuner_check.toggled.connect(self._show_tuner)
        self.live_check = QCheckBox("Apply the settings as I move them")
        self.live_check.setChecked(True)
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(False)
        self.save_button.setAutoDefault(False)  # Enter closes a polygon, never saves
        self.save_button.clicked.connect(self.save)
        close = QPushButton("Close")
        close.setAutoDefault(False)
        close.clicked.connect(self.close)
        self._build(close)
        self._live_timer = QTimer(self, singleShot=True, interval=LIVE_APPLY_MS)
        self._live_timer.timeout.connect(self._apply_live)
        self.form.edited.connect(self._on_form_edited)
        self._picture_timer = QTimer(self, interval=PICTURE_MS)
        self._picture_timer.timeout.connect(self.pull_picture)
        self.poller = TunerPoller(station.motion, source_id, tasks, self)
        self.poller.tuned.connect(self.canvas.set_tuned)
        self.poller.status.connect(lambda status: self.status_label.setText(status_text(status)))
        self.poller.failed.connect(lambda error: self.status_label.setText(error_text(error)))
        self.setEnabled_controls(False)
        self._load()

    def _build(self, close: QPushButton) -> None:
        zones = QGroupBox("Zones and masks")
        QVBoxLayout(zones).addWidget(self.zone_list)
        detection = QGroupBox("Detection")
        detection_layout = QVBoxLayout(detection)
        detection_layout.addWidget(self.form)
        detection_layout.addWidget(self.live_check)
        detection_layout.addWidget(self.tuner_check)
        side = QVBoxLayout()
        side.addWidget(detection)
        side.addWidget(zones, 1)
        left = QVBoxLayout()
        left.addWidget(self.canvas, 1)
        left.addWidget(self.status_label)
        left.addWidget(hint_label("Red: pixels the detector saw change; orange boxes: changes "
                                  "that count. Green zones count motion, grey masks are "
                                  "never looked at."))
        body = QHBoxLayout()
        body.addLayout(left, 3)
        body.addLayout(side, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(body, 1)
        layout.addLayout(buttons)
        self.resize(1180, 640)

    def setEnabled_controls(self, enabled: bool) -> None:  # noqa: N802 - reads as Qt's
        for widget in (self.form, self.zone_list, self.save_button, self.live_check):
            widget.setEnabled(enabled)

    # --- loading -----------------------------------------------------------------------
    def _load(self) -> None:
        motion, sources, source_id = self.station.motion, self.station.sources, self.source_id

        def read() -> tuple[dict, FrameSlot | None]:
            settings = motion.settings(source_id).to_dict()
            try:
                slot = sources.frames(source_id, True)  # the preview stream when it has one
            except Exception:  # noqa: BLE001 - not being read: zones can be drawn blind
                slot = None
            return settings, slot
        self.tasks.run(read, self._loaded)

    @if_alive
    def _loaded(self, result, error: BaseException | None) -> None:
        if error is not None:
            self.banner.show_message("error", f"Could not read the motion settings: "
                                              f"{error_text(error)}")
            return
        settings, slot = result
        self.form.load(settings)
        self.canvas.set_zones(ZoneSet.from_list(settings.get("zones", ())))
        self.zone_list.refresh()
        self.setEnabled_controls(True)
        self.loaded = True
        self.slot = slot
        if slot is not None:
            self._token = slot.watch(Demand.ALL, self._box())
            self._picture_timer.start()
        self.poller.start()

    def _box(self) -> tuple[int, int]:
        ratio = self.canvas.devicePixelRatioF()
        return (max(1, round(self.canvas.width() * ratio)),
                max(1, round(self.canvas.height() * ratio)))

    def pull_picture(self) -> None:
        frame = self.slot.latest() if self.slot is not None else None
        if frame is None or frame.seq == self._frame_seq:
            return
        self._frame_seq = frame.seq
        pixels = frame.pixels
        h, w, depth = pixels.shape
        fmt = QImage.Format.Format_RGB32 if depth == 4 else QImage.Format.Format_RGB888
        # painted from the frame's own memory (the decoder never writes to it again)
        self.canvas.set_image(QImage(pixels.data, w, h, pixels.strides[0], fmt))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().resizeEvent(event)
        if self.slot is not None and self._token is not None:
            self.slot.change(self._token, Demand.ALL, self._box())

    def _show_tuner(self, shown: bool) -> None:
        self.canvas.show_tuner = shown
        if shown:
            self.poller.start()
        else:
            self.poller.stop()
            self.canvas.set_tuned(None)

    # --- saving ------------------------------------------------------------------------
    def changes(self, *, with_zones: bool = True) -> dict[str, Any]:
        changes = self.form.values()
        if with_zones:
            changes["zones"] = self.canvas.zones.to_list()
        return changes

    def _on_form_edited(self) -> None:
        if self.live_check.isChecked():
            self._live_timer.start()

    def _apply_live(self) -> None:
        self._send(self.changes(with_zones=False), quiet=True)

    def save(self) -> None:
        self._live_timer.stop()
        self._send(self.changes(), quiet=False)

    def _send(self, changes: dict[str, Any], *, quiet: bool) -> None:
        if not self.loaded:
            return
        motion, source_id, actor = self.station.motion, self.source_id, gui_actor(self.station)
        self.banner.clear()
        started = time.monotonic()
        self.tasks.run(lambda: motion.change(source_id, changes, actor),
                       lambda status, error: self._saved(status, error, quiet, started))

    @if_alive
    def _saved(self, status, error: BaseException | None, quiet: bool, started: float) -> None:
        self.saves += 1
        if error is not None:
            field = getattr(error, "field", None)
            self.banner.show_message("error", error_text(error) if not field
                                     else f"{field}: {error_text(error, field)}")
            return
        self.status_label.setText(status_text(status))
        if not quiet:
            self.banner.show_message("success", f"Saved ({(time.monotonic() - started) * 1000:.0f} ms).")
        self.saved.emit(status)

    # --- closing -----------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop polling and let the stream go (the decoder then makes no pictures for us)."""
        self.poller.stop()
        self._picture_timer.stop()
        self._live_timer.stop()
        if self.slot is not None and self._token is not None:
            self.slot.unwatch(self._token)
            self._token = None
