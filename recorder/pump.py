"""A bounded hand-off from a source's reader thread to a slower consumer on its own thread
(a re-encoding recording, a live forward to an RTMP server).

The reader must never wait: `offer` copies the packet's bytes and timing into a queue and
returns. If the consumer falls so far behind that the queue holds more than `max_bytes`,
packets are dropped up to the next keyframe (so what follows still decodes) and counted; the
owner reports the count, a drop is never silent.
"""

from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass
from typing import Callable

import av

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueuedPacket:
    """A packet detached from the reader's objects (the reader keeps mutating and reusing
    its own), plus the input it came from for codec parameters."""

    is_video: bool
    data: bytes
    pts: int | None
    dts: int | None
    time_base: av.AVRational | None
    keyframe: bool
    wall: float
    session: object
    source: object  # the PacketInput: `.video` / `.audio` streams as codec templates

    def packet(self) -> av.Packet:
        packet = av.Packet(self.data)
        packet.pts, packet.dts, packet.time_base = self.pts, self.dts, self.time_base
        packet.is_keyframe = self.keyframe
        return packet


class PacketPump:
    def __init__(self, name: str, handle: Callable[[QueuedPacket], None],
                 on_error: Callable[[str], None], *, max_bytes: int = 32 << 20,
                 on_drain: Callable[[], None] | None = None):
        self._handle = handle
        self._on_error = on_error
        self._on_drain = on_drain
        self._max_bytes = max_bytes
        self._queue: collections.deque[QueuedPacket | None] = collections.deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._skipping = False
        self._finished = False
        self.dropped = 0
        self.failed = False
        # per kind (video?): the newest input stream and its time base, read once per stream
        # (PyAV builds a Fraction at each read of `packet.time_base`)
        self._time_bases: dict[bool, tuple[object, av.AVRational | None]] = {}
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def offer(self, packet: av.Packet, wall: float, session: object, source) -> None:
        """From the reader thread: queue a copy of `packet`; never blocks."""
        is_video = packet.stream is source.video
        with self._cond:
            if self._finished or self.failed:
                return
            if self._skipping and not (is_video and packet.is_keyframe):
                self.dropped += 1
                return
            if self._bytes + packet.size > self._max_bytes:
                if not self._skipping:
                    log.warning("%s: consumer behind by %d MiB; skipping to the next keyframe",
                                self._thread.name, self._bytes >> 20)
                self._skipping = True
                self.dropped += 1
                return
            self._skipping = False
            self._queue.append(QueuedPacket(is_video, bytes(packet), packet.pts, packet.dts,
                                            self._time_base(is_video, packet),
                                            packet.is_keyframe, wall, session, source))
            self._bytes += packet.size
            self._cond.notify()

    def _time_base(self, is_video: bool, packet: av.Packet) -> av.AVRational | None:
        stream = packet.stream
        known = self._time_bases.get(is_video)
        if known is None or known[0] is not stream:
            time_base = packet.time_base
            known = self._time_bases[is_video] = (
                stream, av.AVRational(time_base.numerator, time_base.denominator)
                if time_base else None)
        return known[1]

    def finish(self, timeout: float | None = None) -> bool:
        """Let the consumer work through what is queued, then stop; True when it did."""
        with self._cond:
            self._finished = True
            self._queue.append(None)
            self._cond.notify()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def abort(self) -> None:
        """Stop at once, throwing away what is queued (a live forward being removed)."""
        with self._cond:
            self._finished = True
            self._queue.clear()
            self._bytes = 0
            self._queue.append(None)
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                item = self._queue.popleft()
                if item is not None:
                    self._bytes -= len(item.data)
            if item is None:
                break
            if self.failed:
                continue
            try:
                self._handle(item)
            except (av.FFmpegError, OSError, ValueError) as exc:
                self.failed = True
                self._on_error(str(exc))
        if self._on_drain is not None and not self.failed:
            try:
                self._on_drain()
            except (av.FFmpegError, OSError, ValueError) as exc:
                self.failed = True
                self._on_error(str(exc))
