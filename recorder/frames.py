"""Frames for people: a latest-frame slot per source and the decoder thread that fills it.

The reader never waits for a viewer. It offers packets to the decoder's short queue; when the
queue is full the decoder skips ahead to the next keyframe (a slow consumer loses frames, the
recording never loses packets). What gets decoded follows demand: nothing while nobody
watches, keyframes only for tiles in a grid, every frame for a focused view; and, while
motion analysis listens (`Decoder.set_analysis`), what it needs (every picture of a preview
stream, a main stream's keyframes), of which it makes small grey pictures at the analysis
rate (recorder.analysis) and BGRX ones only when a viewer asks.

Pictures nobody sees are decoded without the deblocking loop filter (`skip_loop_filter`): the
analyser's 180-pixel grey picture cannot tell, and it is a sixth of an H.264 preview's decode
(measured on 640x360 10 fps: 0.63 ms a picture against 0.75). A viewer never gets such a
picture: the decoder reopens with the filter at a keyframe, primed with the newest group so
the viewer waits for none (`Decoder.offer`), and shows nothing decoded without it.
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
from av.video.reformatter import VideoReformatter

from recorder.analysis import AnalysisSlot, GreyMaker
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
    BGRX once, when first asked (a JPEG, a probe), never for a tile. While only tiles watch,
    the decoder makes pictures of the tiles' size (`FrameSlot.box`); `full_size` then says
    what size it would have made for anyone else."""

    seq: int
    pixels: np.ndarray
    wall_time: float
    full_size: tuple[int, int] | None = None  # (w, h) unshrunk, when made smaller for tiles

    @property
    def shrunk(self) -> bool:
        """Made smaller than display size for the tiles watching (not a picture to hand out)."""
        return self.full_size is not None and self.full_size != (self.width, self.height)

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


def display_size(width: int, height: int, box: tuple[int, int] | None = None) -> tuple[int, int]:
    """The size a picture is shown at: at most `MAX_FRAME_WIDTH` wide and, given a `box`
    (the tiles' size), fitted into it keeping its shape; never larger than it is, even."""
    scale = min(1.0, MAX_FRAME_WIDTH / width)
    if box is not None:
        scale = min(scale, box[0] / width, box[1] / height)
    if scale >= 1.0:
        return width, height
    return (max(2, int(width * scale + 1e-6) // 2 * 2),  # even (4:2:0), within the box
            max(2, int(height * scale + 1e-6) // 2 * 2))


def _convert(frame: av.VideoFrame, pix_fmt: str, reformatter: VideoReformatter | None = None,
             size: tuple[int, int] | None = None) -> np.ndarray:
    """The picture in `pix_fmt` at `size` (default: display size), scaled in the same pass.

    A decoder passes its own `reformatter`: it keeps one swscale context from picture to
    picture, where `frame.reformat` builds a new one each time (measured on 640x360: 0.09 ms
    a picture against 0.3 to 0.5, a tenth of a core for a wall of 16 previews)."""
    reformatter = reformatter or VideoReformatter()
    width, height = size or display_size(frame.width, frame.height)
    # rows padded for SIMD (a width like 446) come as a strided view: one buffer for Qt
    return np.ascontiguousarray(reformatter.reformat(
        frame, width=width, height=height, format=pix_fmt, interpolation="AREA").to_ndarray())


def frame_to_rgb(frame: av.VideoFrame) -> np.ndarray:
    return _convert(frame, "rgb24")


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
        self._watchers: dict[int, tuple[Demand, tuple[int, int] | None]] = {}
        self._demand = Demand.NONE  # the most any viewer asks for (`_update_demand`)
        self._tokens = itertools.count(1)
        self.updated = threading.Condition(self._lock)
        # called when a viewer starts watching or asks for more: the source's reader, which
        # reads in long batches while nobody watches, reads at once (`SourceWorker`)
        self.on_watch: Callable[[], None] | None = None

    # --- producer side -------------------------------------------------------------
    def put(self, pixels: np.ndarray, wall_time: float | None = None,
            full_size: tuple[int, int] | None = None) -> Frame:
        """`pixels`: BGRX or RGB24 (see `Frame`)."""
        frame = Frame(next(self._seq), pixels, wall_time or time.time(), full_size)
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

    def watch(self, demand: Demand, box: tuple[int, int] | None = None) -> int:
        """Register interest; the returned token is handed back to `unwatch`. `box`: the
        largest size the viewer shows pictures at (a tile), None: as they come."""
        token = next(self._tokens)
        with self._lock:
            self._watchers[token] = (demand, box)
            self._update_demand()
        self._watched(demand)
        return token

    def change(self, token: int, demand: Demand, box: tuple[int, int] | None = None) -> None:
        with self._lock:
            if token in self._watchers:
                self._watchers[token] = (demand, box)
                self._update_demand()
        self._watched(demand)

    def _watched(self, demand: Demand) -> None:
        on_watch = self.on_watch
        if on_watch is not None and demand is not Demand.NONE:
            on_watch()

    def unwatch(self, token: int) -> None:
        with self._lock:
            self._watchers.pop(token, None)
            self._update_demand()

    def _update_demand(self) -> None:
        """Work out `demand` when the viewers change (lock held), not each time it is read:
        the reader asks for every packet."""
        self._demand = max((demand for demand, _ in self._watchers.values()),
                           default=Demand.NONE)

    @property
    def demand(self) -> Demand:
        return self._demand

    @property
    def box(self) -> tuple[int, int] | None:
        """The size pictures are needed at: the largest box of the viewers asking for
        anything, or None (as they come) when one of them has no box or nobody asks."""
        boxes = [box for demand, box in list(self._watchers.values()) if demand is not Demand.NONE]
        if not boxes or None in boxes:
            return None
        return max(box[0] for box in boxes), max(box[1] for box in boxes)


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
        self._release_asked = False  # a release of the context is queued (`offer`)
        self._fast = False  # the context skips the loop filter (only the analyser looks)
        self._deblock_asked = False  # a viewer came: the newest group was queued to reopen with it
        self._reformatter = VideoReformatter()
        self.decoded = 0
        # Motion analysis listening (set_analysis): its slot, what it needs decoded, and the
        # swscale context its grey pictures are made with.
        self._analysis: tuple[AnalysisSlot, Demand] | None = None
        self._grey = GreyMaker()
        self.analysed = 0  # grey pictures made

    @property
    def analysing(self) -> bool:
        return self._analysis is not None

    def set_analysis(self, slot: AnalysisSlot | None, demand: Demand = Demand.ALL) -> None:
        """Decode for motion analysis into `slot` (None: no more), `demand`: every picture
        (a preview stream) or keyframes only (a main stream), whether anyone watches or not."""
        self._analysis = (slot, demand) if slot is not None else None
        if slot is not None:
            with self._cond:
                self._cond.notify()

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
        analysis = self._analysis
        t = None
        if analysis is not None:
            demand = max(demand, analysis[1])
            pts, time_base = packet.pts, packet.time_base
            t = float(pts * time_base) if pts is not None and time_base is not None else None
        if demand is Demand.NONE:
            self._need_keyframe, self._primed = True, False
            if self._context is not None and not self._release_asked:
                # nobody needs pictures: the decoder (its picture pool, a slice thread per
                # core for a big picture) is released, not kept for a viewer who may never
                # come (1.2-1.7 MB a source once motion analysis had been on and went off)
                self._release_asked = True
                with self._cond:
                    self._queue.append(None)
                    self._cond.notify()
            return
        if not keyframe and newest_group is not None and (
                (self._need_keyframe and not self._primed)
                or (self._fast and not self._deblock_asked and self.slot.demand is not Demand.NONE)):
            # a viewer arrives between keyframes, or while only the analyser looked (the
            # pictures lack the loop filter): the newest group, from its keyframe, at once
            follow = demand is Demand.ALL
            self._deblock_asked = self._fast
            self._prime(newest_group(follow), codec_name, extradata, follow)
        if not keyframe and (demand is Demand.KEYFRAMES or self._need_keyframe):
            return
        with self._cond:
            if len(self._queue) >= self.QUEUE_LIMIT:
                self._queue.clear()  # too slow: lose frames, restart at a keyframe
                self._release_asked = False
                self._need_keyframe = True
                if not keyframe:
                    return
            self._need_keyframe = self._primed = False
            self._queue.append(([bytes(packet)], codec_name, extradata, wall, wall + hold,
                                keyframe, t, False))
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
                                group[-1][1], group[-1][1], True, None, True))
            self._cond.notify()

    def stop(self) -> None:
        self._stopping.set()
        with self._cond:
            self._cond.notify()

    def run(self) -> None:
        while not self._stopping.is_set():
            with self._cond:
                # No timeout: `offer` and `stop` notify. A decoder nobody watches sleeps until
                # then rather than waking every second (one per source, for nothing).
                self._cond.wait_for(lambda: self._queue or self._stopping.is_set())
                if not self._queue:
                    continue
                item = self._queue.popleft()
            if item is None:  # nobody needs pictures any more (`offer`)
                self._context, self._release_asked = None, False
                continue
            packets, codec_name, extradata, wall, show_at, keyframe, t, primed = item
            try:
                demand = self.slot.demand  # a viewer's; analysis may decode more than it asks
                analysis = self._analysis
                if keyframe:  # the loop filter goes off or on at a keyframe only
                    self._set_fast(analysis is not None and demand is Demand.NONE)
                for data in packets:  # one packet, or a primed group shown as its last picture
                    frames = self._decode(data, codec_name, extradata)
                if analysis is not None and frames and not primed:  # a group: analysed already
                    self._analyse(analysis[0], frames[-1], t, wall)
                if self._fast or not (demand is Demand.ALL
                                      or (demand is Demand.KEYFRAMES and keyframe)):
                    self.decoded += len(frames)
                    continue
                delay = show_at - time.time()
                if frames and 0 < delay < 1.0:
                    self._stopping.wait(delay)
                for frame in frames:
                    self._show(frame, wall)
                    self.decoded += 1
            except (av.FFmpegError, ValueError) as exc:
                log.debug("%s: decode error %s", self.name, exc)
                self._context = None

    def _set_fast(self, fast: bool) -> None:
        """Decode without the loop filter (only the analyser looks) or with it, from this
        keyframe on: a new context, as FFmpeg reads the option when it opens one."""
        if fast != self._fast:
            self._fast, self._context = fast, None
        self._deblock_asked = False  # a viewer who comes after this keyframe asks anew

    def _analyse(self, slot: AnalysisSlot, frame: av.VideoFrame, t: float | None,
                 wall: float) -> None:
        """A grey picture for the analyser, if one is due at this picture's stream time (the
        rest of the pictures cost it nothing). Never waits: the slot keeps the newest."""
        t = slot.clock.of(t, wall)
        if not slot.due(t):
            return
        slot.put(self._grey.grey(frame), self._grey.colour(frame), t, wall)
        self.analysed += 1

    def _show(self, frame: av.VideoFrame, wall: float) -> None:
        """Into the slot as BGRX (painted by a tile as it is: Qt's RGB32), at the size the
        viewers need: a tile's size while only tiles watch (scaled here in the same swscale
        pass as the conversion, so Qt only copies it), display size otherwise."""
        full = display_size(frame.width, frame.height)
        box = self.slot.box
        size = display_size(frame.width, frame.height, box) if box is not None else full
        self.slot.put(_convert(frame, "bgra", self._reformatter, size), wall, full)

    def _decode(self, data: bytes, codec_name: str, extradata: bytes | None) -> list[av.VideoFrame]:
        if self._context is None or self._codec != (codec_name, extradata):
            self._context = make_decoder(codec_name, extradata, self._slice_threads,
                                         loop_filter=not self._fast)
            self._codec = (codec_name, extradata)
        return self._context.decode(av.Packet(data))


def make_decoder(codec_name: str, extradata: bytes | None,
                 slice_threads: bool = True, loop_filter: bool = True) -> av.CodecContext:
    """A decoder for display. Frame threading would hold pictures back by N packets, so a
    big picture gets slice threads; a small one (a preview stream, decoded for 16 tiles at
    once) none: waking helper threads 400 times a second costs more than they give. Without
    `loop_filter` the pictures are not deblocked: for analysis only, never to be shown."""
    context = av.CodecContext.create(codec_name, "r")
    if extradata:
        context.extradata = extradata
    if not loop_filter:
        context.options = {"skip_loop_filter": "all"}
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
