"""Pictures for motion analysis: a small grey picture per analysed frame, in a latest-frame slot.

The analyser (app.motion) needs few pictures (5 a second), small (about 180 pixels wide) and
grey (the Y plane: the detector works on brightness). Making them is the decoder's job, in
its own thread, so the analyser costs the decoder a scaled "gray" swscale pass at the
analysis rate and nothing else: no BGRX picture for a wall nobody shows, no colour
conversion. Which decoder feeds it depends on the source (`AnalysisSlot.input`):
  - "preview": the preview stream's decoder (`uri_preview`), every picture of it, converted
    at the analysis rate;
  - "keyframes": a source without one has only its main stream's keyframes decoded (a full
    main-stream decode for analysis would cost tens of times more), so it is analysed about
    once per GOP.

The slot holds the newest `KEEP` pictures. The decoder puts and never waits; an analyser that
falls behind loses the older ones (`dropped` counts the ones it never saw), so analysis can
slow nothing but itself. More than one: a preview read only for analysis comes in batches
(`recorder.preview.ANALYSIS_BATCH_S`), so two pictures may be made before the analyser's
thread runs, and it takes both in order (holding the newest only lost one in twenty of
them: 4.8 analysed a second of 5, on the loaded benchmark machine).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter

ANALYSIS_WIDTH = 180  # as vision.detector.ANALYSIS_WIDTH (the recorder imports no vision)
KEEP = 3  # pictures the slot holds for the analyser: a reader's batch may bring two or three
COLOUR_STEP = 8  # every 8th chroma sample of every 8th row: ~120 samples of a 180-wide picture
_PLANAR_YUV = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"}


@dataclass(frozen=True)
class GreyFrame:
    seq: int
    grey: np.ndarray  # 2-D uint8 Y plane, ~ANALYSIS_WIDTH wide
    colour: float     # mean |U-128| + |V-128| over a subsample (0 = monochrome)
    t: float          # stream time in seconds (pts * time_base), monotonic per source
    wall: float       # when its packet arrived (time.time())


class AnalysisSlot:
    """The newest grey pictures of a source (`KEEP`). `input` says which pictures feed it ("preview"
    or "keyframes"; the recorder changes it when the preview stream comes or goes); `fps`
    how many a second the decoder makes (it skips the rest before converting them)."""

    def __init__(self, input: str, fps: float) -> None:
        self.input = input
        self.fps = fps
        self._lock = threading.Lock()
        self._updated = threading.Condition(self._lock)
        self._frames: deque[GreyFrame] = deque()  # oldest first
        self._taken = 0  # the seq of the newest picture handed out
        self._seq = itertools.count(1)
        self.offered = 0  # pictures put
        self.dropped = 0  # pictures replaced before anyone took them
        self._next_t: float | None = None  # stream time the next picture is due at
        self.clock = StreamClock()  # the decoder's packet times made monotonic

    # --- producer side (the decoder's thread) ------------------------------------------
    def due(self, t: float) -> bool:
        """Is a picture of stream time `t` (`clock.of`) wanted (at most `fps` a second)? Asked
        before the conversion, so pictures above the rate cost nothing but their decode."""
        interval = 1.0 / max(0.1, self.fps)
        nxt = self._next_t
        if nxt is not None and t < nxt - 0.02 * interval and t > nxt - 2 * interval:
            return False
        # on time (or after a gap / a jump back: start over from this picture)
        self._next_t = t + interval if nxt is None or abs(t - nxt) > interval else nxt + interval
        return True

    def put(self, grey: np.ndarray, colour: float, t: float, wall: float) -> GreyFrame:
        frame = GreyFrame(next(self._seq), grey, colour, t, wall)
        with self._lock:
            if len(self._frames) >= KEEP and self._frames.popleft().seq > self._taken:
                self.dropped += 1
            self._frames.append(frame)
            self.offered += 1
            self._updated.notify_all()
        return frame

    # --- consumer side -------------------------------------------------------------------
    def latest(self) -> GreyFrame | None:
        with self._lock:
            frame = self._frames[-1] if self._frames else None
            if frame is not None:
                self._taken = max(self._taken, frame.seq)
            return frame

    def wait_newer(self, seq: int, timeout: float) -> GreyFrame | None:
        """The oldest picture held that is newer than `seq` (the next one, unless it was
        lost), waiting up to `timeout`; None if none came."""
        frames = self._frames
        with self._lock:
            self._updated.wait_for(lambda: frames and frames[-1].seq > seq, timeout)
            frame = next((f for f in frames if f.seq > seq), None)
            if frame is None:
                return None
            self._taken = max(self._taken, frame.seq)
            return frame

    def wake(self) -> None:
        """Ends a `wait_newer` early (the analyser stops)."""
        with self._lock:
            self._updated.notify_all()


class StreamClock:
    """Stream time that never goes back: a reconnection restarts a camera's timestamps, a
    stream without timestamps has none. The time follows the packets' (pts) while they go
    on steadily; after a jump (back, or ahead by more than `MAX_GAP_S` more than the wall
    clock moved) it goes on from the last time by what the wall clock moved."""

    MAX_GAP_S = 10.0

    def __init__(self) -> None:
        self._last: tuple[float, float, float] | None = None  # raw t, output t, wall
        self._offset = 0.0

    def of(self, raw: float | None, wall: float) -> float:
        last = self._last
        if raw is None:
            raw = wall
        if last is not None:
            raw_then, out_then, wall_then = last
            step = raw - raw_then
            if step <= 0 or step > (wall - wall_then) + self.MAX_GAP_S:
                self._offset = out_then + max(0.001, wall - wall_then) - raw
        out = raw + self._offset
        self._last = (raw, out, wall)
        return out


class GreyMaker:
    """Makes the analysis picture of a decoded frame: one swscale context of its own to
    "gray" at ~ANALYSIS_WIDTH (kept from picture to picture: building one each time costs
    more than the conversion), and the colour measure from a subsample of the chroma planes
    (read where they lie, no conversion)."""

    def __init__(self) -> None:
        self._reformatter = VideoReformatter()

    def grey(self, frame: VideoFrame) -> np.ndarray:
        width, height = analysis_size(frame.width, frame.height)
        picture = self._reformatter.reformat(frame, width=width, height=height, format="gray",
                                             interpolation="AREA")
        return np.ascontiguousarray(picture.to_ndarray())

    @staticmethod
    def colour(frame: VideoFrame) -> float:
        """Mean |U-128| + |V-128| over every COLOUR_STEP-th sample of every COLOUR_STEP-th row:
        0 for a monochrome picture (a camera in infrared), some tens for a daylight scene."""
        if frame.format.name not in _PLANAR_YUV or len(frame.planes) < 3:
            small = frame.reformat(width=32, height=18, format="yuv420p")
            return GreyMaker.colour(small)
        total = 0.0
        for plane in frame.planes[1:3]:
            rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
            sample = rows[::COLOUR_STEP, :plane.width:COLOUR_STEP]
            total += float(np.abs(sample.astype(np.int16) - 128).mean())
        return total


def analysis_size(width: int, height: int) -> tuple[int, int]:
    """About ANALYSIS_WIDTH wide, the picture's shape kept, even; never larger than it is."""
    if width <= ANALYSIS_WIDTH:
        return width, height
    scaled = max(2, int(round(height * ANALYSIS_WIDTH / width)) // 2 * 2)
    return ANALYSIS_WIDTH, scaled
