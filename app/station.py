"""The station: the core objects, built in one linear composition and handed to every front end.

`build_station` is read top to bottom, like Frigate's `app.py`: each step builds its objects
with everything they use as constructor arguments, from the objects of the steps above; no
object is handed a collaborator after it was built (`tests/test_architecture.py` checks this
module for it). Where two parts need each other (the recorder reports to the recordings that
drive it; uploads and exports count each other's reserved room), the earlier one gets a
function that asks the later one when called, never an attribute set afterwards.

Settings that change while the station runs live in one `LiveSettings` (`station.live`):
services read it when they decide; the parts that keep state built from it (the recorder's
workers, the outgoing-address policy, the storage guard, the Huawei Live configuration, the
site's name) follow it, registered in `follow_live_settings`. `SettingsService.change` is the
one way to change it (save, apply, audit).

Front ends receive a `Station` and use only its services, its event bus and its settings;
they never reach into the catalog or the recorder themselves.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Callable, Protocol

from sqlmodel import select

from app import __version__
from app.accounts.aksk import AkSkService
from app.identity import Identity
from app.layouts.service import LayoutService
from app.accounts.scope import ScopeService
from app.accounts.service import AccountService
from app.accounts.tokens import TokenService
from app.alarms.camera_watch import CameraWatch
from app.alarms.event_service import EventService
from app.alarms.raiser import EventRaiser
from app.catalog import Catalog
from app.dialects.device_connect.dc_auth import VIEWER_ONLY, DeviceConnectAuth
from app.dialects.device_connect.dc_recorder import MediaRecorderService
from app.dialects.huawei.live_record import LiveRecordService
from app.dialects.huawei.rtc_jobs import RtcJobService
from app.events import EventBus, SourceStatusChanged
from app.models import Source, SyncJob
from app.motion.service import MotionService
from app.motion_search import GridStore, MotionSearchService
from app.ptz.service import SOAP_TIMEOUT_S, PtzService
from app.evidence.jobs import EvidenceJobs
from app.evidence.keys import load_signing_key
from app.evidence.package import EvidenceService
from app.recordings.bookmarks import BookmarkService
from app.recordings.export import ExportService
from app.recordings.export_space import ExportLimits
from app.recordings.mode_keeper import ModeKeeper
from app.recordings.playback_plan import PlaybackPlans
from app.recordings.recordings import RecordingService
from app.recordings.storage import StorageService
from app.recordings.timeline import TimelineService
from app.schemas import GroupIn, SourceIn
from app.services.audit import AuditService
from app.services.devices import DeviceService
from app.services.discovery import Discovery
from app.services.groups import GroupService
from app.services.onvif_client import OnvifClient
from app.services.settings import SettingsService
from app.services.sources import SourceService
from app.settings import LiveSettings, Settings
from app.site.client import SiteClient
from app.site.stations import StationRegistry
from app.site.sync import SyncService
from app.site.uploads import UploadService
from app.uri_policy import Outgoing, TestPatternConfig, legacy_hosts
from recorder.manager import RecorderManager

log = logging.getLogger(__name__)

DEMO_PATTERNS = ("testsrc2", "smptebars", "testsrc", "rgbtestsrc")
DEMO_PREVIEW = (320, 180)  # the demo sources' preview stream: a quarter of the main one


class Bus(Protocol):
    """A remote-control surface the station starts and stops with itself: the MQTT bridge
    (`api.mqtt.bridge.MqttBridge`). The composition root hands its class to `start_station`;
    the core never imports a front end."""

    connected: bool  # GET /metrics shows it

    def start(self) -> None: ...

    def stop(self) -> None: ...


class FrontEnds:
    """The remote-control surfaces that start and stop with the station (the MQTT bus, when
    `mqtt_url` is set). They are built from the station itself, so they join it at start
    (`start_station`) rather than at construction; the station's own fields never change."""

    def __init__(self) -> None:
        self._buses: list[Bus] = []

    @property
    def mqtt(self) -> Bus | None:
        return self._buses[0] if self._buses else None

    def start(self, bus: Bus) -> None:
        self._buses.append(bus)
        bus.start()  # connects in the background; a broker that is down slows nothing

    def stop(self) -> None:
        while self._buses:
            self._buses.pop().stop()


@dataclass(frozen=True)
class Station:
    live: LiveSettings  # the settings of now (app.settings.LiveSettings)
    catalog: Catalog
    bus: EventBus
    # The one outgoing-address policy (recorder.outgoing) everything that connects asks.
    outgoing: Outgoing
    recorder: RecorderManager
    # The stations sharing the catalog, and who owns which source: see app.site.stations;
    # the site client asks the other stations what only they can do.
    site: StationRegistry
    peers: SiteClient
    audit: AuditService  # the audit trail of state changes (API guard middleware, GUI)
    settings_service: SettingsService  # save, apply and audit a change of settings
    # Finding ONVIF cameras (app.services.discovery); tests point its probes at a simulator.
    discovery: Discovery
    recordings: RecordingService
    sources: SourceService
    groups: GroupService
    sync: SyncService
    uploads: UploadService
    # Any time range of footage as MP4 (or a zip of them): see app.recordings.export.
    exports: ExportService
    # The storage guard and retention (docs/reliability.md): see app.recordings.storage.
    storage: StorageService
    # Marked moments, and the spans of a source over time (issue #16).
    bookmarks: BookmarkService
    timeline: TimelineService
    # What each source records by itself (its recording mode), kept so always.
    modes: ModeKeeper
    # The dialects' state machines: Device Connect, Huawei Live and SparkRTC.
    dc_auth: DeviceConnectAuth
    media_recorders: MediaRecorderService
    live_records: LiveRecordService
    rtc_jobs: RtcJobService
    # Events and alarms (#23 item 3): the one event model, what raises events from the bus,
    # and the watch that raises camera_lost / camera_back from the recorder's counters.
    events: EventService
    event_raiser: EventRaiser
    camera_watch: CameraWatch
    # Motion detection (#24): settings per source, an analyser per analysed source, motion
    # events; the mode keeper records `motion` sources from them.
    motion: MotionService
    # Synchronised playback's plans: which file holds which instant, per source (#25).
    playback: PlaybackPlans
    # Evidence packages (#25): exports sealed with a manifest signed by the station's own key,
    # made in the GUI or through an API job (app.evidence).
    evidence: EvidenceService
    evidence_jobs: EvidenceJobs
    # User accounts shared by the stations of the catalog (#26): the accounts, their sessions
    # and personal tokens, and what each one may see (roles: app.accounts.roles).
    accounts: AccountService
    tokens: TokenService
    scope: ScopeService
    # Huawei AK/SK pairs of the users, for the Huawei dialects' signatures (SK encrypted).
    aksk: AkSkService
    # Named wall layouts shared by the stations of the site (#27): app.layouts.
    layouts: LayoutService
    # Pan, tilt, zoom and presets of ONVIF cameras (#27 item 5): app.ptz, docs/ptz.md.
    ptz: PtzService
    # Motion search (#28): each analysed second's motion grid, stored per source and minute,
    # searched by region and summed into heat maps without decoding (app.motion_search).
    motion_grids: GridStore
    motion_search: MotionSearchService
    front_ends: FrontEnds = field(default_factory=FrontEnds)
    # This computer's capture devices (V4L2 cameras), for the GUI's form and GET /api/v1/device.
    devices: DeviceService = field(default_factory=DeviceService)
    version: str = __version__

    @property
    def settings(self) -> Settings:
        """The settings the station runs with now (`live.current`)."""
        return self.live.current

    @property
    def station_id(self) -> str:
        assert self.settings.station_id  # build_station gives every station one
        return self.settings.station_id

    @property
    def name(self) -> str:
        return self.settings.station_name

    @property
    def mqtt(self) -> Bus | None:
        """The MQTT bus, when `mqtt_url` is set and the station started (GET /metrics)."""
        return self.front_ends.mqtt


def build_station(settings: Settings) -> Station:
    """settings → catalog → recorder → site → services → dialects, wired; nothing started."""
    # --- 1. settings and the foundation ---------------------------------------------------
    live = LiveSettings(with_station_id(settings))
    settings = live.current
    catalog = Catalog(settings.database_url, data_dir=settings.data_dir).open()
    bus = EventBus()
    outgoing = Outgoing(settings.allowed_source_networks,
                        explicit="allowed_source_networks" in settings.model_fields_set,
                        legacy=legacy_hosts(stored_uris(catalog, settings)))
    settings.recordings_dir.mkdir(parents=True, exist_ok=True)

    # --- 2. the recorder: it reports to the recordings built below (step 4) --------------
    recorder = RecorderManager(
        preroll_bytes=settings.preroll_mb << 20, preroll_s=settings.preroll_s, policy=outgoing,
        on_status=lambda sid, status, error: bus.publish(SourceStatusChanged(sid, status, error)),
        on_failure=lambda record_id, reason: recordings.fail(record_id, reason),
        on_rollover=lambda *rolled: recordings.on_rollover(*rolled),  # on a thread of its own
        segment_s=settings.segment_s, fsync_s=settings.fsync_s,
        reconnect_max_s=settings.reconnect_max_s)

    # --- 3. the site: the stations sharing the catalog, and how they are asked -----------
    site = StationRegistry(
        catalog, station_id=settings.station_id, name=settings.station_name,
        url=settings.public_url, version=__version__, local_status=recorder.status,
        storage_dir=settings.recordings_dir, floor_bytes=lambda: live().disk_floor_mb << 20)
    peers = SiteClient(site, token=lambda: live().token, outgoing=outgoing)
    audit = AuditService(catalog, bus)
    discovery = Discovery(outgoing=outgoing)
    # Events and alarms: every room below raises its events into them (app.alarms).
    events = EventService(catalog, bus, station_id=settings.station_id)
    event_raiser = EventRaiser(events, bus, source_label=events.source_label)
    camera_watch = CameraWatch(events, recorder.counters)
    # The analysers hand each moving picture's changed pixels to the grids' store (#28).
    motion_grids = GridStore(catalog, station_id=settings.station_id)
    motion = MotionService(catalog, recorder, events, bus, station_id=settings.station_id,
                           default_pre_s=lambda: live().motion_pre_s, site=site, peers=peers,
                           on_grid=motion_grids.add)

    # --- 4. the domain services -----------------------------------------------------------
    floor_bytes = lambda: live().disk_floor_mb << 20  # noqa: E731 - read at each check
    # Retention leaves what a sync copies or an export cuts now (exports: step 4, below).
    busy = lambda: sync.busy_record_ids() | exports.space.busy_record_ids()  # noqa: E731
    recordings = RecordingService(catalog, recorder, bus, storage_dir=settings.recordings_dir,
                                  disk_floor_bytes=floor_bytes, busy=busy, peers=peers,
                                  station_id=settings.station_id, status_of=site.status)
    sources = SourceService(catalog, recorder, bus, settings=live, outgoing=outgoing, site=site,
                            peers=peers, fetch_snapshot=discovery.snapshot,
                            mode_state=lambda source_id: modes.state(source_id),
                            stop_mode_records=recordings.stop_mode_records)
    groups = GroupService(catalog, recorder, bus, status_of=site.status)
    sync = SyncService(catalog, live=live, token_file=settings.data_dir / "sync-tokens.json",
                       station_id=settings.station_id, bus=bus, outgoing=outgoing)
    # Uploads and exports' work files reserve room on the same disk: each counts the other's.
    uploads = UploadService(settings.recordings_dir, disk_floor_bytes=floor_bytes,
                            reserved_elsewhere=lambda: exports.space.outstanding_bytes())
    exports = ExportService(catalog, storage_dir=settings.recordings_dir, is_local=site.is_local,
                            limits=lambda: ExportLimits.of(live()),
                            reserved_elsewhere=uploads.outstanding_bytes, site_client=peers)
    storage = StorageService(
        catalog, recordings, bus, storage_dir=settings.recordings_dir,
        floor_bytes=settings.disk_floor_mb << 20, retention_days=settings.retention_days,
        retention_max_gb=settings.retention_max_gb, busy=busy, reclaim=exports.space.reclaim,
        retention_interval=settings.retention_check_s, prune_grids=motion_grids.prune)
    bookmarks = BookmarkService(catalog, bus, settings=live, events=events)
    timeline = TimelineService(catalog, events)  # the events of a range: the event service's
    modes = ModeKeeper(catalog, recordings, bus, station_id=settings.station_id,
                       motion_pre_s=lambda: live().motion_pre_s,
                       motion_capture=lambda source_id: _capture(motion.settings(source_id)))

    # --- 5. the dialects' state machines --------------------------------------------------
    tokens = TokenService(catalog)

    def dc_user() -> Identity:
        """Whom an approved Device Connect application acts as (`dc_user`), least privilege
        when it names no usable account."""
        name = live().dc_user
        found = tokens.identity_named(name, via="device connect") if name else None
        return found or VIEWER_ONLY

    dc_auth = DeviceConnectAuth(bus, auto_approve=lambda: live().dc_auto_approve,
                                token_ttl_s=lambda: live().dc_token_ttl_s, default_user=dc_user)
    media_recorders = MediaRecorderService(recordings, sources, bus,
                                           photos_dir=settings.recordings_dir / "photos")
    live_records = LiveRecordService(catalog, recordings, recorder, bus, outgoing=outgoing)
    configure_huawei(live_records, settings)
    rtc_jobs = RtcJobService(catalog, recordings, recorder, bus)

    # --- 6. what follows a change of settings, and the one way to change them -------------
    follow_live_settings(live, recorder=recorder, outgoing=outgoing, storage=storage,
                         site=site, live_records=live_records)
    settings_service = SettingsService(live, audit)
    # The station's own signing key, kept beside the credentials key (app.evidence.keys).
    signing_key = load_signing_key(catalog.key_dir, settings.data_dir)
    evidence = EvidenceService(catalog, exports, signing_key, station_id=settings.station_id,
                               station_name=lambda: live().station_name, version=__version__)
    return Station(live, catalog, bus, outgoing, recorder, site, peers, audit, settings_service,
                   discovery, recordings, sources, groups, sync, uploads, exports, storage,
                   bookmarks, timeline, modes, dc_auth, media_recorders, live_records, rtc_jobs,
                   events, event_raiser, camera_watch, motion, PlaybackPlans(recordings),
                   evidence, EvidenceJobs(evidence), AccountService(catalog, audit),
                   tokens, ScopeService(catalog), AkSkService(catalog),
                   LayoutService(catalog, bus), _ptz(sources, discovery, site, peers, outgoing),
                   motion_grids, MotionSearchService(catalog, motion_grids, recordings.overlapping,
                                                     site=site, peers=peers))


def _ptz(sources: SourceService, discovery: Discovery, site: StationRegistry, peers: SiteClient,
         outgoing: Outgoing) -> PtzService:
    """PTZ speaks to the camera a source keeps (`source.onvif`) with the ONVIF client of
    discovery (app.ptz may not import app.services: they are rooms of one layer), 2 s timeouts,
    the camera's refusals told."""
    def client_for(control: dict) -> OnvifClient:
        return OnvifClient(control["device"], control.get("username") or "",
                           control.get("password") or "", policy=outgoing(),
                           timeout_s=SOAP_TIMEOUT_S, tell_faults=True)

    return PtzService(sources.onvif_control, client_for, read_control=discovery.onvif_control,
                      store=sources.set_onvif, site=site, peers=peers)


def _capture(settings) -> tuple[float, float]:
    """A source's motion settings as the mode keeper takes them: (pre, post) capture."""
    return settings.pre_capture_s, settings.post_capture_s


def with_station_id(settings: Settings) -> Settings:
    """`settings` with a `station_id`: main() keeps one in the config file; without one (tests,
    scripts), one per data folder."""
    if settings.station_id:
        return settings
    station_id = str(uuid.uuid5(uuid.NAMESPACE_URL, settings.data_dir.as_uri()))
    return settings.model_copy(update={"station_id": station_id})


def follow_live_settings(live: LiveSettings, *, recorder: RecorderManager, outgoing: Outgoing,
                         storage: StorageService, site: StationRegistry,
                         live_records: LiveRecordService) -> None:
    """The parts that keep state built from the settings take each change at once: the
    recorder's workers (pre-roll, file segments, fsync, reconnection waits), the compiled
    outgoing-address policy, the storage guard's thresholds (it wakes to look again), the
    site's name, Huawei Live."""
    def apply(current: Settings) -> None:
        recorder.set_preroll(current.preroll_s, current.preroll_mb << 20)
        recorder.set_segment_s(current.segment_s)
        recorder.set_fsync_s(current.fsync_s)
        recorder.set_reconnect_max_s(current.reconnect_max_s)
        outgoing.update(current.allowed_source_networks,
                        explicit="allowed_source_networks" in current.model_fields_set)
        storage.configure(floor_bytes=current.disk_floor_mb << 20,
                          retention_days=current.retention_days,
                          retention_max_gb=current.retention_max_gb)
        site.rename(current.station_name)
        configure_huawei(live_records, current)
    live.follow(apply)


def stored_uris(catalog: Catalog, settings: Settings) -> list[str | None]:
    """What the station already connected to before `allowed_source_networks` existed: its
    sources' addresses, its sync jobs' station URLs and its callback URL (`legacy_hosts`
    keeps the hosts of these the default networks leave out, while the setting is unset)."""
    with catalog.session() as s:
        sources = s.exec(select(Source)).all()
        locations = s.exec(select(SyncJob.location)).all()
    uris: list[str | None] = [settings.huawei_callback_url, *locations]
    for row in sources:
        picture = row.uri_http_picture or {}
        uris += [row.uri_rtsp, row.uri_preview, row.uri_snapshot,
                 picture.get("uri") if isinstance(picture, dict) else None]
    return uris


def configure_huawei(live_records: LiveRecordService, settings: Settings) -> None:
    live_records.configure(project_id=settings.huawei_project_id,
                           publish_domains=settings.huawei_publish_domains,
                           interrupt_s=settings.huawei_interrupt_s,
                           callback_url=settings.huawei_callback_url)


def apply_settings(station: Station, new: Settings) -> set[str]:
    """Take over the settings a running station can change from `new` (`LiveSettings.take`);
    return the changed fields that wait for a restart. Without saving or auditing: the
    operator's way is `station.settings_service.change`."""
    return station.live.take(new)


def start_station(station: Station, *, mqtt: Callable[[Station], Bus] | None = None) -> None:
    """Start the station, one step after the other; a check that must refuse to start goes
    first. Last, the MQTT bus when `mqtt_url` is set, built by `mqtt` (the composition root
    passes `api.mqtt.bridge.MqttBridge`: the core knows no front end)."""
    station.audit.start()  # the audit writer (it purges old entries first)
    station.event_raiser.start()  # before anything that publishes what it turns into events
    station.site.start()  # registers (adopting rows no station owns yet), then heartbeats
    station.recordings.recover_interrupted()  # closes what a crash left open
    station.rtc_jobs.recover_interrupted()
    station.sync.start()  # resumes unfinished sync jobs
    station.uploads.start()  # removes uploads abandoned for 24 h, then sweeps hourly
    if station.settings.demo and not station.sources.list():
        seed_demo(station)
    station.sources.start_all()
    station.site.on_beat.append(station.sources.reconcile)  # what other stations changed
    station.storage.start()  # retention's first pass, then the guard's looks
    station.camera_watch.start()  # camera_lost / camera_back from the readers' counters
    station.motion_grids.start()  # stores the analysers' motion grids, minute by minute
    station.motion.start()  # an analyser for each source whose motion detection is on
    station.site.on_beat.append(station.motion.refresh)  # settings other stations stored
    station.exports.start()  # times out exports whose reader stalls
    station.modes.start()  # sources whose mode says record: recording, from now on, always
    if station.settings.mqtt_url and mqtt is not None:
        station.front_ends.start(mqtt(station))


def seed_demo(station: Station) -> None:
    """Four test-pattern cameras in a group `demo`, so a first run shows something real."""
    log.info("empty catalog: creating the demo sources")
    group = station.groups.create(GroupIn(name="demo"))
    for i, pattern in enumerate(DEMO_PATTERNS, start=1):
        source = station.sources.create(SourceIn(
            name=f"demo-{i}", uri_rtsp=TestPatternConfig(pattern=pattern).uri(),
            # a small stream of the same pattern: the first wall a new user sees moves at the
            # full rate (a grid tile without one shows its main stream's keyframes only)
            uri_preview=TestPatternConfig(width=DEMO_PREVIEW[0], height=DEMO_PREVIEW[1],
                                          pattern=pattern).uri(),
            description=f"Built-in test pattern ({pattern}) with a wall clock",
        ))
        station.groups.add_source(group.id, source.id)


def stop_station(station: Station) -> None:
    """Pause syncing (it resumes on the next start), finalize recordings, stop the readers,
    write the audit entries still queued, close the catalog."""
    station.modes.stop()  # first: nothing may start again while the station stops
    station.motion.stop()  # closes the motion events still open
    station.motion_grids.stop()  # stores the grids still in memory (the analysers stopped)
    station.camera_watch.stop()
    station.storage.stop()
    station.exports.stop()  # cancels the exports in progress, removes their work files
    station.sync.stop()
    station.uploads.stop()
    station.rtc_jobs.shutdown()
    finished = station.recordings.stop_all()
    if finished:
        log.info("finalized %d recording(s) on shutdown", len(finished))
    station.recordings.close()  # what the catalog could not take yet: one last try
    station.event_raiser.stop()  # writes the last stops' events
    station.front_ends.stop()  # after the last stop events, then "offline"
    station.site.stop()  # the others see it offline at once
    station.live_records.shutdown()
    station.recorder.shutdown()
    station.audit.stop()
    station.catalog.close()
