"""Frames for people: a latest-frame slot per source and the decoder thread that fills it.

The reader never waits for a viewer. It offers packets to the decoder's short queue; when the
queue is full the decoder skips ahead to the next keyframe (a slow consumer loses frames, the
recording never loses packets). What gets decoded follows demand: nothing while nobody
watches, keyframes only for tiles in a grid, every frame for a focused view.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from enum import IntEnum

import av
import numpy as np

from recorder.imaging import encode_jpeg

log = logging.getLogger(__name__)
MAX_FRAME_WIDTH = 1280  # frames for display are scaled down to this width at most


class Demand(IntEnum):
    NONE = 0
    KEYFRAMES = 1
    ALL = 2


@dataclass(frozen=True)
class Frame:
    """A decoded picture, the time it was received, a sequence number.

    `pixels` is what the producer made: BGRX (height x width x 4, the byte order of Qt's
    RGB32, which a tile paints without converting: the decoder's output) or RGB24 (height x
    width x 3: snapshots, pictures from another station). `rgb` is always RGB24, made from
    BGRX once, when first asked (a JPEG, a probe), never for a tile."""

    seq: int
    pixels: np.ndarray
    wall_time: float

    @cached_property
    def rgb(self) -> np.ndarray:
        pixels = self.pixels
        return pixels if pixels.shape[2] == 3 else np.ascontiguousarray(pixels[..., 2::-1])

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]


def _convert(frame: av.VideoFrame, pix_fmt: str) -> np.ndarray:
    """The picture in `pix_fmt`, scaled down to `MAX_FRAME_WIDTH` in the same pass."""
    if frame.width > MAX_FRAME_WIDTH:
        height = round(frame.height * MAX_FRAME_WIDTH / frame.width / 2) * 2
        return frame.reformat(width=MAX_FRAME_WIDTH, height=height, format=pix_fmt).to_ndarray()
    return frame.to_ndarray(format=pix_fmt)


def frame_to_rgb(frame: av.VideoFrame) -> np.ndarray:
    return _convert(frame, "rgb24")


def frame_to_pixels(frame: av.VideoFrame) -> np.ndarray:
    """BGRX for display: the decoder's output, painted by a tile as it is (Qt's RGB32);
    RGB24 would cost Qt a conversion of every picture it draws."""
    return _convert(frame, "bgra")


class FrameSlot:
    """Holds the newest frame; readers pull it when they want (a tile on a timer, an MJPEG
    stream at its own pace). The JPEG of a frame is encoded once, whoever asks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._encode_lock = threading.Lock()
        self._frame: Frame | None = None
        self._jpeg: tuple[int, bytes] | None = None
        self.encodes = 0  # JPEG encodes so far: at most one per frame, however many viewers
        self._seq = itertools.count(1)
        self._watchers: dict[int, Demand] = {}
        self._tokens = itertools.count(1)
        self.updated = threading.Condition(self._lock)

    # --- producer side -------------------------------------------------------------
    def put(self, pixels: np.ndarray, wall_time: float | None = None) -> Frame:
        """`pixels`: BGRX or RGB24 (see `Frame`)."""
        frame = Frame(next(self._seq), pixels, wall_time or time.time())
        with self._lock:
            self._frame = frame
            self.updated.notify_all()
        return frame

    # --- consumer side -------------------------------------------------------------
    def latest(self) -> Frame | None:
        return self._frame

    def jpeg(self) -> tuple[int, bytes] | None:
        """(seq, JPEG bytes) of the latest frame, encoded at most once per frame: viewers
        asking at the same moment wait for the one encode instead of doing their own."""
        frame = self._frame
        if frame is None:
            return None
        cached = self._jpeg
        if cached is not None and cached[0] == frame.seq:
            return cached
        with self._encode_lock:
            frame = self._frame
            cached = self._jpeg
            if cached is not None and cached[0] >= frame.seq:
                return cached
            encoded = (frame.seq, encode_jpeg(frame.pixels))
            self._jpeg = encoded
            self.encodes += 1
            return encoded

    def ready_jpeg(self) -> tuple[int, bytes] | None:
        """The JPEG of the latest frame if it is already encoded; never encodes (cheap enough
        for an event loop)."""
        frame, cached = self._frame, self._jpeg
        return cached if frame is not None and cached is not None and cached[0] == frame.seq else None

    def wait_newer(self, seq: int, timeout: float) -> Frame | None:
        with self._lock:
            self.updated.wait_for(lambda: self._frame is not None and self._frame.seq > seq, timeout)
            return self._frame

    def watch(self, demand: Demand) -> int:
        """Register interest; the returned token is handed back to `unwatch`."""
        token = next(self._tokens)
        with self._lock:
            self._watchers[token] = demand
        return token

    def change(self, token: int, demand: Demand) -> None:
        with self._lock:
            if token in self._watchers:
                self._watchers[token] = demand

    def unwatch(self, token: int) -> None:
        with self._lock:
            self._watchers.pop(token, None)

    @property
    def demand(self) -> Demand:
        watchers = self._watchers
        return max(watchers.values(), default=Demand.NONE)


class Decoder(threading.Thread):
    """Decodes the packets the reader offers into the slot, in its own thread."""

    QUEUE_LIMIT = 8

    def __init__(self, name: str, slot: FrameSlot, *, slice_threads: bool = True):
        super().__init__(name=f"decode-{name}", daemon=True)
        self.slot = slot
        self._slice_threads = slice_threads
        self._queue: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._need_keyframe = True
        self._primed = False  # the newest keyframe was handed over by prime() already
        self._codec: tuple[str, bytes | None] | None = None
        self._context: av.CodecContext | None = None
        self.decoded = 0

    def offer(self, packet: av.Packet, codec_name: str, extradata: bytes | None,
              wall: float, hold: float = 0.0,
              newest_group: Callable[[bool], list[tuple[bytes, float]]] | None = None) -> None:
        """Called by the reader for each video packet; never blocks. `wall` is when the
        packet arrived; an input that hands packets over in batches says by how much it
        is late (`hold`), and each frame is shown `hold` after its arrival: evenly paced,
        as the camera sent them, not in bursts a tile would see only the last of.

        `newest_group(follow)` gives the packets the reader already holds from the newest
        keyframe up to this one (without it): the keyframe alone, or with `follow` all of
        them. A viewer who arrives between keyframes is primed with them at once (`_prime`)
        rather than made to wait up to a GOP for the next keyframe."""
        demand = self.slot.demand
        keyframe = packet.is_keyframe
        if demand is Demand.NONE:
            self._need_keyframe, self._primed = True, False
            return
        if not keyframe and self._need_keyframe and not self._primed and newest_group is not None:
            follow = demand is Demand.ALL
            self._prime(newest_group(follow), codec_name, extradata, follow)
        if not keyframe and (demand is Demand.KEYFRAMES or self._need_keyframe):
            return
        with self._cond:
            if len(self._queue) >= self.QUEUE_LIMIT:
                self._queue.clear()  # too slow: lose frames, restart at a keyframe
                self._need_keyframe = True
                if not keyframe:
                    return
            self._need_keyframe = self._primed = False
            self._queue.append(([bytes(packet)], codec_name, extradata, wall, wall + hold))
            self._cond.notify()

    def _prime(self, group: list[tuple[bytes, float]], codec_name: str, extradata: bytes | None,
               follow: bool) -> None:
        """Decode the newest keyframe group now: a tile opened between keyframes shows a
        picture at once, not seconds later. The group is decoded in one go and shown as its
        last picture. With `follow` (a focused view) the stream goes on from the next packet
        without a pause; without (a grid tile: keyframes only) it is the keyframe alone."""
        if not group:
            return
        with self._cond:
            self._primed = True
            if follow:
                self._need_keyframe = False
            self._queue.append(([data for data, _ in group], codec_name, extradata,
                                group[-1][1], group[-1][1]))
            self._cond.notify()

    def stop(self) -> None:
        self._stopping.set()
        with self._cond:
            self._cond.notify()

    def run(self) -> None:
        while not self._stopping.is_set():
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._stopping.is_set(), timeout=1.0)
                if not self._queue:
                    continue
                packets, codec_name, extradata, wall, show_at = self._queue.popleft()
            try:
                for data in packets:  # one packet, or a primed group shown as its last picture
                    frames = self._decode(data, codec_name, extradata)
                delay = show_at - time.time()
                if frames and 0 < delay < 1.0:
                    self._stopping.wait(delay)
                for frame in frames:
                    self.slot.put(frame_to_pixels(frame), wall)
                    self.decoded += 1
            except (av.FFmpegError, ValueError) as exc:
                log.debug("%s: decode error %s", self.name, exc)
                self._context = None

    def _decode(self, data: bytes, codec_name: str, extradata: bytes | None) -> list[av.VideoFrame]:
        if self._context is None or self._codec != (codec_name, extradata):
            self._context = make_decoder(codec_name, extradata, self._slice_threads)
            self._codec = (codec_name, extradata)
        return self._context.decode(av.Packet(data))


def make_decoder(codec_name: str, extradata: bytes | None,
                 slice_threads: bool = True) -> av.CodecContext:
    """A decoder for display. Frame threading would hold pictures back by N packets, so a
    big picture gets slice threads; a small one (a preview stream, decoded for 16 tiles at
    once) none: waking helper threads 400 times a second costs more than they give."""
    context = av.CodecContext.create(codec_name, "r")
    if extradata:
        context.extradata = extradata
    if slice_threads:
        context.thread_type = "SLICE"
    else:
        context.thread_type, context.thread_count = "NONE", 1
    return context


def decode_keyframe(data: bytes, codec_name: str, extradata: bytes | None) -> np.ndarray | None:
    """Decode one keyframe on the caller's thread (a snapshot when nobody is watching)."""
    context = make_decoder(codec_name, extradata, slice_threads=False)
    frames = list(context.decode(av.Packet(data)))
    frames += list(context.decode(None))
    return frame_to_rgb(frames[0]) if frames else None
