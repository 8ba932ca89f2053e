"""The status bar: where remote tools reach the station (API URL with a copy button, the
token behind a reveal button), free disk space of the storage folder (warning colour under
the floor), how many recordings run, and the station's own CPU use."""

from __future__ import annotations

import os
import time

from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QStatusBar, QToolButton, QWidget

from app.settings import Settings
from recorder.mp4file import free_bytes
from ui.icons import icon
from ui.recordings_model import human_size

HIDDEN = "••••••••"


class CpuMeter:
    """CPU use of this process (all threads) since the last reading, in % of one core."""

    def __init__(self) -> None:
        self._last = (time.monotonic(), time.process_time())

    def read(self) -> float:
        now = (time.monotonic(), time.process_time())
        wall, cpu = now[0] - self._last[0], now[1] - self._last[1]
        self._last = now
        return 100.0 * cpu / wall if wall > 0 else 0.0


class StationStatusBar(QStatusBar):
    def __init__(self, settings: Settings, api_url: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings, self.api_url = settings, api_url
        self.api_label = QLabel(f"API {api_url}", self)
        self.copy_button = QToolButton(self)
        self.copy_button.setIcon(icon("copy"))
        self.copy_button.setToolTip("Copy the API URL")
        self.copy_button.clicked.connect(self.copy_url)
        self.token_label = QLabel(self)
        self.reveal_button = QToolButton(self)
        self.reveal_button.setIcon(icon("eye"))
        self.reveal_button.setCheckable(True)
        self.reveal_button.setToolTip("Show the API token")
        self.reveal_button.toggled.connect(self._show_token)
        self.disk_label = QLabel(self)
        self.rec_label = QLabel("idle", self)
        self.cpu_label = QLabel(self)
        for widget in (self.api_label, self.copy_button, self.token_label, self.reveal_button):
            self.addWidget(widget)
        for widget in (self.disk_label, self.rec_label, self.cpu_label):
            self.addPermanentWidget(widget)
        self.reveal_button.setVisible(bool(settings.token))
        self._show_token(False)
        self._cpu = CpuMeter()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh)
        self._timer.start(2000)
        self.refresh()

    def copy_url(self) -> None:
        QGuiApplication.clipboard().setText(self.api_url)
        self.showMessage("API URL copied", 2000)

    def _show_token(self, shown: bool) -> None:
        token = self.settings.token
        if not token:
            self.token_label.setText("open on loopback (no token)")
        else:
            self.token_label.setText(f"token {token if shown else HIDDEN}")

    def set_recording_count(self, count: int) -> None:
        self.rec_label.setText(f"● {count} recording" if count else "idle")
        self.rec_label.setProperty("recording", bool(count))
        self.rec_label.setStyleSheet("color: #e53e3e; font-weight: bold;" if count else "")

    def refresh(self) -> None:
        try:
            free = free_bytes(self.settings.recordings_dir)
        except OSError as exc:
            self.disk_label.setText(f"disk: {exc.strerror}")
            return
        floor = self.settings.disk_floor_mb << 20
        low = free < max(floor, 1)
        self.disk_label.setText(f"disk {human_size(free)} free")
        self.disk_label.setToolTip(f"{self.settings.recordings_dir}\nrecording stops being "
                                   f"allowed under {human_size(floor)}")
        self.disk_label.setProperty("low", low)
        self.disk_label.setStyleSheet("color: white; background: #c53030; padding: 0 6px;"
                                      if low else "")
        self.cpu_label.setText(f"CPU {self._cpu.read():.0f}%  ({os.cpu_count()} cores)")

    def stop(self) -> None:
        self._timer.stop()
