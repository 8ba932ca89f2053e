"""The sound of the selected tile of a synchronised playback.

`AudioFeed` decodes the record's AAC track (`ui.media.AudioReader`, PyAV) on a thread of its
own from the cursor on, into a short queue of PCM chunks stamped with their wall-clock
instant; `AudioPump`, on the GUI thread, writes them into the sound device as fast as it
takes them (a device that is full takes nothing: the worker then waits, the GUI never does).
Sound plays at 1x forward only, as in video editors; any jump, speed change or another tile
selected starts a new feed at the cursor, so the sound never drifts from the pictures by
more than the device's own buffer.

The sound device (`open_sound_out`) is QtMultimedia's `QAudioSink` when this PySide6 has
QtMultimedia (the PySide6-Addons wheel), else the desktop's own raw-PCM player fed through a
pipe (`ui.playback.sound_pipe`: pw-cat, paplay or aplay); with neither, `available` is False,
says why, and the mute button tells the operator instead of pretending.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from app.recordings.playback_plan import Segment, SourcePlan
from ui.media import PCM_BYTES, PCM_CHANNELS, PCM_RATE, AudioReader, MediaTarget
from ui.playback.sound_pipe import PipeSoundOut, player_command
from ui.playback.tile_feed import epoch, instant

log = logging.getLogger(__name__)

QUEUED_CHUNKS = 48  # about a second of AAC frames (1024 samples each) decoded ahead


@dataclass(frozen=True)
class WallChunk:
    wall: float  # the instant its first sample was heard (epoch seconds)
    data: bytes


class AudioFeed:
    """Decodes one source's sound from `at` (epoch seconds) on, into the next segments."""

    def __init__(self, plan: SourcePlan, open_target: Callable[[Segment], MediaTarget], at: float):
        self._plan, self._open_target, self._at = plan, open_target, at
        self._queue: queue.Queue[WallChunk | None] = queue.Queue(QUEUED_CHUNKS)
        self._stopped = threading.Event()
        self.error = ""
        self._thread = threading.Thread(target=self._run, name=f"sound-{plan.source_id}",
                                        daemon=True)
        self._thread.start()

    def chunks(self) -> list[WallChunk]:
        """The chunks decoded since the last call (none waits)."""
        out = []
        while True:
            try:
                chunk = self._queue.get_nowait()
            except queue.Empty:
                return out
            if chunk is not None:
                out.append(chunk)

    def stop(self) -> None:
        self._stopped.set()
        self.chunks()  # free a worker waiting on a full queue
        self._thread.join(timeout=3)

    def _put(self, chunk: WallChunk) -> bool:
        while not self._stopped.is_set():
            try:
                self._queue.put(chunk, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        segment = self._plan.segment_from(instant(self._at))
        at = self._at
        try:
            while segment is not None and not self._stopped.is_set():
                reader = AudioReader(self._open_target(segment))
                try:
                    reader.seek(max(0.0, at - epoch(segment.begin)))
                    while (chunk := reader.next()) is not None:
                        if not self._put(WallChunk(epoch(segment.begin) + chunk.time, chunk.data)):
                            return
                finally:
                    reader.close()
                segment = self._plan.following(segment)
                at = epoch(segment.begin) if segment is not None else at
        except Exception as exc:  # noqa: BLE001 - a file without sound plays silent
            self.error = str(exc)
            log.info("sound of source %s: %s", self._plan.source_id, exc)


class AudioPump:
    """PCM into a device that takes what it has room for: `write(bytes) -> taken` and
    `room() -> bytes it takes now`. GUI thread only; never waits."""

    def __init__(self, write: Callable[[bytes], int], room: Callable[[], int]):
        self._write, self._room = write, room
        self._pending = bytearray()
        self.written = 0

    def feed(self, data: bytes) -> None:
        self._pending += data

    def pump(self) -> int:
        """Write what the device takes now; the bytes written."""
        room = self._room()
        frame = PCM_CHANNELS * PCM_BYTES
        size = min(room, len(self._pending)) // frame * frame
        if size <= 0:
            return 0
        taken = max(0, self._write(bytes(self._pending[:size])))
        del self._pending[:taken]
        self.written += taken
        return taken

    def clear(self) -> None:
        self._pending.clear()


class SoundOut:
    """The sound card through QtMultimedia's QAudioSink (push mode), when there is one."""

    def __init__(self):
        self.available, self.why = False, ""
        self._sink = self._device = None
        try:
            from PySide6.QtMultimedia import QAudioFormat, QAudioSink, QMediaDevices
        except ImportError:
            self.why = "no sound: this PySide6 lacks QtMultimedia (the PySide6-Addons wheel)"
            return
        device = QMediaDevices.defaultAudioOutput()
        if device.isNull():
            self.why = "no sound: this computer has no audio output"
            return
        fmt = QAudioFormat()
        fmt.setSampleRate(PCM_RATE)
        fmt.setChannelCount(PCM_CHANNELS)
        fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
        self._sink = QAudioSink(device, fmt)
        self._device = self._sink.start()
        self.available = self._device is not None
        if not self.available:
            self.why = "no sound: the audio output did not start"

    def write(self, data: bytes) -> int:
        return int(self._device.write(data)) if self._device is not None else 0

    def room(self) -> int:
        return int(self._sink.bytesFree()) if self._sink is not None else 0

    def reset(self) -> None:
        """Drop what the device still holds (a jump): stop and start again."""
        if self._sink is not None:
            self._sink.stop()
            self._device = self._sink.start()

    def close(self) -> None:
        if self._sink is not None:
            self._sink.stop()
            self._sink = self._device = None


def open_sound_out():
    """The sound device: QtMultimedia's if this PySide6 has it, else the desktop's player
    through a pipe, else a SoundOut that says why there is no sound."""
    native = SoundOut()
    if native.available:
        return native
    command = player_command()
    if command is None:
        native.why += "; and no pw-cat, paplay or aplay to play through"
        return native
    return PipeSoundOut(command)
