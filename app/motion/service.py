"""Motion detection of the station's sources (#24): settings, analysers, events.

`MotionService` is the one door to a source's motion detector for every front end (the GUI's
zone editor and tuner, the API, MQTT, /metrics):
  - settings per source in the catalog (`source_motion`: only what differs from the defaults,
    so a source that never changed its pre-capture follows the station's `motion_pre_s`),
    validated by vision's own rules (a SettingsError becomes an InvalidInput naming the field),
    applied at once to the running analyser (its learnt background kept). The audit entry is
    the door's, as for every service: the API's guard and the GUI's audited station name it
    `change motion settings`;
  - one analyser thread (app.motion.analyser) per analysed source: enabled, this station's,
    its detection enabled and a reader running for it. A supervisor thread starts and stops
    them as sources come and go (it looks when the catalog says a source changed and every
    LOOK_S, as the recorder's readers come and go with the sources service);
  - what the analysers' trackers say becomes `motion` events (opened at the motion's start,
    closed at its last moving picture, data {"zones": [...]}) and `constant_motion` events
    through the EventService, and `MotionChanged` on the bus.
It never blocks the recorder: the recorder puts pictures into a latest-frame slot and goes on.

On a site (several stations on one catalog, docs/scale-out.md) only a source's owner analyses
it, so the settings and the state of another station's source are the owner's business, as a
start of its recording is: `status` and `change` of another station's source ask the owner
through the site client (`change` checks the values here first, so a bad one is refused with
its field without a round trip); the owner stores and applies at once. A request another
station passed on here is answered here, never passed on again (`forwarded`). The stored
settings are cached, so every station also re-reads them after each heartbeat (`refresh`, the
site's `on_beat`, as the sources' readers follow the catalog): what a station of an older
version stored, or a source moved here, is taken within a beat, and this station's cache of
the others' sources stays true.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from sqlmodel import select

from app.alarms.event_service import EventService
from app.catalog import CATALOG_ERRORS, Catalog
from app.errors import Conflict, InvalidInput, NotFound, Unavailable
from app.events import CatalogChanged, EventBus, MotionChanged
from app.models import Source, SourceMotion, utcnow
from app.motion.analyser import GridCallback, SourceAnalyser
from app.schemas import MotionOut
from app.site.client import SiteClient
from app.site.stations import StationRegistry, is_own
from recorder.manager import RecorderManager
from vision.detector import Detection
from vision.settings import MotionSettings, SettingsError
from vision.tracker import MotionChange

log = logging.getLogger(__name__)

LOOK_S = 1.0  # the supervisor's look at which sources to analyse
UNKNOWN = "unknown"  # `analysing` of another station's source when its owner cannot be asked


@dataclass(frozen=True)
class MotionStatus:
    """What GET /api/v1/source/{id}/motion answers."""

    source_id: int
    settings: MotionSettings
    analysing: str   # "preview", "keyframes" (main stream's keyframes only), "off"
    rate_fps: float  # pictures really analysed per second (last 10 s)
    level: float     # last Detection.level
    active: bool     # a motion event is open now
    night: bool
    cost_ms: float   # mean analysis time per picture
    error: str | None = None  # why `analysing` is "unknown" (the owner could not be asked)


def _wall(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def _from_owner(out: MotionOut, stored: MotionSettings) -> MotionStatus:
    """The owner's answer as this station's status (its settings as this version reads them;
    the stored ones if it cannot)."""
    try:
        settings = MotionSettings.from_dict(out.settings.model_dump(mode="json"))
    except SettingsError:
        settings = stored
    return MotionStatus(out.source_id, settings, out.analysing, out.rate_fps, out.level,
                        out.active, out.night, out.cost_ms, out.error)


class MotionService:
    """`default_pre_s`: the station's `motion_pre_s`, read when a source's settings are made:
    the pre-capture of every source that has none of its own. `site`, `peers`: the stations
    sharing the catalog and how they are asked (None: a station alone, everything here)."""

    def __init__(self, catalog: Catalog, recorder: RecorderManager, events: EventService,
                 bus: EventBus, *, station_id: str | None,
                 default_pre_s: Callable[[], float] = lambda: 5.0, look_s: float = LOOK_S,
                 site: StationRegistry | None = None, peers: SiteClient | None = None,
                 on_grid: GridCallback | None = None):
        self._catalog, self._recorder, self._events, self._bus = catalog, recorder, events, bus
        self._station_id, self._default_pre_s, self._look_s = station_id, default_pre_s, look_s
        self._site, self._peers = site, peers
        self._on_grid = on_grid  # each moving picture's changed pixels: the motion grids
        self._lock = threading.RLock()
        self._overrides: dict[int, dict[str, Any]] = {}  # source id -> its stored settings
        self._loaded = False
        self._generation = 0  # counts the changes made here (a refresh racing one yields)
        self._analysers: dict[int, SourceAnalyser] = {}
        self._wanted: set[int] = set()  # sources that should be analysed (the last read)
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None

    # --- settings ------------------------------------------------------------------------
    def _defaults(self) -> MotionSettings:
        return MotionSettings(pre_capture_s=float(self._default_pre_s()))

    def _stored(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            if not self._loaded:
                with self._catalog.session() as s:
                    rows = s.exec(select(SourceMotion)).all()
                self._overrides = {row.source_id: dict(row.settings or {}) for row in rows}
                self._loaded = True
            return self._overrides

    def settings(self, source_id: int) -> MotionSettings:
        """The source's settings: the defaults (with the station's pre-capture) and what
        was changed for it."""
        stored = self._stored().get(source_id)
        if not stored:
            return self._defaults()
        try:
            return MotionSettings.from_dict(stored, base=self._defaults())
        except SettingsError as exc:  # a row an older version wrote: the defaults, said once
            log.warning("source %s: stored motion settings refused (%s); using the defaults",
                        source_id, exc)
            return self._defaults()

    def change(self, source_id: int, changes: dict, actor: str, *,
               forwarded: bool = False) -> MotionStatus:
        """Validate, store and apply a partial change (`zones`, when given, replaces every
        zone). An InvalidInput names the field; nothing is stored then. Another station's
        source: checked here, then stored and applied by its owner (a Conflict while the owner
        is offline: nobody changes what is its under it), unless that station `forwarded`
        the request here."""
        if not isinstance(changes, dict):
            raise InvalidInput("must be a JSON object", field="body")
        with self._catalog.session() as s:
            source = s.get(Source, source_id)
            if source is None:
                raise NotFound("source", source_id, field="source_id")
            owner, name = source.station_id, source.name
        with self._lock:
            current = self.settings(source_id)
            try:
                new = MotionSettings.from_dict(changes, base=current)
            except SettingsError as exc:
                raise InvalidInput(exc.message, field=exc.field or None) from None
            full = new.to_dict()
            sent = {key: full[key] for key in changes}
        elsewhere = self._elsewhere(owner, forwarded)
        if elsewhere is not None:
            return self._change_at_owner(elsewhere, source_id, name, sent, new, actor)
        with self._lock:
            stored = dict(self._stored().get(source_id) or {})
            stored.update(sent)
            with self._catalog.session() as s:
                row = s.get(SourceMotion, source_id)
                if row is None:
                    row = SourceMotion(source_id=source_id, settings=stored)
                else:
                    row.settings = stored
                s.add(row)
            self._overrides[source_id] = stored
            self._generation += 1
        self._apply(source_id, new)
        log.info("source %s: motion settings changed by %s (%s)", source_id, actor,
                 ", ".join(sorted(changes)) or "nothing")
        self._wake.set()  # enabled or not: the supervisor looks now
        return self._here(source_id)

    def _change_at_owner(self, owner: str, source_id: int, name: str, sent: dict,
                         new: MotionSettings, actor: str) -> MotionStatus:
        assert self._site is not None and self._peers is not None
        reason = self._site.offline_reason(owner, fresh=True)
        if reason is not None:
            raise Conflict(f"source {name!r} belongs to another station: {reason}",
                           field="station")
        status = _from_owner(self._peers.change_motion(owner, source_id, sent), new)
        with self._lock:  # what the owner stored, seen here at once (not a beat later)
            stored = dict(self._stored().get(source_id) or {})
            stored.update(sent)
            self._overrides[source_id] = stored
            self._generation += 1
        log.info("source %s: motion settings changed by %s (%s) on its station %s", source_id,
                 actor, ", ".join(sorted(sent)) or "nothing", self._site.name_of(owner))
        return status

    def _apply(self, source_id: int, new: MotionSettings) -> None:
        """New settings to the source's running analyser, if any (its background kept)."""
        analyser = self._analysers.get(source_id)
        if analyser is not None:
            analyser.configure(new)
            if new.fps != analyser.slot.fps:
                self._recorder.analysis_slot(source_id, new.fps)

    def refresh(self) -> None:
        """Take what is stored now (after each heartbeat, the site's `on_beat`): settings
        another station stored (a forwarded change reaches the owner at once; this is for the
        others' caches, a source moved here and stations that do not forward), applied at
        once to a running analyser."""
        with self._lock:
            generation, loaded = self._generation, self._loaded
        with self._catalog.session() as s:
            rows = s.exec(select(SourceMotion)).all()
        stored = {row.source_id: dict(row.settings or {}) for row in rows}
        with self._lock:
            if generation != self._generation or loaded != self._loaded:
                return  # changed here meanwhile (what was read may be older): the next beat
            before, self._overrides, self._loaded = self._overrides, stored, True
        if not loaded:
            return
        changed = sorted(sid for sid in before.keys() | stored.keys()
                         if before.get(sid) != stored.get(sid))
        for source_id in changed:
            self._apply(source_id, self.settings(source_id))
        if changed:
            log.info("motion settings stored by another station taken for source(s) %s",
                     ", ".join(map(str, changed)))
            self._wake.set()  # enabled or not: the supervisor looks now

    def _elsewhere(self, owner: str | None, forwarded: bool) -> str | None:
        """The station to ask instead of answering here: the owner of another station's
        source, unless a station passed the request here (never forwarded again) or this
        station is alone."""
        if forwarded or self._peers is None or is_own(owner, self._station_id):
            return None
        return owner

    # --- reading -------------------------------------------------------------------------
    def status(self, source_id: int, *, forwarded: bool = False) -> MotionStatus:
        """What the source's detector does now: this station's analyser, or for another
        station's source its owner's (asked; `analysing` "unknown" with the reason in `error`
        when the owner is offline or does not answer, the stored settings then)."""
        owner = self._site.owner(source_id) if self._site is not None else None
        elsewhere = self._elsewhere(owner, forwarded)
        if elsewhere is not None:
            assert self._peers is not None
            try:
                return _from_owner(self._peers.motion(elsewhere, source_id),
                                   self.settings(source_id))
            except Unavailable as exc:
                return MotionStatus(source_id, self.settings(source_id), UNKNOWN, 0.0, 0.0,
                                    False, False, 0.0, exc.message)
        return self._here(source_id)

    def _here(self, source_id: int) -> MotionStatus:
        """This station's analyser of the source ("off" when there is none)."""
        analyser = self._analysers.get(source_id)
        settings = analyser.settings if analyser is not None else self.settings(source_id)
        if analyser is None:
            return MotionStatus(source_id, settings, "off", 0.0, 0.0, False, False, 0.0)
        rate, cost = analyser.rate()
        last = analyser.last
        return MotionStatus(source_id, settings, analyser.slot.input, round(rate, 2),
                            last.level if last is not None else 0.0, analyser.event_id is not None,
                            last.night if last is not None else False, round(cost, 3))

    def tune(self, source_id: int) -> Detection | None:
        """The newest detection with its changed mask (None: not analysed, or no mask yet);
        asking keeps the masks coming for the next 5 s (the tuner asks ~5 times a second)."""
        analyser = self._analysers.get(source_id)
        return analyser.tune() if analyser is not None else None

    def active(self, source_id: int) -> bool:
        analyser = self._analysers.get(source_id)
        return analyser is not None and analyser.event_id is not None

    def analysed(self) -> list[int]:
        """The sources analysed now."""
        return sorted(self._analysers)

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._close_left_open()
        self._unsubscribe = self._bus.subscribe(self._on_bus)
        self._thread = threading.Thread(target=self._run, name="motion", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop every analyser, closing the motion events still open."""
        self._stopping.set()
        self._wake.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        for source_id in list(self._analysers):
            self._stop_analyser(source_id)

    def _on_bus(self, event: object) -> None:
        if isinstance(event, CatalogChanged) and event.entity == "source":
            if event.action == "deleted":
                with self._lock:
                    self._overrides.pop(event.entity_id, None)
            self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.look()
            except Exception:  # noqa: BLE001 - the supervisor must outlive one bad look
                log.exception("motion: a look at the sources failed")
            self._wake.wait(self._look_s)
            self._wake.clear()

    def look(self) -> None:
        """Start the analysers of the sources to analyse, stop the others."""
        try:
            with self._catalog.session() as s:
                rows = s.exec(select(Source.id, Source.station_id).where(Source.enabled)).all()
            self._wanted = {sid for sid, owner in rows if is_own(owner, self._station_id)
                            and self.settings(sid).enabled}
        except CATALOG_ERRORS:
            pass  # the last read: nothing changed while nobody could write
        # (a source whose reader is being replaced, a new address, keeps its analyser: the
        # recorder hands the new reader the same slot)
        for source_id in [s for s in self._analysers if s not in self._wanted]:
            self._stop_analyser(source_id)
        for source_id in sorted(self._wanted - set(self._analysers)):
            if self._stopping.is_set():
                return
            settings = self.settings(source_id)
            slot = self._recorder.analysis_slot(source_id, settings.fps)
            if slot is None:
                continue  # no reader runs for it (yet): the next look
            analyser = SourceAnalyser(source_id, slot, settings, self._on_change,
                                      self._on_grid)
            self._analysers[source_id] = analyser
            analyser.start()
            log.info("source %s: motion analysis on (%s)", source_id, slot.input)

    def _stop_analyser(self, source_id: int) -> None:
        analyser = self._analysers.get(source_id)
        if analyser is None:
            return
        analyser.stop()
        self._recorder.release_analysis(source_id)
        del self._analysers[source_id]  # "off" once the recorder no longer feeds it
        for change in analyser.finish():
            self._on_change(analyser, change, analyser.slot.latest().wall
                            if analyser.slot.latest() is not None else utcnow().timestamp())
        log.info("source %s: motion analysis off", source_id)

    def _close_left_open(self) -> None:
        """This station's motion events a stop or a crash left open."""
        try:
            for event in self._events.list(kind="motion", open=True, limit=1000):
                if event.station_id == self._events.station_id:
                    self._events.close(event.id)
        except CATALOG_ERRORS:
            log.warning("motion: could not close the motion events left open")

    # --- changes into events -------------------------------------------------------------
    def _on_change(self, analyser: SourceAnalyser, change: MotionChange, wall: float) -> None:
        """On the analyser's thread: a tracker change into events and the bus."""
        source_id = analyser.source_id
        zones = list(change.zones)
        try:
            if change.kind == "opened":
                analyser.zones = change.zones
                label = self._events.source_label(source_id)
                event = self._events.open(
                    "motion", source_id=source_id, begin=_wall(wall),
                    text=f"{label}: motion" + (f" in {', '.join(zones)}" if zones else ""),
                    data={"zones": zones})
                analyser.event_id = event.id
                self._bus.publish(MotionChanged(source_id, True, change.zones))
            elif change.kind == "zones":
                analyser.zones = change.zones
                self._bus.publish(MotionChanged(source_id, True, change.zones))
            elif change.kind == "closed":
                event_id = analyser.event_id
                try:
                    if event_id is not None:
                        self._events.close(event_id, data={"zones": zones}, end=_wall(wall))
                finally:  # not active once its event is closed (or could not be)
                    analyser.event_id = None
                self._bus.publish(MotionChanged(source_id, False, change.zones))
            elif change.kind == "constant_motion":
                label = self._events.source_label(source_id)
                share = analyser.settings.constant_motion_share
                self._events.instant(
                    "constant_motion", source_id=source_id,
                    text=f"{label}: in motion more than {share:.0%} of the last hour "
                         "(a spider web, rain or a moving tree?)",
                    data={"share": share})
        except CATALOG_ERRORS as exc:
            log.warning("source %s: motion %s not written (%s)", source_id, change.kind,
                        str(exc).splitlines()[0][:200])
