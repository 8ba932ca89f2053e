"""The status bar: where remote tools reach the station (API URL with a copy button, the
token behind a reveal button), free disk space against the floor (amber near it, red under
it, and why when the storage guard stopped recordings for a full disk), how many recordings
run, who is signed in (#26), how many alarms wait for an operator (a button that opens the Events panel), and the
station's own CPU use.

The disk figures come from the storage guard's last look (`StorageService.figures`: no
catalog, no waiting), the shorter of the recordings' and the catalog's filesystems."""

from __future__ import annotations

import os
import time

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QStatusBar, QToolButton, QWidget

from app.recordings.storage import StorageService, measure
from app.settings import Settings
from ui.icons import icon
from ui.recordings.recordings_model import human_size

HIDDEN = "••••••••"
NEAR_FACTOR = 2  # amber while less than twice the floor is free
LOW_STYLE = "color: white; background: #c53030; padding: 0 6px;"
NEAR_STYLE = "color: black; background: #d69e2e; padding: 0 6px;"
ALARM_STYLE = "color: white; background: #c53030; font-weight: bold; padding: 0 6px;"


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
    alarms_clicked = Signal()  # the operator wants the Events panel

    def __init__(self, settings: Settings, api_url: str, parent: QWidget | None = None, *,
                 storage: StorageService | None = None):
        super().__init__(parent)
        self.settings, self.api_url, self.storage = settings, api_url, storage
        self.storage_alert: str | None = None  # why the guard stopped recordings, until cleared
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
        self.user_label = QLabel(self)  # the signed-in user (#26); hidden without sign-in
        self.user_label.setObjectName("user_label")
        self.user_label.hide()
        self.alarm_button = QToolButton(self)
        self.alarm_button.setAutoRaise(True)
        self.alarm_button.setToolTip("Unacknowledged alarms: open the Events panel")
        self.alarm_button.clicked.connect(self.alarms_clicked)
        self.set_alarm_count(0)
        for widget in (self.api_label, self.copy_button, self.token_label, self.reveal_button):
            self.addWidget(widget)
        for widget in (self.user_label, self.alarm_button, self.disk_label, self.rec_label,
                       self.cpu_label):
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

    def set_user(self, name: str | None, role: str | None = None) -> None:
        """Who the window acts as: their name and role, or nothing (sign-in is off)."""
        self.user_label.setText(f"Signed in: {name} ({role})" if name else "")
        self.user_label.setToolTip("Signed in as this user: the window acts with their role "
                                   "and sees their groups. Ctrl+L locks the window." if name
                                   else "")
        self.user_label.setVisible(bool(name))

    def set_recording_count(self, count: int) -> None:
        self.rec_label.setText(f"● {count} recording" if count else "idle")
        self.rec_label.setProperty("recording", bool(count))
        self.rec_label.setStyleSheet("color: #e53e3e; font-weight: bold;" if count else "")

    def set_alarm_count(self, count: int) -> None:
        """Unacknowledged events of severity alarm (app.alarms), red while there are any."""
        self.alarm_count = count
        self.alarm_button.setText(f"⚠ {count} alarm{'s' if count != 1 else ''}" if count
                                  else "no alarms")
        self.alarm_button.setStyleSheet(ALARM_STYLE if count else "")

    def set_storage_alert(self, message: str | None) -> None:
        """The storage guard stopped recordings (`StorageLow`): said here until the operator
        records again (`None` clears it)."""
        self.storage_alert = message
        self.refresh()

    def _disk(self):
        """(free bytes, where) of the shorter filesystem."""
        if self.storage is not None:
            disks = [d for d in self.storage.figures() if d is not None]
        else:
            disks = [measure(self.settings.recordings_dir)]
        worst = min(disks, key=lambda d: d.free)
        return worst.free, "\n".join(f"{d.path}: {human_size(d.free)} free of "
                                     f"{human_size(d.total)}" for d in disks)

    def refresh(self) -> None:
        self.cpu_label.setText(f"CPU {self._cpu.read():.0f}%  ({os.cpu_count()} cores)")
        try:
            free, where = self._disk()
        except OSError as exc:
            self.disk_label.setText(f"disk: {exc.strerror}")
            return
        floor = self.settings.disk_floor_mb << 20
        low = free < max(floor, 1)
        near = not low and floor > 0 and free < floor * NEAR_FACTOR
        text = f"disk {human_size(free)} free"
        if low:
            text += f" · under the {human_size(floor)} floor"
        elif near:
            text += f" · floor {human_size(floor)}"
        if self.storage_alert:
            text += " · recordings stopped: disk full"
        self.disk_label.setText(text)
        tip = f"{where}\nRecording stops, and is refused, under {human_size(floor)} free."
        if self.storage_alert:
            tip += f"\n\n{self.storage_alert}"
        self.disk_label.setToolTip(tip)
        self.disk_label.setProperty("low", low)
        self.disk_label.setProperty("near", near)
        self.disk_label.setStyleSheet(LOW_STYLE if low or self.storage_alert else
                                      NEAR_STYLE if near else "")

    def stop(self) -> None:
        self._timer.stop()
