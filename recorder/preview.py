"""A source's preview stream: the camera's second, smaller stream, read only to be shown.

A camera that offers a sub-stream (640x360 beside the 1080p main stream) lets a wall of
tiles show every frame for a fraction of what decoding the main streams would cost. The
preview reader is a thread of its own beside the source's main reader (`SourceWorker`):
it never records, forwards or keeps a pre-roll; it only offers video packets to its own
decoder and latest-frame slot, which decodes as much as the tiles watching the slot ask
for, like the main stream's. It keeps the packets since the newest keyframe (references,
not copies) so a tile that starts watching between keyframes shows a picture at once.

Like the main reader, it reads in long batches while nobody watches its pictures (a viewer
wakes it at once: `FrameSlot.on_watch`), the usual state of a preview stream read only for
motion analysis: 16 of them woke 160 times a second at the viewers' 0.1-s batches, for an
analyser that dates its events by the pictures' own time. Analysis takes batches of
`ANALYSIS_BATCH_S`, a bound on how much later a motion event reaches the live stream.

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

from recorder.frames import Decoder, Demand, FrameSlot
from recorder.inputs import InputError, PacketInput, RefusedInput, open_input, public_reason
from recorder.outgoing import OutgoingPolicy
from recorder.redact import redact
from recorder.rtsp_input import BATCH_S, IDLE_BATCH_S, RtspInput

if TYPE_CHECKING:
    from recorder.worker import Backoff

log = logging.getLogger(__name__)
GROUP_LIMIT = 600  # packets kept for priming at most (a camera with a very long GOP)
ANALYSIS_BATCH_S = 0.25  # the reader's batches while only motion analysis uses the pictures


class PreviewReader(threading.Thread):
    """Reads `uri` (asking `vet` before each attempt, as the main reader does) into `slot`."""

    def __init__(self, source_id: int, uri: str, vet: Callable[[str], str] | None,
                 backoff: Backoff, *, policy: Callable[[], OutgoingPolicy] | None = None):
        super().__init__(name=f"preview-{source_id}", daemon=True)
        self.source_id, self._uri, self._vet, self._backoff = source_id, uri, vet, backoff
        self._policy = policy  # the outgoing-address policy of now, as the main reader's
        self.slot = FrameSlot()
        self.slot.on_watch = self._wake_input  # a new viewer: read now, in short batches
        self._input: PacketInput | None = None
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

    def _batch_s(self) -> float:
        """The station's RTSP reader's next batch: short for a viewer, `ANALYSIS_BATCH_S`
        while only the analyser takes the pictures, long while nobody does."""
        if self.slot.demand is not Demand.NONE:
            return BATCH_S
        return ANALYSIS_BATCH_S if self.decoder.analysing else IDLE_BATCH_S

    def _wake_input(self) -> None:
        source = self._input
        if isinstance(source, RtspInput):
            source.wake()

    def _read_session(self) -> None:
        source = self._open()
        if isinstance(source, RtspInput):
            source.batch_s = self._batch_s
        self._input = source
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
            self._input = None
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
