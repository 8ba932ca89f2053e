"""What every output of a source shares, whatever the container: the timeline (file time
from camera time), strictly rising DTS per stream, and the audio track: copied when the
container can hold it, transcoded to AAC otherwise, or dropped when the profile says so.

Subclasses open the container (`Mp4Output` for recordings, `FlvOutput` for live forwards)
and decide what a closed output amounts to.
"""

from __future__ import annotations

import av

from recorder.audio import AacTranscoder, needs_transcode
from recorder.encoding import COPY, EncodeProfile
from recorder.timeline import TIME_BASE, MonotonicDts, Timeline, packet_seconds, pts_offset


class MuxOutput:
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

    @property
    def gaps(self) -> list[tuple[float, float]]:
        return self.timeline.gaps

    def open_container(self) -> av.container.OutputContainer:
        raise NotImplementedError

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
            seconds = self.timeline.place(packet_seconds(packet), wall, session)
            self.mux_copy(packet, "video", self.video_out, seconds)
        else:
            self.write_audio(packet, wall, session)

    def add_audio(self, audio: av.audio.stream.AudioStream | None) -> None:
        if audio is None or not self.profile.keeps_audio:
            return
        if self.profile.audio == "copy" and not needs_transcode(audio):
            self.audio_out = self.container.add_stream_from_template(audio)
        else:
            self._aac = AacTranscoder(audio)
            self.audio_out = self._aac.add_output(self.container, self.profile.audio_bitrate)

    def write_audio(self, packet: av.Packet, wall: float, session: object) -> None:
        if self.audio_out is None:
            return
        seconds = self.timeline.place(packet_seconds(packet), wall, session)
        if self._aac is None:
            self.mux_copy(packet, "audio", self.audio_out, seconds)
            return
        new_session = session is not self._audio_session
        self._audio_session = session
        for out in self._aac.encode(bytes(packet), seconds, new_session, self.audio_out):
            self.mux_encoded(out, "audio")

    def mux_copy(self, packet: av.Packet, kind: str, out: av.stream.Stream, seconds: float) -> None:
        """Mux an input packet at `seconds` in the file. The packet object is restored
        afterwards: the same packet also goes to other recordings and the pre-roll buffer."""
        dts = self.dts(kind, seconds)
        delta = pts_offset(packet)
        saved = (packet.pts, packet.dts, packet.time_base, packet.stream)
        try:
            packet.time_base = TIME_BASE
            packet.dts = dts
            packet.pts = dts + delta
            packet.stream = out
            self.container.mux_one(packet)
        finally:
            packet.pts, packet.dts, packet.time_base, packet.stream = saved
        self._count(packet, dts)

    def mux_encoded(self, packet: av.Packet, kind: str) -> None:
        """Mux a packet an encoder made: its timestamps are file time already, and an
        encoder's output is monotonic (a B-frame encoder's first DTS may be negative; the
        muxer shifts that into an edit list)."""
        tb = packet.time_base
        if tb != TIME_BASE:
            packet.dts = None if packet.dts is None else round(packet.dts * tb / TIME_BASE)
            packet.pts = None if packet.pts is None else round(packet.pts * tb / TIME_BASE)
            packet.time_base = TIME_BASE
        self.container.mux_one(packet)
        self._count(packet, packet.dts if packet.dts is not None else packet.pts or 0)

    def _count(self, packet: av.Packet, dts: int) -> None:
        self.packets += 1
        duration = (float(packet.duration * packet.time_base)
                    if packet.duration and packet.time_base else 0.0)
        self.timeline.extend(float(dts * TIME_BASE) + duration)

    def flush_audio(self) -> None:
        if self._aac is not None and self.audio_out is not None and self.container is not None:
            for out in self._aac.flush(self.audio_out):
                self.mux_encoded(out, "audio")
