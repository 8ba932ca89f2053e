"""A source's preview stream: the camera's second, smaller stream, read only to be shown.

A camera that offers a sub-stream (640x360 beside the 1080p main stream) lets a wall of
tiles show every frame for a fraction of what decoding the main streams would cost. The
preview reader is a thread of its own beside the source's main reader (`SourceWorker`):
it never records, forwards or keeps a pre-roll; it only offers video packets to its own
decoder and latest-frame slot, which decodes as much as the tiles watching the slot ask
for, like the main stream's. It keeps the packets since the newest keyframe (references,
not copies) so a tile that starts watching between keyframes shows a picture at once.

It reconnects with the worker's capped backoff. Its failures never touch the source's
status (that is the main stream's, which records); they go to the log, without secrets,
once per change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import av

from recorder.frames import Decoder, FrameSlot
from recorder.inputs import InputError, PacketInput, RefusedInput, open_input, public_reason
from recorder.outgoing import OutgoingPolicy
from recorder.redact import redact

if TYPE_CHECKING:
    from recorder.worker import Backoff

log = logging.getLogger(__name__)
GROUP_LIMIT = 600  # packets kept for priming at most (a camera with a very long GOP)


class PreviewReader(threading.Thread):
    """Reads `uri` (asking `vet` before each attempt, as the main reader does) into `slot`."""

    def __init__(self, source_id: int, uri: str, vet: Callable[[str], str] | None,
                 backoff: Backoff, *, policy: Callable[[], OutgoingPolicy] | None = None):
        super().__init__(name=f"preview-{source_id}", daemon=True)
        self.source_id, self._uri, self._vet, self._backoff = source_id, uri, vet, backoff
        self._policy = policy  # the outgoing-address policy of now, as the main reader's
        self.slot = FrameSlot()
        self.decoder = Decoder(f"{source_id}-preview", self.slot, slice_threads=False)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._group: list[tuple[av.Packet, float]] = []  # since the newest keyframe
        self.online = False
        self._problem: str | None = None  # the last failure logged

    def stop(self, timeout: float = 3.0) -> None:
        self._stopping.set()
        self.decoder.stop()
        if self.is_alive():
            self.join(timeout)

    def run(self) -> None:
        self.decoder.start()
        try:
            while not self._stopping.is_set():
                try:
                    self._read_session()
                    problem = "the stream ended"
                except RefusedInput as exc:
                    problem = f"refused: {exc}"
                except (InputError, av.FFmpegError, OSError) as exc:
                    problem = public_reason(exc) if not isinstance(exc, InputError) else str(exc)
                except Exception as exc:  # noqa: BLE001 - the thread must not die silently
                    log.exception("source %s: preview stream: unexpected error", self.source_id)
                    problem = type(exc).__name__
                self.online = False
                if self._stopping.is_set():
                    break
                if problem != self._problem:
                    log.info("source %s: preview stream: %s", self.source_id,
                             redact(problem, (self._uri,)))
                    self._problem = problem
                self._stopping.wait(self._backoff.next_delay())
        finally:
            self.decoder.stop()

    def _open(self) -> PacketInput:
        uri = self._vet(self._uri) if self._vet is not None else self._uri
        return open_input(uri, self._policy() if self._policy is not None else None)

    def _read_session(self) -> None:
        source = self._open()
        try:
            ctx = source.video.codec_context
            codec_name, extradata = ctx.codec.canonical_name, ctx.extradata
            for packet, wall in source.packets(self._stopping):
                if packet.stream is not source.video:
                    continue  # audio of the sub-stream: nobody listens to it
                if not self.online:
                    self.online, self._problem = True, None
                    self._backoff.reset()
                    log.info("source %s: preview stream online", self.source_id)
                with self._lock:
                    if packet.is_keyframe or len(self._group) >= GROUP_LIMIT:
                        self._group = []
                    if packet.is_keyframe or self._group:
                        self._group.append((packet, wall))
                self.decoder.offer(packet, codec_name, extradata, wall, source.latency,
                                   self._newest_group)
        finally:
            with self._lock:
                self._group = []
            try:
                source.close()
            except (av.FFmpegError, OSError, ValueError):
                pass

    def _newest_group(self, follow: bool) -> list[tuple[bytes, float]]:
        """Decoder.offer's priming: the newest keyframe and, with `follow`, what came after
        it, without the packet being offered (the group's last)."""
        with self._lock:
            group = self._group[:-1]
            return [(bytes(packet), wall) for packet, wall in (group if follow else group[:1])]
