"""The mode keeper: every own source whose recording mode says record is recording, always.

A thread with a stop event looks twice a second (`TICK_S`) at this station's sources whose
`record_mode` is not `manual` (app.record_modes decides what each says now: `continuous`,
`motion`, or the schedule's slot in force) and makes the recordings match, through the
RecordingService's normal start and stop (`start_one`, `stop_record`, origin `mode`), so
what it starts is an ordinary record under the source's `record_tag`: listed, downloaded,
rotated at `segment_s`, retained, protected and synced like any other.

Why a loop that compares rather than a reaction to each event: whatever ended a recording
(a restart, a crash whose record stays `interrupted`, the catalog coming back after an
outage, the storage guard stopping everything below the disk floor, an operator stopping the
mode's tag), the next look finds the source not recording and starts it again; nothing has
to remember why. A start the station refuses (the disk under its floor, the catalog away)
is logged once, noted for the source (`note`), and tried again at the next look; when it
succeeds the log says the source records again. The recorder already records one source into
several files from the same packets, so a tag a dialect starts and stops on a source the
mode records is its own record and file, and the mode's file is never cut by it.

`motion`: a motion event open for the source (app.alarms' `EventChanged`, kind `motion`) makes
it record; the record begins at a keyframe at least the source's pre-capture before the
motion began (the event's `begin`: app.motion opens it once the motion lasted its make time,
so the start asks for the pre-capture plus how long ago the motion began), from the pre-roll
the recorder keeps for every source whose mode may record motion (`keep_preroll`: the
pre-capture and PRE_MARGIN_S for that delay), and goes on the source's post-capture after the
motion's last moving picture (the event's `end`), so motions closer together than that are
one record. Pre- and post-capture are the source's motion settings (`motion_capture`; the
station's `motion_pre_s` is the pre-capture of a source without its own).

What it does for each source is its `state` (SourceOut.mode_state): "recording", "waiting:
<why>" (the disk below its floor, the catalog away...), "off by schedule", "waiting for
motion"; None for a `manual` source or one it does not keep.

What the mode records is the mode's own: a dialect's or an operator's Stop all leaves it
recording; only the keeper, or a stop of its tag by name, ends it (app.recordings.record_stops).

It never blocks the recorder: it runs on its own thread, and only asks the services.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Callable
from zoneinfo import ZoneInfo

from sqlmodel import select

from app.catalog import CATALOG_ERRORS, Catalog
from app.errors import StationError, StorageFull, Unavailable
from app.events import EventChanged, EventSink
from app.models import Source, utcnow
from app.record_modes import (RecordMode, SlotMode, effective_mode, local_zone, parse_schedule,
                              tag_for)
from app.recordings.record_stops import MODE_ORIGIN
from app.recordings.recordings import RecordingService
from app.site.stations import is_own

log = logging.getLogger(__name__)

TICK_S = 0.5
MOTION_POST_S = 10.0
MOTION_PRE_S = 5.0
# Pre-roll kept beyond the pre-capture: a motion event opens after its make time and the
# analysis' delay (a keyframe-only source: up to a GOP), and its record must still begin
# the pre-capture before the motion's start.
PRE_MARGIN_S = 5.0
ORIGIN = MODE_ORIGIN
RECORDING, MOTION_IDLE, OFF_BY_SCHEDULE = "recording", "waiting for motion", "off by schedule"


class ModeKeeper:
    """`station_id`: whose sources it keeps (None: a station alone); `zone`, `clock`: the
    station's time zone and the UTC clock a schedule is read against (tests inject both);
    `motion_post_s`: how long a motion record goes on after the last motion closed;
    `motion_pre_s`: how far before the motion its record begins (a number, or a function
    read at each look: the station's live setting); `motion_capture(source_id)`, when
    given, the source's own (pre-capture, post-capture) over both (app.motion's settings)."""

    def __init__(self, catalog: Catalog, recordings: RecordingService, bus: EventSink, *,
                 station_id: str | None = None, zone: Callable[[], ZoneInfo] = local_zone,
                 clock: Callable[[], datetime] = utcnow, tick_s: float = TICK_S,
                 motion_post_s: float = MOTION_POST_S,
                 motion_pre_s: float | Callable[[], float] = MOTION_PRE_S,
                 motion_capture: Callable[[int], tuple[float, float]] | None = None):
        self._catalog, self._recordings, self._bus = catalog, recordings, bus
        self._station_id, self._zone, self._clock = station_id, zone, clock
        self._tick_s, self._motion_post_s = tick_s, motion_post_s
        self._motion_pre_s = motion_pre_s if callable(motion_pre_s) else (lambda: motion_pre_s)
        self._motion_capture = motion_capture
        self._states: dict[int, str] = {}  # what it does for each source it keeps
        self._kept_preroll: dict[int, float] = {}  # pre-capture asked of the recorder
        self._sources: list[Source] = []  # the last read, kept while the catalog is away
        self._owned: set[tuple[int, str]] = set()  # (source, tag) it records now
        self._notes: dict[int, str] = {}  # why a source that should record does not
        self._motion_open: set[int] = set()
        self._motion_until: dict[int, float] = {}  # monotonic end of post-capture
        self._motion_began: dict[int, float] = {}  # wall time the open motion began
        self._motion_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.ticks = 0  # looks taken (tests wait on it)

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._unsubscribe = self._bus.subscribe(self._on_event) \
            if hasattr(self._bus, "subscribe") else None
        self._thread = threading.Thread(target=self._loop, name="mode-keeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop looking (before the station finalizes its recordings: nothing restarts)."""
        self._stopping.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def note(self, source_id: int) -> str | None:
        """Why a source its mode says should record does not now (None: it does, or need not)."""
        return self._notes.get(source_id)

    def state(self, source_id: int) -> str | None:
        """What the mode does for the source now: "recording", "waiting: <why>", "waiting for
        motion", "off by schedule"; None for a manual source or another station's."""
        note = self._notes.get(source_id)
        return f"waiting: {note}" if note else self._states.get(source_id)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the keeper must outlive any one bad look
                log.exception("recording modes: a look failed")
            self._stopping.wait(self._tick_s)

    # --- motion --------------------------------------------------------------------------
    def _on_event(self, event: object) -> None:
        if not isinstance(event, EventChanged) or event.event.kind != "motion":
            return
        source_id = event.event.source_id
        if source_id is None:
            return
        post_s = self._capture(source_id)[1] if event.change in ("opened", "closed") else 0.0
        with self._motion_lock:
            if event.change == "opened" and event.event.end is None:
                self._motion_open.add(source_id)
                self._motion_began[source_id] = _wall(event.event.begin) or time.time()
            elif event.change in ("opened", "closed"):  # closed, or an instant motion
                self._motion_open.discard(source_id)
                # post-capture from the motion's last moving picture (the event's end)
                ended = _wall(event.event.end) or time.time()
                until = time.monotonic() + post_s - max(0.0, time.time() - ended)
                self._motion_until[source_id] = max(until,
                                                    self._motion_until.get(source_id, 0.0))

    def _capture(self, source_id: int) -> tuple[float, float]:
        """The source's (pre-capture, post-capture) in seconds."""
        if self._motion_capture is not None:
            try:
                return self._motion_capture(source_id)
            except Exception:  # noqa: BLE001 - the station's settings rather than no record
                log.exception("source %s: its motion settings could not be read", source_id)
        return self._motion_pre_s(), self._motion_post_s

    def _motion_wants(self, source_id: int) -> bool:
        with self._motion_lock:
            return (source_id in self._motion_open
                    or self._motion_until.get(source_id, 0.0) > time.monotonic())

    # --- one look ------------------------------------------------------------------------
    def tick(self) -> None:
        """Compare what each source's mode says with what records, and make them match."""
        self.ticks += 1
        wanted = self._wanted()
        if not wanted and not self._owned:
            return  # nothing to start or stop (a station without modes looks no further)
        running = self._recordings.running_keys()  # from memory, also while the catalog is away
        for key in sorted(self._owned - set(wanted)):
            self._stop(key, running.get(key))
        for key, mode in sorted(wanted.items()):
            if key in running:  # its own, or the same tag an operator started: left as is
                self._recording(key[0])
            else:
                self._start(key, mode)

    def _wanted(self) -> dict[tuple[int, str], SlotMode]:
        """(source, tag) → the mode that wants it recorded now."""
        try:
            with self._catalog.session() as s:
                rows = s.exec(select(Source).where(Source.record_mode != RecordMode.manual,
                                                   Source.enabled)).all()
            self._sources = [r for r in rows if is_own(r.station_id, self._station_id)]
        except CATALOG_ERRORS:
            pass  # keep the last read: the modes did not change while nobody could write
        now, zone = self._clock(), self._zone()
        wanted: dict[tuple[int, str], SlotMode] = {}
        states: dict[int, str] = {}
        pre_s: dict[int, float] = {}
        for row in self._sources:
            slots = parse_schedule(row.record_schedule or []) \
                if row.record_mode == RecordMode.schedule else []
            mode = effective_mode(row.record_mode, slots, now, zone)
            if row.record_mode == RecordMode.motion or any(
                    slot.mode is SlotMode.motion for slot in slots):
                pre_s[row.id] = self._capture(row.id)[0] + PRE_MARGIN_S
            if mode is SlotMode.continuous or (mode is SlotMode.motion
                                               and self._motion_wants(row.id)):
                wanted[(row.id, tag_for(mode, row.record_tag))] = mode
                states[row.id] = RECORDING
            else:
                states[row.id] = MOTION_IDLE if mode is SlotMode.motion else OFF_BY_SCHEDULE
                self._notes.pop(row.id, None)  # nothing to wait for
        self._states = states
        self._keep_preroll(pre_s)
        return wanted

    def _keep_preroll(self, pre_s: dict[int, float]) -> None:
        """The recorder keeps `motion_pre_s` of every source whose mode may record motion,
        so a motion record can begin that far back (and no more of any other)."""
        for source_id in set(self._kept_preroll) | set(pre_s):
            seconds = pre_s.get(source_id, 0.0)
            if self._kept_preroll.get(source_id, 0.0) != seconds:
                self._recordings.keep_preroll(source_id, seconds)
                self._kept_preroll[source_id] = seconds

    def _start(self, key: tuple[int, str], mode: SlotMode) -> None:
        source_id, tag = key
        pre_s = self._motion_preroll(source_id) if mode is SlotMode.motion else None
        try:
            self._recordings.start_one(tag, source_id, origin=ORIGIN, preroll_s=pre_s)
        except (StationError, *CATALOG_ERRORS) as exc:
            reason = _waiting_reason(exc)
            if self._notes.get(source_id) != reason:
                log.warning("source %s: %s recording waits: %s (%s)", source_id, mode.value,
                            reason, getattr(exc, "message", None) or type(exc).__name__)
            self._notes[source_id] = reason
            return
        self._owned.add(key)
        log.info("source %s: %s recording under tag %r", source_id, mode.value, tag)
        self._recording(source_id)

    def _motion_preroll(self, source_id: int) -> float:
        """How far back a motion record starting now begins: the pre-capture before the
        motion's start, which was this long ago (within what the recorder keeps)."""
        with self._motion_lock:
            began = self._motion_began.get(source_id)
        since = max(0.0, time.time() - began) if began is not None else 0.0
        return self._capture(source_id)[0] + min(since, PRE_MARGIN_S)

    def _recording(self, source_id: int) -> None:
        if self._notes.pop(source_id, None) is not None:
            log.info("source %s records again by its mode (what stopped it is over)", source_id)

    def _stop(self, key: tuple[int, str], record_id: str | None) -> None:
        self._owned.discard(key)
        self._notes.pop(key[0], None)
        if record_id is None:
            return
        try:
            self._recordings.stop_record(record_id, origin=ORIGIN)
            log.info("source %s: its mode no longer records under tag %r", *key)
        except (StationError, *CATALOG_ERRORS):
            log.exception("source %s: could not stop the mode's record %s", key[0], record_id)


def _wall(iso: str | None) -> float | None:
    """An event's ISO 8601 UTC time (EventOut.begin/end) as wall time."""
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _waiting_reason(exc: Exception) -> str:
    """Why a start the station refused waits, in the words of a source's `mode_state`."""
    if isinstance(exc, StorageFull):
        return "disk below the floor"
    if isinstance(exc, Unavailable) or isinstance(exc, CATALOG_ERRORS):
        return "the catalog is away"
    return getattr(exc, "message", None) or str(exc)
