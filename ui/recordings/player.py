"""The in-app player: a recorded file decoded with PyAV on a worker thread and drawn like a
camera tile. Play/pause, a slider that scrubs by keyframe, one-frame steps, position and
duration; a file still being recorded plays on as it grows.

The worker owns the `VideoReader` and takes commands from a queue; frames come back to the
GUI thread through a queued Qt signal, tagged with the serial of the file they belong to, so
a frame still in flight from the previous file is never drawn over the new one. Seeks are
coalesced on the worker: dragging the slider asks for many, only the newest is decoded.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRect, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QKeySequence, QPainter, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui.icons import icon
from ui.media import DecodedFrame, MediaTarget, RemoteFile, VideoReader
from ui.zoom import PictureZoom, ZoomMouse, fitted

log = logging.getLogger(__name__)
OPEN_RETRY_S = 5.0    # a recording's file may not hold its first fragment yet
LIVE_POLL_S = 0.2     # at the end of a growing file: look again this often


def clock(seconds: float) -> str:
    """0:04.6, 12:03.0, 1:02:03.0"""
    seconds = max(0.0, seconds)
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:04.1f}" if hours else f"{minutes}:{secs:04.1f}"


def rgb_image(rgb) -> QImage:
    rgb = np.ascontiguousarray(rgb)  # PyAV's rows may be padded
    height, width, _ = rgb.shape
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class _Relay(QObject):
    message = Signal(object)


class _Decoder:
    """The worker: one thread, one reader, commands in, messages out."""

    def __init__(self, relay: _Relay):
        self._relay = relay
        self._queue: queue.Queue[tuple] = queue.Queue()
        self._reader: VideoReader | None = None
        self._serial = 0
        self._playing = False
        self._pending: DecodedFrame | None = None
        self._anchor: tuple[float, float] | None = None  # (monotonic, file time) of play start
        self._deferred: tuple | None = None
        self._next: MediaTarget | None = None  # the file that follows (.timeline queues it)
        self._thread = threading.Thread(target=self._run, name="player", daemon=True)
        self._thread.start()

    def send(self, *command) -> None:
        self._queue.put(command)

    def stop(self) -> None:
        self._queue.put(("quit",))
        self._thread.join(timeout=3)

    # --- the loop ------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                if not self._turn():
                    return
            except Exception as exc:  # noqa: BLE001 - a broken file must not kill the player
                log.warning("player: %s", exc)
                self._playing, self._pending = False, None
                self._emit("error", f"cannot play this file: {exc}")

    def _turn(self) -> bool:
        """One command, or one frame when playing; False on quit."""
        timeout = self._until_due() if self._playing and self._reader else None
        if self._deferred is not None:
            command, self._deferred = self._deferred, None
        else:
            try:
                command = self._queue.get(timeout=timeout)
            except queue.Empty:
                command = None
        if command is None:
            self._show_due_frame()
        elif command[0] == "quit":
            self._close()
            return False
        else:
            handlers = {"open": self._on_open, "play": self._on_play, "pause": self._on_pause,
                        "seek": self._on_seek, "step": self._on_step, "live": self._on_live,
                        "close": self._on_close, "queue": self._on_queue}
            handlers[command[0]](*command[1:])
        return True

    def _until_due(self) -> float | None:
        """Seconds until the next frame is due (decoding it if need be), or how long to wait
        for a growing file; None once a finished file has ended."""
        if self._pending is None:
            self._pending = self._reader.next()
            if self._pending is None:
                if self._reader.live:
                    self._anchor = None  # resume at real speed once more is written
                    return LIVE_POLL_S
                if self._next is not None and self._advance():
                    return 0.0
                self._playing = False
                self._emit("ended")
                return None
        if self._anchor is None:
            self._anchor = (time.monotonic(), self._pending.time)
        due = self._anchor[0] + (self._pending.time - self._anchor[1])
        return max(0.0, due - time.monotonic())

    def _show_due_frame(self) -> None:
        if self._playing and self._pending is not None and self._anchor is not None:
            due = self._anchor[0] + (self._pending.time - self._anchor[1])
            if time.monotonic() >= due - 0.002:
                frame, self._pending = self._pending, None
                self._emit_frame(frame)

    # --- commands ------------------------------------------------------------------
    def _on_open(self, path: MediaTarget, live: bool, serial: int, start: float = 0.0) -> None:
        self._close()
        self._serial = serial
        deadline = time.monotonic() + (OPEN_RETRY_S if live else 0)
        while True:
            try:
                self._reader = VideoReader(path, live=live)
                break
            except Exception:
                if not self._queue.empty():
                    return  # the operator has moved on to another file already
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)
        reader = self._reader
        self._emit("opened", reader.duration, reader.fps, reader.width, reader.height)
        frame = self._frame_at(start, exact=True) if start > 0 else reader.next()
        if frame is not None:
            self._emit_frame(frame)

    def _on_play(self) -> None:
        if self._reader is None:
            return
        if self._pending is None and not self._reader.live:
            # At the end of a finished file, play starts over.
            end = self._reader.last_time
            if end is not None and end + 1.5 / self._reader.fps >= self._reader.duration:
                self._emit_frame(self._reader.seek(0.0))
        self._playing, self._anchor = True, None
        self._emit("playing", True)

    def _on_pause(self) -> None:
        self._playing, self._anchor = False, None
        self._emit("playing", False)

    def _on_seek(self, seconds: float) -> None:
        while True:  # only the newest of a burst of seeks is decoded
            try:
                command = self._queue.get_nowait()
            except queue.Empty:
                break
            if command[0] == "seek":
                seconds = command[1]
            else:
                self._deferred = command
                break
        if self._reader is None:
            return
        self._pending, self._anchor = None, None
        frame = self._frame_at(seconds, exact=False)
        if frame is not None:
            self._emit_frame(frame)

    def _frame_at(self, seconds: float, exact: bool) -> DecodedFrame | None:
        """The keyframe at or before `seconds`; `exact`: decoded on to the very instant."""
        frame = self._reader.seek(seconds)
        while exact and frame is not None and frame.time + 0.5 / self._reader.fps < seconds:
            following = self._reader.next()
            if following is None:
                break
            frame = following
        return frame

    def _on_queue(self, target: MediaTarget | None) -> None:
        self._next = target

    def _advance(self) -> bool:
        """The file ended and the next one is queued: go on in it at once, without pausing
        (consecutive records of a source play as one)."""
        target, self._next = self._next, None
        try:
            reader = VideoReader(target)
        except Exception as exc:  # noqa: BLE001 - the next file is unreadable: stop here
            log.warning("player: cannot go on in the next file: %s", exc)
            return False
        self._reader.close()
        self._reader, self._anchor = reader, None
        self._pending = reader.next()
        self._emit("advanced", str(target), reader.duration,
                   target if isinstance(target, RemoteFile) else None)
        return self._pending is not None

    def _on_step(self) -> None:
        if self._reader is None:
            return
        if self._playing:
            self._on_pause()
        frame, self._pending = self._pending or self._reader.next(), None
        if frame is None:
            self._emit("ended")
        else:
            self._emit_frame(frame)

    def _on_live(self, live: bool) -> None:
        if self._reader is not None:
            self._reader.live = live

    def _on_close(self) -> None:
        self._close()

    def _close(self) -> None:
        self._playing, self._pending, self._anchor, self._next = False, None, None, None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # --- out -----------------------------------------------------------------------
    def _emit(self, kind: str, *payload) -> None:
        self._relay.message.emit((kind, self._serial, *payload))

    def _emit_frame(self, frame: DecodedFrame | None) -> None:
        if frame is not None:
            self._emit("frame", frame, rgb_image(frame.rgb), self._reader.duration)


class FrameView(ZoomMouse, QWidget):
    """The picture, drawn as a camera tile draws it: dark surface, aspect kept, a caption;
    digital zoom as on a tile (`ui.zoom`: wheel, drag, double-click back to 1x, an inset)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.image: QImage | None = None
        self.caption = ""
        self.message = "Select a recording to play it"
        self.zoom = PictureZoom(self.update)
        self.setMinimumSize(320, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt naming
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#111418"))
        if self.image is not None:
            target = self._target()
            self.zoom.paint(painter, self.image, target)
            self.zoom.paint_inset(painter, self.image, target)
        else:
            painter.setPen(QColor("#8a96a3"))
            painter.drawText(self.rect().adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
        if self.caption:
            bar = QRect(0, 0, self.width(), 24)
            painter.fillRect(bar, QColor(0, 0, 0, 150))
            painter.setPen(QColor("white"))
            font = QFont(self.font())
            font.setBold(True)
            painter.setFont(font)
            text = painter.fontMetrics().elidedText(self.caption, Qt.TextElideMode.ElideRight,
                                                    self.width() - 16)
            painter.drawText(bar.adjusted(8, 0, -8, 0), Qt.AlignmentFlag.AlignVCenter, text)
        painter.end()

    def _target(self) -> QRect | None:
        if self.image is None:
            return None
        return fitted(self.image.width(), self.image.height(), self.rect())



class PlayerWidget(QWidget):
    """Plays one recorded file at a time. `open()` shows its first frame, paused."""

    position_changed = Signal(float)
    advanced = Signal(str)  # the queued file took over at the end of the last one: its path
    bookmark_requested = Signal(float)  # `B`: the position (seconds into the file shown)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.path: Path | None = None
        self.remote: RemoteFile | None = None  # where `path` is read from: another station
        self.live = False
        self.playing = False
        self.duration = 0.0
        self.fps = 25.0
        self.position = 0.0
        self.frame_index = -1
        self.key_frame = False
        self.frames_shown = 0  # frames drawn since the file was opened
        self.error = ""
        self._serial = 0
        self._syncing_slider = False
        self._relay = _Relay(self)
        self._relay.message.connect(self._on_message)
        self._decoder = decoder = _Decoder(self._relay)
        self.destroyed.connect(lambda *_: decoder.stop())
        self._build()

    def _build(self) -> None:
        self.view = FrameView(self)
        self.play_button = QToolButton(self)
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.toggle)
        self.step_button = QToolButton(self)
        self.step_button.setIcon(icon("step"))
        self.step_button.setToolTip("Next frame (→)")
        self.step_button.clicked.connect(self.step)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setToolTip("Drag to scrub: the picture jumps from keyframe to keyframe")
        self.slider.valueChanged.connect(self._on_slider)
        self.slider.sliderReleased.connect(self._show_position)
        self.time_label = QLabel(clock(0) + " / " + clock(0), self)
        self.time_label.setMinimumWidth(self.time_label.fontMetrics().horizontalAdvance("0:00:00.0 / 0:00:00.0"))
        self.time_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        controls = QHBoxLayout()
        controls.setContentsMargins(4, 2, 4, 2)
        for widget in (self.play_button, self.step_button):
            widget.setAutoRaise(True)
            controls.addWidget(widget)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.time_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.view, 1)
        layout.addLayout(controls)
        for keys, slot in ((Qt.Key.Key_Space, self.toggle), (Qt.Key.Key_Right, self.step),
                           (Qt.Key.Key_B, self._ask_bookmark)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        self._set_playing(False)
        self._enable(False)

    # --- commands ------------------------------------------------------------------
    def open(self, path: str | Path, *, live: bool = False, caption: str = "",
             remote: RemoteFile | None = None, start: float = 0.0) -> None:
        """Load a file and show its first frame (the frame at `start` seconds), paused.
        `live`: it is still being recorded. `remote`: the file `path` is on another station,
        read from its owner's API."""
        self._serial += 1
        self.path, self.live, self.remote = Path(path), live and remote is None, remote
        self.playing, self.duration, self.position = False, 0.0, 0.0
        self.frame_index, self.key_frame, self.frames_shown, self.error = -1, False, 0, ""
        self.view.image, self.view.caption = None, caption
        self.view.zoom.reset()  # another file: the whole picture again
        self.view.message = "Opening…"
        self.view.update()
        self._set_playing(False)
        self._enable(True)
        self._decoder.send("open", remote or str(path), self.live, self._serial, float(start))

    def clear(self, message: str = "Select a recording to play it") -> None:
        self._serial += 1
        self.path, self.remote, self.playing = None, None, False
        self._decoder.send("close")
        self.view.image, self.view.caption, self.view.message = None, "", message
        self.view.update()
        self._set_playing(False)
        self._enable(False)
        self._sync_slider(0.0, 0.0)

    def play(self) -> None:
        if self.path is not None:
            self._decoder.send("play")

    def pause(self) -> None:
        if self.path is not None:
            self._decoder.send("pause")

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def step(self) -> None:
        """One frame forward (pauses first)."""
        if self.path is not None:
            self._decoder.send("step")

    def seek(self, seconds: float) -> None:
        """Show the keyframe at or before `seconds`."""
        if self.path is not None:
            self._decoder.send("seek", float(seconds))

    def queue_next(self, path: MediaTarget | None) -> None:
        """The file to go on in when this one ends while playing (None: stop at the end)."""
        if self.path is not None:
            self._decoder.send("queue", path)

    def _ask_bookmark(self) -> None:
        if self.path is not None:
            self.bookmark_requested.emit(self.position)

    def set_live(self, live: bool) -> None:
        """The recording ended (False): the player stops waiting for more at the end."""
        self.live = live
        self._decoder.send("live", live)

    def shutdown(self) -> None:
        self._decoder.stop()

    # --- from the worker -----------------------------------------------------------
    def _on_message(self, message: tuple) -> None:
        kind, serial, *payload = message
        if serial != self._serial:
            return  # from a file that is no longer shown
        if kind == "opened":
            self.duration, self.fps = payload[0], payload[1]
            self._sync_slider(0.0, self.duration)
        elif kind == "frame":
            frame, image, duration = payload
            self.position, self.frame_index, self.key_frame = frame.time, frame.index, frame.key
            self.duration = duration
            self.frames_shown += 1
            self.view.image = image
            self.view.update()
            self._show_position()
            self.position_changed.emit(frame.time)
        elif kind == "advanced":
            self.path, self.duration, self.remote = Path(payload[0]), payload[1], payload[2]
            self.advanced.emit(payload[0])
        elif kind == "playing":
            self._set_playing(payload[0])
        elif kind == "ended":
            self._set_playing(False)
        elif kind == "error":
            self.error = payload[0]
            self._set_playing(False)
            self.view.image, self.view.message = None, payload[0]
            self.view.update()

    # --- display -------------------------------------------------------------------
    def _set_playing(self, playing: bool) -> None:
        self.playing = playing
        self.play_button.setIcon(icon("pause" if playing else "play"))

    def _enable(self, on: bool) -> None:
        for widget in (self.play_button, self.step_button, self.slider):
            widget.setEnabled(on)

    def _show_position(self) -> None:
        if self.slider.isSliderDown():  # the operator holds the slider: leave it there
            self.time_label.setText(f"{clock(self.position)} / {clock(self.duration)}")
        else:
            self._sync_slider(self.position, self.duration)

    def _sync_slider(self, position: float, duration: float) -> None:
        self._syncing_slider = True
        try:
            self.slider.setRange(0, int(duration * 1000))
            self.slider.setSingleStep(max(1, int(1000 / max(1.0, self.fps))))
            self.slider.setPageStep(1000)
            self.slider.setValue(int(position * 1000))
        finally:
            self._syncing_slider = False
        self.time_label.setText(f"{clock(position)} / {clock(duration)}")

    def _on_slider(self, value: int) -> None:
        if not self._syncing_slider:
            self.seek(value / 1000)
