"""Audio that MP4 cannot hold (G.711 from most IP cameras, for example) becomes AAC.

Audio is cheap next to video (8 kHz mono G.711 is 64 kbit/s), so this runs inline on the
thread that writes the file. Timestamps come from the file's timeline: the first sample of
each camera session lands where the timeline puts its packet, later samples follow on.
"""

from __future__ import annotations

from fractions import Fraction

import av

MP4_AUDIO = {"aac", "mp3", "alac", "opus", "flac"}
AAC_FRAME = 1024


def needs_transcode(stream: av.audio.stream.AudioStream) -> bool:
    return stream.codec_context.name not in MP4_AUDIO


class AacTranscoder:
    """Decodes one input audio stream and encodes it to AAC on `out` (an AAC output stream
    created by `add_output`)."""

    def __init__(self, template: av.audio.stream.AudioStream):
        src = template.codec_context
        self.rate = src.sample_rate or 8000
        self.layout = src.layout.name if src.layout and src.layout.nb_channels else "mono"
        self._decoder = av.CodecContext.create(src.name, "r")
        self._decoder.sample_rate = self.rate
        self._decoder.layout = self.layout
        if src.extradata:
            self._decoder.extradata = src.extradata
        self._resampler = av.AudioResampler(format="fltp", layout=self.layout, rate=self.rate,
                                            frame_size=AAC_FRAME)
        self._next_pts: int | None = None  # in samples, the file's audio clock

    def add_output(self, container: av.container.OutputContainer,
                   bitrate: str | None = None) -> av.audio.stream.AudioStream:
        out = container.add_stream("aac", rate=self.rate)
        out.codec_context.layout = self.layout
        out.codec_context.bit_rate = _bits(bitrate) if bitrate else 64000 * out.codec_context.channels
        return out

    def encode(self, data: bytes, file_seconds: float, new_session: bool,
               out: av.audio.stream.AudioStream) -> list[av.Packet]:
        """Packets for `out` from one input packet placed at `file_seconds` in the file."""
        # Follow the file's clock: a new camera session, or audio dropped for a while (muted),
        # moves the samples to where the timeline puts them; jitter below 200 ms does not.
        expected = round(file_seconds * self.rate)
        if self._next_pts is None or new_session or expected - self._next_pts > self.rate // 5:
            self._next_pts = max(expected, self._next_pts or 0)
        packet = av.Packet(data)
        packet.time_base = Fraction(1, self.rate)
        packets: list[av.Packet] = []
        try:
            frames = self._decoder.decode(packet)
        except av.FFmpegError:
            return packets  # a damaged audio packet costs its few milliseconds, not the file
        for frame in frames:
            for chunk in self._resampler.resample(frame):
                chunk.pts, chunk.time_base = self._next_pts, Fraction(1, self.rate)
                self._next_pts += chunk.samples
                packets.extend(out.encode(chunk))
        return packets

    def flush(self, out: av.audio.stream.AudioStream) -> list[av.Packet]:
        packets: list[av.Packet] = []
        for chunk in self._resampler.resample(None):
            chunk.pts, chunk.time_base = self._next_pts or 0, Fraction(1, self.rate)
            packets.extend(out.encode(chunk))
        packets.extend(out.encode(None))
        return packets


def _bits(text: str) -> int:
    scale = {"k": 1000, "m": 1000_000, "g": 1000_000_000}.get(text[-1].lower(), 1)
    return int(float(text[:-1] if scale != 1 else text) * scale)
