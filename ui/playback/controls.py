"""The controls of a synchronised playback: reverse / pause / forward (J K L, a repeated J or L
doubles the speed), frame step back and forward (comma, period), the speed, the wall-clock date
and time of the shown frame of the selected tile, the sound's mute button and a slider over
the footage of every tile. Widgets only: SyncPlayback does what they ask."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QTransform
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QToolButton, QWidget

from ui.icons import icon
from ui.playback.clock import SPEEDS


def mirrored(original: QIcon) -> QIcon:
    """The icon flipped left to right (the step forward icon made a step back)."""
    pixmap = original.pixmap(32, 32)
    return QIcon(pixmap.transformed(QTransform().scale(-1, 1))) if not pixmap.isNull() else original


def speed_text(speed: float) -> str:
    return {0.25: "¼×", 0.5: "½×"}.get(speed, f"{speed:g}×")


class PlaybackControls(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)

        def button(text: str, tip: str) -> QToolButton:
            widget = QToolButton(self)
            widget.setText(text)
            widget.setToolTip(tip)
            widget.setAutoRaise(True)
            layout.addWidget(widget)
            return widget

        self.step_back_button = button("", "One frame back (,)")
        self.step_back_button.setIcon(mirrored(icon("step")))
        self.reverse_button = button("◀", "Play backward, keyframe by keyframe (J; again: faster)")
        self.pause_button = button("", "Pause (K)")
        self.pause_button.setIcon(icon("pause"))
        self.forward_button = button("", "Play (L; again: faster)")
        self.forward_button.setIcon(icon("play"))
        self.step_button = button("", "One frame forward (.)")
        self.step_button.setIcon(icon("step"))
        self.speed = QComboBox(self)
        self.speed.setToolTip("Speed")
        for value in SPEEDS:
            self.speed.addItem(speed_text(value), value)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        layout.addWidget(self.speed)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setToolTip("Drag to move every tile to one instant")
        layout.addWidget(self.slider, 1)
        self.direction_label = QLabel("", self)
        layout.addWidget(self.direction_label)
        self.wall_label = QLabel("—", self)
        self.wall_label.setToolTip("Date and time of the frame shown in the selected tile "
                                   "(this computer's time zone)")
        self.wall_label.setMinimumWidth(
            self.wall_label.fontMetrics().horizontalAdvance("0000-00-00 00:00:00.000  "))
        layout.addWidget(self.wall_label)
        self.mute_button = button("Sound on", "Mute the selected tile's sound")
        self.mute_button.setCheckable(True)

    def show_state(self, rate: float, speed: float) -> None:
        """Say which way and how fast the cursor runs."""
        if rate == 0:
            self.direction_label.setText("paused")
        else:
            self.direction_label.setText(("◀ " if rate < 0 else "▶ ") + speed_text(speed))
        index = self.speed.findData(speed)
        if index >= 0 and index != self.speed.currentIndex():
            self.speed.blockSignals(True)
            self.speed.setCurrentIndex(index)
            self.speed.blockSignals(False)
