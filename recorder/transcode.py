"""Re-encoding recordings: a source's `ffmpeg_cmd` (or an RTC `select_stream_type` level)
applied with PyAV on a thread of the recording's own, so a slow encoder never delays the
reader, the stream-copy recordings of the same source or the live view.

The reader hands packets over through a `PacketPump`; this thread decodes them, scales,
drops frames above the profile's rate, encodes, and muxes into the same crash-safe MP4 as
the copy path (`Mp4Output`), with the same timeline rules.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av

from recorder.encoding import EncodeProfile
from recorder.mp4file import Mp4Output, RecordingResult
from recorder.pump import PacketPump, QueuedPacket
from recorder.timeline import TICKS, TIME_BASE, Timeline, clock_of

log = logging.getLogger(__name__)
DRAIN_TIMEOUT_S = 30.0  # how long `close` lets the encoder work through its backlog


class TranscodeRecording(Mp4Output):
    def __init__(self, path: Path, profile: EncodeProfile,
                 on_error: Callable[[str], None] = lambda message: None):
        super().__init__(path, profile)
        self._on_error = on_error
        self._decoder: av.CodecContext | None = None
        self._decoder_session: object = None
        self._pending_audio: list[QueuedPacket] = []
        self._next_frame_s: float | None = None  # frame-rate limiter
        self._last_pts = -1
        self._pump: PacketPump | None = None
        self._clock = Timeline()  # the reader's view of file time (the encoder has its own)
        self._name = f"encode-{path.stem[:24]}"

    @property
    def started(self) -> bool:
        return self._pump is not None

    def write(self, packet: av.Packet, wall: float, session: object, source) -> None:
        """From the reader thread: queue the packet (a file starts at a keyframe)."""
        if self._pump is None:
            if packet.stream is not source.video or not packet.is_keyframe:
                return
            self._pump = PacketPump(self._name, self._handle, self._failed,
                                    on_drain=self._drain)
        if packet.stream is source.video:
            seconds = clock_of(self.clocks, "reader", source.video, packet).timing(packet)[0]
            self._clock.extend(self._clock.place(seconds, wall, session))
        self._pump.offer(packet, wall, session, source)

    def file_time(self, packet: av.Packet, wall: float, session: object) -> float:
        """Where this input packet lands in the file, as the reader sees it (for rotation:
        a re-encoded file is cut at an input keyframe, like a copied one)."""
        seconds = clock_of(self.clocks, "reader", packet.stream, packet).timing(packet)[0]
        return self._clock.position(seconds, wall, session)

    def close(self, sync: bool = False) -> RecordingResult:
        if self._pump is not None:
            if not self._pump.finish(DRAIN_TIMEOUT_S):
                self.error = self.error or "the encoder did not finish in time"
            self.dropped = self._pump.dropped
        return super().close(sync)

    # --- the encoding thread -------------------------------------------------------
    def _failed(self, message: str) -> None:
        self.error = self.error or f"encoding failed: {message}"
        log.error("%s: %s", self.path.name, self.error)
        self._on_error(self.error)

    def _handle(self, item: QueuedPacket) -> None:
        if not item.is_video:
            if self.container is None:
                self._pending_audio.append(item)
            else:
                self.write_audio(item.packet(), item.wall, item.session, item.source.audio)
            return
        if self._decoder is None or item.session is not self._decoder_session:
            self._decoder = self._make_decoder(item.source.video)
            self._decoder_session = item.session
        packet = item.packet()
        camera_s, offset = clock_of(self.clocks, "video", item.source.video, packet).timing(packet)
        seconds = self.timeline.place(camera_s, item.wall, item.session)
        dts = round(seconds * TICKS)
        packet.time_base, packet.dts, packet.pts = TIME_BASE, dts, dts + offset
        try:
            frames = self._decoder.decode(packet)
        except av.FFmpegError as exc:
            log.warning("%s: undecodable packet skipped: %s", self.path.name, exc)
            self.dropped += 1
            return
        for frame in frames:
            self._encode(frame, item)

    def _make_decoder(self, template: av.video.stream.VideoStream) -> av.CodecContext:
        src = template.codec_context
        decoder = av.CodecContext.create(src.codec.canonical_name, "r")
        if src.extradata:
            decoder.extradata = src.extradata
        decoder.thread_type = "SLICE"
        return decoder

    def _encode(self, frame: av.VideoFrame, item: QueuedPacket) -> None:
        t = frame.pts / TICKS if frame.pts is not None else self.timeline.end_s
        rate = self.profile.rate
        if rate is not None:
            if self._next_frame_s is not None and t < self._next_frame_s - 0.25 / float(rate):
                return
            self._next_frame_s = max(t, self._next_frame_s or t) + 1 / float(rate)
        if self.container is None:
            self._open(frame, item)
        ctx = self.video_out.codec_context
        frame = frame.reformat(width=ctx.width, height=ctx.height, format=ctx.pix_fmt)
        pts = max(round(t * TICKS), self._last_pts + 1)  # the encoder needs rising pts
        self._last_pts = pts
        frame.pts, frame.time_base = pts, TIME_BASE
        for packet in self.video_out.encode(frame):
            self.mux_encoded(packet, "video")

    def _open(self, frame: av.VideoFrame, item: QueuedPacket) -> None:
        self.open_container()
        width, height = self.profile.output_size(frame.width, frame.height)
        src_rate = item.source.video.average_rate or item.source.video.guessed_rate
        rate = self.profile.rate or (Fraction(src_rate) if src_rate else Fraction(25))
        out = self.container.add_stream(self.profile.video, rate=rate)
        ctx = out.codec_context
        ctx.width, ctx.height, ctx.pix_fmt = width, height, self.profile.pix_fmt
        ctx.time_base = TIME_BASE
        out.time_base = TIME_BASE
        if self.profile.gop:
            ctx.gop_size = self.profile.gop
        options = dict(self.profile.video_options)
        if self.profile.video in ("libx264", "libx265"):
            options.setdefault("preset", "veryfast")
            # No B-frames: the first frame then sits at 0 in the file like a copied stream
            # (cameras send none either), and encoding costs less.
            options.setdefault("bf", "0")
        ctx.options = options
        self.video_out = out
        self.add_audio(item.source.audio)
        for pending in self._pending_audio:
            self.write_audio(pending.packet(), pending.wall, pending.session,
                             pending.source.audio)
        self._pending_audio.clear()

    def _drain(self) -> None:
        """End of input: flush the frames the decoder and encoder still hold."""
        if self._decoder is not None and self.video_out is not None:
            for frame in self._decoder.decode(None):
                self._encode(frame, None)
        if self.video_out is not None:
            for packet in self.video_out.encode(None):
                self.mux_encoded(packet, "video")
