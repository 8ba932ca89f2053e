"""One recording file: packets copied as they are (no decode, no encode) into an MP4 written
with `movflags=hybrid_fragmented`, so that a file cut short by a crash still plays and a
closed one is an ordinary MP4.

Timestamps are rewritten on the way in: the file starts at zero, every stream's DTS only
grows, and after a reconnect the new session is placed at its wall-clock position, so a gap
in the camera shows up as a gap in the file instead of being squeezed out.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

log = logging.getLogger(__name__)
TIME_BASE = Fraction(1, 90000)
MP4_AUDIO = {"aac", "mp3", "alac", "opus", "flac"}


@dataclass
class RecordingResult:
    """What a closed recording amounts to: everything the catalog stores about its file."""

    path: Path
    begin_wall: float | None
    end_wall: float | None
    duration_s: float
    size_bytes: int
    md5: str | None
    packets: int
    error: str | None = None
    gaps: list[tuple[float, float]] = field(default_factory=list)


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Mp4Recording:
    """Owned by one reader thread at a time; `close()` may come from any thread once the
    reader has let go of it (the worker guarantees that)."""

    def __init__(self, path: Path, *, record_audio: bool = True):
        self.path = path
        self.record_audio = record_audio
        self.container: av.container.OutputContainer | None = None
        self._out: dict[str, av.stream.Stream] = {}
        self._session: object = None
        self._offset_s = 0.0          # added to input seconds to get file seconds
        self._last_dts: dict[str, int] = {}
        self._first_wall: float | None = None
        self._last_wall: float | None = None
        self._max_end_s = 0.0
        self.packets = 0
        self.error: str | None = None
        self.gaps: list[tuple[float, float]] = []

    @property
    def started(self) -> bool:
        return self.container is not None

    def _open(self, video: av.stream.Stream, audio: av.stream.Stream | None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # flush_packets: each packet reaches the OS at once, so a killed process leaves
        # every fragment written so far on disk, not in a userspace buffer.
        self.container = av.open(str(self.path), "w", format="mp4",
                                 options={"movflags": "hybrid_fragmented", "flush_packets": "1"})
        self._out["video"] = self.container.add_stream_from_template(video)
        self._out["video"].time_base = TIME_BASE
        if audio is not None and self.record_audio and audio.codec_context.name in MP4_AUDIO:
            self._out["audio"] = self.container.add_stream_from_template(audio)

    def write(self, packet: av.Packet, wall: float, session: object,
              video: av.stream.Stream, audio: av.stream.Stream | None) -> None:
        """Mux one input packet. The packet object is restored afterwards, because the same
        packet also goes to other recordings and the pre-roll buffer."""
        kind = "video" if packet.stream is video else "audio"
        if self.container is None:
            if kind != "video" or not packet.is_keyframe:
                return  # a file starts at a keyframe
            self._open(video, audio)
        out = self._out.get(kind)
        if out is None:
            return
        seconds = _packet_seconds(packet)
        if seconds is None:
            seconds = wall - (self._first_wall or wall)
            seconds -= self._offset_s
        if session is not self._session:
            self._start_session(session, seconds, wall)
        dts_s = seconds + self._offset_s
        pts_delta = 0
        if packet.pts is not None and packet.dts is not None:
            pts_delta = round((packet.pts - packet.dts) * packet.time_base / TIME_BASE)
        dts = max(round(dts_s / TIME_BASE), self._last_dts.get(kind, -1) + 1)
        self._last_dts[kind] = dts
        saved = (packet.pts, packet.dts, packet.time_base, packet.stream)
        try:
            packet.time_base = TIME_BASE
            packet.dts = dts
            packet.pts = dts + max(0, pts_delta)
            packet.stream = out
            self.container.mux_one(packet)
        finally:
            packet.pts, packet.dts, packet.time_base, packet.stream = saved
        self.packets += 1
        self._last_wall = wall
        duration = float(packet.duration * packet.time_base) if packet.duration and packet.time_base else 0.0
        self._max_end_s = max(self._max_end_s, dts * TIME_BASE + duration)

    def _start_session(self, session: object, seconds: float, wall: float) -> None:
        if self._session is None:
            self._offset_s = -seconds
            self._first_wall = wall
        else:
            # A reconnect: place the new session where the wall clock says it belongs.
            file_pos = wall - (self._first_wall or wall)
            previous_end = self._max_end_s
            self._offset_s = max(file_pos, previous_end) - seconds
            if file_pos - previous_end > 0.5:
                self.gaps.append((round(previous_end, 3), round(file_pos, 3)))
        self._session = session

    def close(self) -> RecordingResult:
        """Finalize the file (a normal MP4 from here on) and measure it."""
        if self.container is not None:
            try:
                self.container.close()
            except (av.FFmpegError, OSError) as exc:
                self.error = self.error or f"closing the file failed: {exc}"
        exists = self.path.exists()
        if not exists and self.error is None:
            self.error = "no video was received from the source"
        size = self.path.stat().st_size if exists else 0
        first = self._first_wall
        duration = float(self._max_end_s)
        return RecordingResult(
            path=self.path, begin_wall=first,
            end_wall=(first + duration) if first is not None else None,
            duration_s=round(duration, 3), size_bytes=size,
            md5=file_md5(self.path) if exists else None, packets=self.packets,
            error=self.error, gaps=list(self.gaps),
        )


def _packet_seconds(packet: av.Packet) -> float | None:
    ts = packet.dts if packet.dts is not None else packet.pts
    if ts is None or not packet.time_base:
        return None
    return float(ts * packet.time_base)


def free_bytes(path: Path) -> int:
    path.mkdir(parents=True, exist_ok=True)
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize



def probe_duration(path: Path) -> float | None:
    """Duration of a file on disk, also of one cut short by a crash (fragments are read)."""
    try:
        with av.open(str(path)) as container:
            if container.duration:
                return round(container.duration / 1_000_000, 3)
            stream = container.streams.video[0]
            last = None
            for packet in container.demux(stream):
                if packet.pts is not None:
                    last = packet.pts
            return round(float(last * stream.time_base), 3) if last is not None else None
    except (av.FFmpegError, OSError, IndexError):
        return None
