"""Reading recorded files back for the GUI, with PyAV (the station's one media stack): a
thumbnail from the first keyframe, and `VideoReader`, the frame-by-frame reader behind the
player. Plain Python, no Qt: the player runs it on a worker thread of its own.

A file still being recorded is a fragmented MP4 that grows. Its demuxer simply ends where
the last written fragment ends, so `VideoReader` in live mode reopens the file when it has
grown and carries on after the last frame it gave out.

A record of another station of the site is read from its owner over HTTP (`RemoteFile`), by
Python (`RangeReader`), not by FFmpeg's HTTP client: each range request is asked through the
site client (app.site.client, which alone knows the owner's route and headers), signed for that
owner alone, and follows no redirect (FFmpeg's would re-send its headers to wherever a redirect
pointed). Seeks become `Range` requests, so nothing is copied whole. Such a file is read as it
is when opened (a recording on the owner plays up to where it was then).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np



def single_threaded(stream) -> None:
    """Decode on the calling thread only. FFmpeg's own decoder threads may log while a
    close joins them, and PyAV's log callback needs the GIL the closing thread holds: a
    deadlock (PyAV issues #909, #751). One thread decodes a camera's 1080p25 in real time."""
    stream.codec_context.thread_count = 1


Fetch = Callable[[str | None], Any]  # a `Range` value (None: all) -> an open HTTP answer


@dataclass(frozen=True)
class RemoteFile:
    """A file read over HTTP from its owner: its URL (shown, compared) and `fetch`, which asks
    the owner for a range of it (through the site client, `SiteClient.record_file`: signed
    for that station alone, its address checked, no redirect followed). `location`: the file's path on its owner's disk, what
    `str()` gives, so that a player that goes on into a queued remote file names it as it
    names a local one."""

    url: str
    fetch: Fetch = field(repr=False, compare=False)
    location: str = ""

    def __str__(self) -> str:
        return self.location or self.url

    def open(self):
        return av.open(RangeReader(self.fetch), mode="r")


class RangeReader:
    """A seekable file of PyAV's over HTTP range requests made by Python, not by FFmpeg: each
    request is signed anew (a station's signature is good once) and none follows a redirect,
    which FFmpeg's HTTP client would do with the same headers. Reads stream one answer from
    the position; a seek elsewhere closes it and the next read asks from there."""

    def __init__(self, fetch: Fetch):
        self._fetch = fetch
        self._pos = 0
        self._size: int | None = None
        self._answer = None

    def _open(self) -> None:
        answer = self._fetch(f"bytes={self._pos}-")
        if answer.status == 206:
            total = answer.headers.get("Content-Range", "").rpartition("/")[2]
            self._size = int(total) if total.isdigit() else self._size
        elif self._pos:
            answer.close()
            raise OSError("the owner does not serve ranges of the file")
        else:
            length = answer.headers.get("Content-Length", "")
            self._size = int(length) if length.isdigit() else None
        self._answer = answer

    def read(self, size: int = -1) -> bytes:
        if self._size is not None and self._pos >= self._size:
            return b""
        if self._answer is None:
            self._open()
        data = self._answer.read(size if size >= 0 else None)
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_CUR:
            offset += self._pos
        elif whence == os.SEEK_END:
            if self._size is None:
                self._open()
            offset += self._size or 0
        if offset != self._pos:
            self._close_answer()
            self._pos = max(0, offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def _close_answer(self) -> None:
        if self._answer is not None:
            self._answer.close()
            self._answer = None

    def close(self) -> None:
        self._close_answer()


MediaTarget = str | Path | RemoteFile


def open_media(target: MediaTarget):
    """A PyAV container of a local file or of a `RemoteFile`."""
    return target.open() if isinstance(target, RemoteFile) else av.open(str(target))


# Frames are handed to the GUI no larger than this: enough for a full-screen player, and it
# keeps a 1080p file from costing 6 MB per frame on its way to the screen.
MAX_FRAME = (1280, 720)


@dataclass
class DecodedFrame:
    """One picture ready to draw: RGB pixels, its time in the file, whether it is a keyframe."""

    rgb: np.ndarray
    time: float
    key: bool
    index: int  # the frame's number at the stream's nominal rate (time × fps, rounded)


def fit(width: int, height: int, box: tuple[int, int]) -> tuple[int, int]:
    """`width`×`height` scaled down (never up) into `box`, aspect kept, even numbers."""
    scale = min(1.0, box[0] / max(1, width), box[1] / max(1, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def first_keyframe(path: MediaTarget, box: tuple[int, int] = (160, 90)) -> np.ndarray | None:
    """The first keyframe of the file's video as RGB, scaled into `box`; None when the file
    has no decodable picture (yet: a recording may not have written its first fragment)."""
    try:
        if not isinstance(path, RemoteFile) and os.path.getsize(path) < 1024:
            return None  # a recording that has not written its first fragment yet
        with open_media(path) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            single_threaded(stream)
            stream.codec_context.skip_frame = "NONKEY"
            for frame in container.decode(stream):
                width, height = fit(frame.width, frame.height, box)
                return np.ascontiguousarray(
                    frame.to_ndarray(format="rgb24", width=width, height=height))
    except (av.FFmpegError, OSError, ValueError):
        return None
    return None


class VideoReader:
    """Sequential frames of one file, seeking by keyframe. Not thread-safe: one owner."""

    def __init__(self, path: MediaTarget, *, live: bool = False, box: tuple[int, int] = MAX_FRAME):
        self.remote = path if isinstance(path, RemoteFile) else None
        self.path = Path(path) if self.remote is None else None
        self.live, self.box = live and self.remote is None, box
        self.last_time: float | None = None  # time of the last frame handed out
        self._size_at_open = 0
        self._container = None
        self._held = None  # a frame decoded past `frame_at`'s target: the next one out
        self._open()
        stream = self._stream
        rate = stream.average_rate or stream.guessed_rate or 25
        self.fps = float(rate)
        self.width, self.height = stream.codec_context.width, stream.codec_context.height
        self.duration = self._probe_duration()

    # --- opening -------------------------------------------------------------------
    def _open(self) -> None:
        self.close()
        if self.remote is None:
            self._size_at_open = self.path.stat().st_size
        self._container = open_media(self.remote or self.path)
        if not self._container.streams.video:
            self.close()
            raise ValueError(f"{self.path.name if self.path else 'the file'} has no video")
        self._stream = self._container.streams.video[0]
        single_threaded(self._stream)
        self._frames = self._container.decode(self._stream)

    def _probe_duration(self) -> float:
        container, stream = self._container, self._stream
        if container.duration:
            return container.duration / 1_000_000
        if stream.duration:
            return float(stream.duration * stream.time_base)
        return 0.0

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    # --- reading -------------------------------------------------------------------
    def grown(self) -> bool:
        """True when the file holds more than when it was last opened (a live recording)."""
        if self.remote is not None:
            return False
        try:
            return self.path.stat().st_size > self._size_at_open
        except OSError:
            return False

    def next(self) -> DecodedFrame | None:
        """The next frame, or None at the end (of what is written so far, when live)."""
        frame, self._held = (self._held if self._held is not None else self._decode_next()), None
        if frame is None and self.grown():  # written on since: live, or just finished
            frame = self._reopen_after(self.last_time)
        if frame is None:
            return None
        return self._deliver(frame)

    def seek(self, seconds: float) -> DecodedFrame | None:
        """Jump to the keyframe at or before `seconds` and return it."""
        frame = self._seek_raw(seconds)
        return self._deliver(frame) if frame is not None else None

    def peek_time(self) -> float | None:
        """The time of the next frame, decoded but not yet converted (None at the end of
        what is written): a caller that will not show it `drop()`s it for nothing."""
        if self._held is None:
            self._held = self._decode_next()
        return None if self._held is None else self._time_of(self._held)

    def drop(self) -> None:
        """Pass over the frame `peek_time` decoded."""
        if self._held is not None:
            self.last_time, self._held = self._time_of(self._held), None

    def frame_at(self, seconds: float) -> DecodedFrame | None:
        """The last frame at or before `seconds` (decoded on from the keyframe before it;
        only that one is converted to RGB); `next()` goes on after it. Synchronised
        playback lands every tile on one instant with this."""
        tolerance = 0.001
        best = self._seek_raw(seconds)
        while best is not None:
            raw = self._decode_next()
            if raw is None:
                break
            if self._time_of(raw) > seconds + tolerance:
                self._held = raw
                break
            best = raw
        return self._deliver(best) if best is not None else None

    def _seek_raw(self, seconds: float):
        self._held = None
        seconds = max(0.0, seconds)
        if self.live and self.grown():
            self._open()
        target = int(seconds / self._stream.time_base) + (self._stream.start_time or 0)
        try:
            self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
        except av.FFmpegError:
            self._container.seek(0, stream=self._stream, backward=True, any_frame=False)
        self._frames = self._container.decode(self._stream)
        return self._decode_next()

    def _decode_next(self):
        try:
            return next(self._frames)
        except (StopIteration, av.EOFError):
            return None
        except av.FFmpegError:
            # A live file read exactly where the writer is: the fragment is incomplete.
            if self.live:
                return None
            raise

    def _reopen_after(self, last: float | None):
        """Reopen the grown file and skip to the first frame after `last`."""
        for _attempt in range(3):
            try:
                self._open()
                if last is not None:
                    start = self._stream.start_time or 0
                    target = int(last / self._stream.time_base) + start
                    self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
                    self._frames = self._container.decode(self._stream)
                while (frame := self._decode_next()) is not None:
                    if last is None or self._time_of(frame) > last + 1e-6:
                        return frame
                return None
            except (av.FFmpegError, OSError):
                time.sleep(0.05)  # the writer is between two writes: try again
        return None

    def _time_of(self, frame) -> float:
        start = self._stream.start_time or 0
        pts = frame.pts if frame.pts is not None else start
        return float((pts - start) * self._stream.time_base)

    def _deliver(self, frame) -> DecodedFrame:
        seconds = self._time_of(frame)
        self.last_time = seconds
        self.duration = max(self.duration, seconds + 1 / self.fps)
        width, height = fit(frame.width, frame.height, self.box)
        rgb = np.ascontiguousarray(frame.to_ndarray(format="rgb24", width=width, height=height))
        return DecodedFrame(rgb, seconds, bool(frame.key_frame), round(seconds * self.fps))


# The PCM synchronised playback hands the sound card: 16-bit, interleaved stereo, 48 kHz.
PCM_RATE, PCM_CHANNELS, PCM_BYTES = 48000, 2, 2


@dataclass
class PcmChunk:
    """Decoded sound from `time` (seconds into the file) on, as PCM_* bytes."""

    time: float
    data: bytes

    @property
    def seconds(self) -> float:
        return len(self.data) / (PCM_RATE * PCM_CHANNELS * PCM_BYTES)


class AudioReader:
    """The file's sound track (the recorder's AAC) decoded and resampled to PCM, from any
    instant on. Not thread-safe: one owner (synchronised playback's audio worker)."""

    def __init__(self, path: MediaTarget):
        self._container = open_media(path)
        if not self._container.streams.audio:
            self._container.close()
            raise ValueError("the file has no sound")
        self._stream = self._container.streams.audio[0]
        self._resampler = av.AudioResampler(format="s16", layout="stereo", rate=PCM_RATE)
        self._frames = self._container.decode(self._stream)
        self._skip_to = 0.0

    def seek(self, seconds: float) -> None:
        """Go to `seconds` into the file: chunks start there (the part of the first decoded
        frame before it is cut off)."""
        stream = self._stream
        target = int(max(0.0, seconds) / stream.time_base) + (stream.start_time or 0)
        self._container.seek(target, stream=stream, backward=True, any_frame=False)
        self._resampler = av.AudioResampler(format="s16", layout="stereo", rate=PCM_RATE)
        self._frames = self._container.decode(stream)
        self._skip_to = max(0.0, seconds)

    def next(self) -> PcmChunk | None:
        """The next chunk of sound, or None at the end of the track."""
        while True:
            try:
                frame = next(self._frames)
            except (StopIteration, av.EOFError):
                return None
            start = self._stream.start_time or 0
            time_s = float(((frame.pts or start) - start) * self._stream.time_base)
            data = b"".join(bytes(out.planes[0])[:out.samples * PCM_CHANNELS * PCM_BYTES]
                            for out in self._resampler.resample(frame))
            if not data:
                continue
            chunk = PcmChunk(time_s, data)
            if time_s + chunk.seconds <= self._skip_to:
                continue  # before the instant asked for
            if time_s < self._skip_to:
                cut = int((self._skip_to - time_s) * PCM_RATE) * PCM_CHANNELS * PCM_BYTES
                chunk = PcmChunk(self._skip_to, data[cut:])
            return chunk

    def close(self) -> None:
        self._container.close()
