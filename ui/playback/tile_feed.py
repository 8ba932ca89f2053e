"""The decoding worker of one tile of a synchronised playback: a thread of its own that reads
the source's segments (app.recordings.playback_plan) with `VideoReader` and keeps a few
pictures ready ahead of the shared cursor, each stamped with its wall-clock instant (the
record's begin + the frame's time in its file). The GUI's tick takes from it the picture due
at the cursor (`take`); the worker never touches a widget and the GUI never decodes.

Forward, the worker decodes on frame after frame and goes on into the next segment of the
source when a file ends (rotated files play as one; a hole between them is the tile's gap).
Backward, it steps from keyframe to keyframe: the keyframe at or before the cursor, then the
one before it, into the previous file at a file's start. A jump (`seek`) lands exactly on the
last frame at or before the instant; every command carries a generation, so a picture of the
place the tile was before a jump is never shown after it.

Up to 4x every frame is converted and the cursor waits for the slowest tile (`ready_until`).
At 8x and 16x more frames pass per tick than a tick can draw: those are decoded but not
converted, and a worker that falls far behind jumps to the cursor instead of decoding its
way there.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from PySide6.QtGui import QImage

from app.recordings.playback_plan import Segment, SourcePlan
from ui.media import MediaTarget, VideoReader
from ui.playback.clock import SharedClock
from ui.recordings.player import rgb_image

log = logging.getLogger(__name__)

TICK_S = 0.010          # the GUI's tick: pictures closer than speed x this are not all shown
AHEAD_S = 0.3           # pictures kept ready ahead of the cursor: this long at the speed
AHEAD = (8, 40)         # ... but at least 8 and at most 40 pictures (memory)
AHEAD_BACK = 3          # keyframes kept ready (backward)
TOLERANCE_S = 0.001     # a frame "at" the cursor: float rounding of begin + time
BEHIND_S = 1.0          # this far (x speed) behind the cursor: jump there, stop decoding on
WAKE_S = 0.05           # a waiting worker looks at the clock this often
# Up to this speed every frame is decoded and shown, and the cursor waits for the slowest
# tile; faster, pictures a tick cannot show are skipped and a tile behind jumps ahead.
EVERY_FRAME_UP_TO = 4.0


def epoch(moment: datetime) -> float:
    return moment.timestamp()


def instant(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


@dataclass(frozen=True)
class TileFrame:
    """A picture ready to draw: where it belongs (record, seconds into its file) and the
    wall-clock instant it shows (epoch seconds, UTC)."""

    generation: int
    wall: float
    time: float
    key: bool
    index: int
    record_id: str
    image: QImage


class TileFeed:
    """One tile's worker. `open_target(segment)` says what to open for a segment (a local
    path or another station's file); it runs on the worker, so it may ask the network."""

    def __init__(self, plan: SourcePlan, clock: SharedClock,
                 open_target: Callable[[Segment], MediaTarget], box: tuple[int, int] = (640, 360)):
        self.plan, self.clock, self.box = plan, clock, box
        self._open_target = open_target
        self._cond = threading.Condition()
        self._buffer: deque[TileFrame] = deque()
        self._generation = 0
        self._command: tuple[float, int, bool] | None = None  # (instant, direction, exact)
        self._direction = 1
        self._ended = True  # nothing more to decode until a seek
        self._stopped = False
        self._segment: Segment | None = None
        self._reader: VideoReader | None = None
        self._last_wall: float | None = None  # the newest picture handed to the buffer
        self._seek_at = 0.0  # the instant of the last jump
        self._shown_wall: float | None = None  # the picture `take` gave out last
        self.fps = 25.0
        self.error = ""
        self.decoded = 0  # frames decoded (converted or not): the worker's work, for tests
        self._thread = threading.Thread(target=self._run, name=f"tile-{plan.source_id}",
                                        daemon=True)
        self._thread.start()

    # --- from the GUI ----------------------------------------------------------------
    def seek(self, at: float, direction: int) -> None:
        """Show the instant `at` next (epoch seconds), then go on in `direction`."""
        with self._cond:
            self._generation += 1
            self._buffer.clear()
            self._command = (at, 1 if direction >= 0 else -1, True)
            self._direction, self._ended, self._last_wall = self._command[1], False, None
            self._seek_at, self._shown_wall = at, None
            self._cond.notify_all()

    def take(self, at: float) -> TileFrame | None:
        """The picture due at the cursor `at`, when it is not the one shown already: the
        last one at or before it (forward), the keyframe at or before it (backward)."""
        with self._cond:
            shown = None
            if self._direction > 0:
                while self._buffer and self._buffer[0].wall <= at + TOLERANCE_S:
                    shown = self._buffer.popleft()
            elif self._shown_wall is None or at < self._shown_wall - TOLERANCE_S:
                # backward: the keyframe at or before the cursor, once it left the shown one
                while len(self._buffer) > 1 and self._buffer[0].wall > at + TOLERANCE_S:
                    self._buffer.popleft()
                if self._buffer:
                    shown = self._buffer.popleft()
            if shown is not None:
                self._shown_wall = shown.wall
                self._cond.notify_all()
            return shown

    def ready_until(self) -> float | None:
        """Forward: up to which instant the pictures decoded so far keep this tile within
        a frame of the cursor (the newest one's instant + a frame), the instant of a jump
        not yet shown, or None when no more pictures will come (its footage ended)."""
        with self._cond:
            if self._direction < 0 or self._ended:
                return None
            newest = self._buffer[-1].wall if self._buffer else self._last_wall
            if newest is None:
                return self._seek_at
            return newest + 1 / self.fps - TOLERANCE_S

    def next_wall(self) -> float | None:
        """The instant of the next picture ready forward (a frame step goes there)."""
        with self._cond:
            if self._direction > 0 and self._buffer:
                return self._buffer[0].wall
            return None

    @property
    def generation(self) -> int:
        return self._generation

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=3)

    # --- the worker ------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._stopped and self._command is None and not self._wants_more():
                        self._cond.wait(WAKE_S)
                        if self._behind():
                            break
                    if self._stopped:
                        return
                    command, self._command = self._command, None
                    generation = self._generation
                try:
                    if command is not None:
                        self._on_seek(generation, *command)
                    elif self._behind():
                        self._on_seek(generation, self._lead(), self._direction, False)
                    else:
                        self._produce(generation)
                except Exception as exc:  # noqa: BLE001 - a broken file must not kill the tile
                    log.warning("tile %s: %s", self.plan.source_id, exc)
                    self.error = f"cannot play this record: {exc}"
                    self._ended = True
        finally:
            self._close()

    def _wants_more(self) -> bool:
        if self._ended:
            return False
        if self._direction < 0:
            return len(self._buffer) < AHEAD_BACK
        wanted = int(self.fps * self.clock.speed * AHEAD_S)
        return len(self._buffer) < min(AHEAD[1], max(AHEAD[0], wanted))

    def _behind(self) -> bool:
        """Forward and running, the newest picture decoded lies far behind the cursor."""
        if self._direction < 0 or self.clock.rate <= 0 or self._ended or self._last_wall is None \
                or self.clock.speed <= EVERY_FRAME_UP_TO:
            return False
        cursor = self.clock.instant()
        if self.plan.in_gap(instant(cursor)):
            return False
        return self._last_wall < cursor - BEHIND_S * max(1.0, self.clock.speed)

    def _lead(self) -> float:
        return self.clock.instant() + 0.2 * self.clock.speed

    def _on_seek(self, generation: int, at: float, direction: int, exact: bool) -> None:
        with self._cond:
            if generation != self._generation:
                return
            self._direction, self._ended, self._last_wall = direction, False, None
        moment = instant(at)
        segment = self.plan.segment_at(moment)
        if segment is None:
            segment = (self.plan.segment_from(moment) if direction > 0
                       else self._segment_before(moment))
            if segment is None:
                self._ended = True
                return
            at = min(max(at, epoch(segment.begin)), epoch(segment.end))
        reader = self._reader_for(segment)
        offset = max(0.0, at - epoch(segment.begin))
        frame = reader.frame_at(offset) if direction > 0 and exact else reader.seek(offset)
        if frame is None and direction < 0:
            self._step_back_into(generation, self.plan.preceding(segment))
            return
        if frame is not None:
            self._push(generation, segment, frame)

    def _segment_before(self, moment: datetime) -> Segment | None:
        earlier = [s for s in self.plan.segments if s.begin <= moment]
        return earlier[-1] if earlier else None

    def _reader_for(self, segment: Segment) -> VideoReader:
        if self._segment is not None and self._segment.id == segment.id and self._reader:
            return self._reader
        self._close()
        self._reader = VideoReader(self._open_target(segment), live=segment.live, box=self.box)
        self._segment, self.fps = segment, self._reader.fps
        return self._reader

    def _produce(self, generation: int) -> None:
        if self._direction > 0:
            self._forward(generation)
        else:
            self._backward(generation)

    def _forward(self, generation: int) -> None:
        reader, segment = self._reader, self._segment
        if reader is None or segment is None:
            self._ended = True
            return
        when = reader.peek_time()
        if when is None:
            frame = reader.next()  # a growing file may hold more now
            if frame is None:
                self._into_following(generation)
                return
            self._push(generation, segment, frame)
            return
        self.decoded += 1
        wall = epoch(segment.begin) + when
        if self._last_wall is not None and wall <= self._last_wall:
            reader.drop()  # two files overlapping by a rounding: time only grows
            return
        if not self._worth_showing(wall):
            reader.drop()
            return
        frame = reader.next()
        if frame is not None:
            self._push(generation, segment, frame)

    def _worth_showing(self, wall: float) -> bool:
        """Whether a tick may show this picture: not long past the cursor, and not closer to
        the last one than a tick's worth of footage at this speed."""
        if self.clock.rate <= 0 or self.clock.speed <= EVERY_FRAME_UP_TO:
            return True  # the cursor waits for this tile (SyncPlayback): every frame counts
        if wall < self.clock.instant() - 2.0 / self.fps:
            return False
        if self._last_wall is not None:
            return wall - self._last_wall >= self.clock.speed * TICK_S - TOLERANCE_S
        return True

    def _into_following(self, generation: int) -> None:
        following = self.plan.following(self._segment)
        if following is None:
            self._ended = True
            return
        reader = self._reader_for(following)
        frame = reader.next()
        if frame is None:
            self._ended = True
            return
        if self._last_wall is None or epoch(following.begin) + frame.time > self._last_wall:
            self._push(generation, following, frame)

    def _backward(self, generation: int) -> None:
        segment = self._segment
        if segment is None or self._last_wall is None:
            self._ended = True
            return
        # the keyframe before the last one handed out
        target = self._last_wall - epoch(segment.begin) - 0.5 / self.fps
        if target < 0:
            self._step_back_into(generation, self.plan.preceding(segment))
            return
        frame = self._reader.seek(target)
        self.decoded += 1
        if frame is None or epoch(segment.begin) + frame.time >= self._last_wall - TOLERANCE_S:
            self._step_back_into(generation, self.plan.preceding(segment))
            return
        self._push(generation, segment, frame)

    def _step_back_into(self, generation: int, segment: Segment | None) -> None:
        """Go on backward from the end of `segment` (the file before the one that began)."""
        if segment is None:
            self._ended = True
            return
        reader = self._reader_for(segment)
        frame = reader.seek(max(0.0, reader.duration - 0.5 / max(1.0, reader.fps)))
        if frame is None:
            self._ended = True
            return
        self._push(generation, segment, frame)

    def _push(self, generation: int, segment: Segment, frame) -> None:
        image = rgb_image(frame.rgb)
        wall = epoch(segment.begin) + frame.time
        with self._cond:
            if generation != self._generation:
                return  # a jump came meanwhile: this picture belongs to the old place
            self._last_wall = wall
            self._buffer.append(TileFrame(generation, wall, frame.time, frame.key, frame.index,
                                          segment.id, image))

    def _close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader, self._segment = None, None
