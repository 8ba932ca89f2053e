"""Recording files. `Mp4Recording` copies packets as they are (no decode, no encode) into an
MP4 written with `movflags=hybrid_fragmented`, so a file cut short by a crash still plays and
a closed one is an ordinary MP4. Audio MP4 cannot hold is transcoded to AAC on the way
(`recorder.mux`), and timestamps follow `recorder.timeline`: the file starts at zero, every
stream's DTS only grows, and a camera drop shows up as a gap in the file. `Mp4Output` is the
part shared with the re-encoding path (`recorder.transcode`): the file and its result.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import av

from recorder.encoding import COPY, EncodeProfile
from recorder.hybrid_head import restore_fragmented_head
from recorder.mux import MuxOutput
from recorder.timeline import clock_of

log = logging.getLogger(__name__)
FRAGMENT_S = 0.3  # the most a killed process loses of a file, plus the reader's batch


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
    dropped: int = 0  # packets a re-encoding path could not keep up with (logged, never silent)


def fsync_path(path: Path) -> None:
    """Push a file's written data to the disk. Any descriptor of the file does it (Linux syncs
    the inode), so the muxer's own, which PyAV does not expose, is not needed."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Mp4Output(MuxOutput):
    """A recording file: MP4 with `movflags=hybrid_fragmented`."""

    def __init__(self, path: Path, profile: EncodeProfile = COPY):
        super().__init__(profile)
        self.path = path

    def open_container(self) -> av.container.OutputContainer:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # flush_packets: each packet reaches the OS at once, so a killed process leaves
        # every fragment written so far on disk, not in a userspace buffer. frag_duration:
        # a fragment is written at least every FRAGMENT_S, not only at keyframes (a camera
        # with a 2 s GOP lost up to 2 s to a SIGKILL; 0.5 s fragments lost up to 1.02 s on a
        # loaded CI machine; 0.3 s: +0.26 % file size at 1 Mbit/s, 0.5 s was +0.15 %).
        self.container = av.open(str(self.path), "w", format="mp4",
                                 options={"movflags": "hybrid_fragmented", "flush_packets": "1",
                                          "frag_duration": str(round(FRAGMENT_S * 1e6))})
        return self.container

    def close(self, sync: bool = False) -> RecordingResult:
        """Finalize the file (a normal MP4 from here on) and measure it; `sync`: fsync it
        first, so the MD5 the catalog stores is of what survives a power loss."""
        if self.container is not None:
            try:
                if self.error is None:
                    self.flush_audio()
                self.container.close()
            except (av.FFmpegError, OSError) as exc:
                self.error = self.error or f"closing the file failed: {exc}"
        exists = self.path.exists()
        if exists:
            restore_fragmented_head(self.path)  # a finish the disk refused: still plays
        if exists and sync:
            try:
                fsync_path(self.path)
            except OSError as exc:
                log.warning("%s: fsync failed: %s", self.path.name, exc)
        if not exists and self.error is None:
            self.error = "no video was received from the source"
        first = self.timeline.first_wall
        duration = float(self.timeline.end_s)
        return RecordingResult(
            path=self.path, begin_wall=first,
            end_wall=(first + duration) if first is not None else None,
            duration_s=round(duration, 3), size_bytes=self.path.stat().st_size if exists else 0,
            md5=file_md5(self.path) if exists else None, packets=self.packets,
            error=self.error, gaps=list(self.timeline.gaps), dropped=self.dropped,
        )


class Mp4Recording(Mp4Output):
    """Stream copy. Owned by one reader thread at a time; `close()` may come from any thread
    once the reader has let go of it (the worker guarantees that)."""

    @property
    def started(self) -> bool:
        return self.container is not None

    def write(self, packet: av.Packet, wall: float, session: object, source) -> None:
        """Mux one packet of `source` (a `PacketInput`) read at wall time `wall`."""
        self.write_copy(packet, wall, session, source)

    def file_time(self, packet: av.Packet, wall: float, session: object) -> float:
        """Where this packet would land in the file (asked at keyframes, for rotation)."""
        clock = clock_of(self.clocks, "video", packet.stream, packet)
        return self.timeline.position(clock.timing(packet)[0], wall, session)


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
