"""What every output of a source shares, whatever the container: the timeline (file time
from camera time), strictly rising DTS per stream, and the audio track: copied when the
container can hold it, transcoded to AAC otherwise, or dropped when the profile says so.

Subclasses open the container (`Mp4Output` for recordings, `FlvOutput` for live forwards)
and decide what a closed output amounts to.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import av

from recorder.audio import AacTranscoder, needs_transcode
from recorder.encoding import COPY, EncodeProfile
from recorder.timeline import TICKS, TIME_BASE, MonotonicDts, StreamClock, Timeline, clock_of


class MuxOutput(ABC):
    """One output being written. Used by one thread at a time."""

    def __init__(self, profile: EncodeProfile = COPY):
        self.profile = profile
        self.container: av.container.OutputContainer | None = None
        self.timeline = Timeline()
        self.dts = MonotonicDts()
        self.video_out: av.stream.Stream | None = None
        self.audio_out: av.stream.Stream | None = None
        self._aac: AacTranscoder | None = None
        self._audio_session: object = None
        self.packets = 0
        self.dropped = 0
        self.error: str | None = None
        self.clocks: dict[str, StreamClock] = {}  # the input streams' time bases (`clock_of`)

    @property
    def gaps(self) -> list[tuple[float, float]]:
        return self.timeline.gaps

    @abstractmethod
    def open_container(self) -> av.container.OutputContainer:
        """Open the output (a file, a URL) and set `self.container`."""

    def open_copy(self, source) -> None:
        """Open the container with the video copied from `source` (a `PacketInput`)."""
        self.open_container()
        self.video_out = self.container.add_stream_from_template(source.video)
        self.video_out.time_base = TIME_BASE
        self.add_audio(source.audio)

    def write_copy(self, packet: av.Packet, wall: float, session: object, source) -> None:
        """Stream copy of one packet of `source`; a container opens at a keyframe."""
        is_video = packet.stream is source.video
        if self.container is None:
            if not is_video or not packet.is_keyframe:
                return
            self.open_copy(source)
        if is_video:
            clock = clock_of(self.clocks, "video", source.video, packet)
            seconds, offset = clock.timing(packet)
            self.mux_copy(packet, clock, "video", self.video_out,
                          self.timeline.place(seconds, wall, session), offset)
        else:
            self.write_audio(packet, wall, session, source.audio)

    def add_audio(self, audio: av.audio.stream.AudioStream | None) -> None:
        if audio is None or not self.profile.keeps_audio:
            return
        if self.profile.audio == "copy" and not needs_transcode(audio):
            self.audio_out = self.container.add_stream_from_template(audio)
        else:
            self._aac = AacTranscoder(audio)
            self.audio_out = self._aac.add_output(self.container, self.profile.audio_bitrate)

    def write_audio(self, packet: av.Packet, wall: float, session: object,
                    stream: av.audio.stream.AudioStream) -> None:
        """One packet of the input's audio `stream`: copied, or transcoded to AAC."""
        if self.audio_out is None:
            return
        clock = clock_of(self.clocks, "audio", stream, packet)
        camera_s, offset = clock.timing(packet)
        seconds = self.timeline.place(camera_s, wall, session)
        if self._aac is None:
            self.mux_copy(packet, clock, "audio", self.audio_out, seconds, offset)
            return
        new_session = session is not self._audio_session
        self._audio_session = session
        for out in self._aac.encode(bytes(packet), seconds, new_session, self.audio_out):
            self.mux_encoded(out, "audio")

    def mux_copy(self, packet: av.Packet, clock: StreamClock, kind: str,
                 out: av.stream.Stream, seconds: float, offset: int = 0) -> None:
        """Mux an input packet (of the stream `clock` belongs to) at `seconds` in the file
        (`offset`: its PTS-DTS in ticks). The packet object is restored afterwards: the same
        packet also goes to other recordings and the pre-roll buffer."""
        dts = self.dts(kind, seconds)
        saved = (packet.pts, packet.dts, packet.stream)
        duration = packet.duration
        try:
            packet.time_base = TIME_BASE
            packet.dts = dts
            packet.pts = dts + offset
            packet.stream = out
            self.container.mux_one(packet)
        finally:
            packet.pts, packet.dts, packet.stream = saved
            packet.time_base = clock.time_base
        self._count(dts, duration * clock.num / clock.den
                    if duration and clock.scale is not None else 0.0)

    def mux_encoded(self, packet: av.Packet, kind: str) -> None:
        """Mux a packet an encoder made: its timestamps are file time already, and an
        encoder's output is monotonic (a B-frame encoder's first DTS may be negative; the
        muxer shifts that into an edit list)."""
        clock = clock_of(self.clocks, kind + " encoded", packet.stream, packet)
        if (clock.num, clock.den) != (1, TICKS):
            scale = clock.to_file
            packet.dts = None if packet.dts is None else round(packet.dts * scale)
            packet.pts = None if packet.pts is None else round(packet.pts * scale)
            packet.time_base = TIME_BASE
        self.container.mux_one(packet)
        duration = packet.duration / TICKS if packet.duration else 0.0
        self._count(packet.dts if packet.dts is not None else packet.pts or 0, duration)

    def _count(self, dts: int, duration_s: float) -> None:
        self.packets += 1
        self.timeline.extend(dts / TICKS + duration_s)

    def flush_audio(self) -> None:
        if self._aac is not None and self.audio_out is not None and self.container is not None:
            for out in self._aac.flush(self.audio_out):
                self.mux_encoded(out, "audio")
