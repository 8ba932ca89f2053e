"""The station: the core objects built and wired together, handed to every front end.

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
from app.catalog import Catalog
from app.dialects.device_connect.dc_auth import DeviceConnectAuth
from app.dialects.device_connect.dc_recorder import MediaRecorderService
from app.dialects.huawei.live_record import LiveRecordService
from app.dialects.huawei.rtc_jobs import RtcJobService
from app.events import EventBus, SourceStatusChanged
from app.models import Source, SyncJob
from app.recordings.bookmarks import BookmarkService
from app.recordings.export import ExportService
from app.recordings.export_space import ExportLimits
from app.recordings.recordings import RecordingService
from app.recordings.storage import StorageService
from app.recordings.timeline import TimelineService
from app.schemas import GroupIn, SourceIn
from app.services.audit import AuditService
from app.services.discovery import Discovery
from app.services.groups import GroupService
from app.services.sources import SourceService
from app.settings import RESTART_FIELDS, Settings
from app.site.client import SiteClient
from app.site.stations import StationRegistry
from app.site.sync import SyncService
from app.site.uploads import UploadService
from app.uri_policy import Outgoing, legacy_hosts
from recorder.manager import RecorderManager

log = logging.getLogger(__name__)

DEMO_PATTERNS = ("testsrc2", "smptebars", "testsrc", "rgbtestsrc")


class Bus(Protocol):
    """A remote-control surface the station starts and stops with itself: the MQTT bridge
    (`api.mqtt.bridge.MqttBridge`). The composition root hands its class to `start_station`;
    the core never imports a front end."""

    connected: bool  # GET /metrics shows it

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class Station:
    settings: Settings
    catalog: Catalog
    bus: EventBus
    recorder: RecorderManager
    sources: SourceService
    groups: GroupService
    recordings: RecordingService
    sync: SyncService
    uploads: UploadService
    # Device Connect: built from the others (see __post_init__)
    dc_auth: DeviceConnectAuth = field(init=False)
    media_recorders: MediaRecorderService = field(init=False)
    live_records: LiveRecordService
    rtc_jobs: RtcJobService
    # The audit trail of state changes (API guard middleware, GUI): see app.services.audit.
    audit: AuditService = field(init=False)
    # The storage guard and retention (docs/reliability.md): see app.recordings.storage.
    storage: StorageService = field(init=False)
    # The stations sharing the catalog, and who owns which source: see app.site.stations.
    site: StationRegistry = field(init=False)
    peers: SiteClient = field(init=False)  # the site client: asks the other stations
    # Marked moments, and the spans of a source over time (issue #16): app.recordings.bookmarks,
    # app.recordings.timeline.
    bookmarks: BookmarkService = field(init=False)
    timeline: TimelineService = field(init=False)
    # Any time range of footage as MP4 (or a zip of them): see app.recordings.export.
    exports: ExportService = field(init=False)
    # The MQTT bus, when `mqtt_url` is set (built by start_station with what app.main hands it).
    mqtt: Bus | None = field(init=False, default=None)
    # Finding ONVIF cameras (app.services.discovery); tests point its probes at a simulator.
    discovery: Discovery = field(default_factory=Discovery)
    # The one outgoing-address policy (recorder.outgoing) everything that connects asks.
    outgoing: Outgoing = field(default_factory=Outgoing)
    version: str = __version__

    @property
    def station_id(self) -> str:
        assert self.settings.station_id  # build_station gives every station one
        return self.settings.station_id

    @property
    def name(self) -> str:
        return self.settings.station_name

    def _busy_record_ids(self) -> set[str]:
        """Records retention must leave now: a sync copies them, or an export cuts them."""
        return self.sync.busy_record_ids() | self.exports.space.busy_record_ids()

    def __post_init__(self) -> None:
        # Both read `self.settings` per request: apply_settings replaces it on a running station.
        self.sources.settings = lambda: self.settings  # media_dirs, max_sources (uri_policy)
        self.discovery.outgoing = self.outgoing
        self.dc_auth = DeviceConnectAuth(
            self.bus, auto_approve=lambda: self.settings.dc_auto_approve,
            token_ttl_s=lambda: self.settings.dc_token_ttl_s)
        self.media_recorders = MediaRecorderService(
            self.recordings, self.sources, self.bus,
            photos_dir=self.settings.recordings_dir / "photos")
        self.audit = AuditService(self.catalog, self.bus)
        self.bookmarks = BookmarkService(self.catalog, self.bus, settings=lambda: self.settings)
        self.timeline = TimelineService(self.catalog)
        self.storage = StorageService(
            self.catalog, self.recordings, self.bus, storage_dir=self.settings.recordings_dir,
            floor_bytes=self.settings.disk_floor_mb << 20,
            retention_days=self.settings.retention_days,
            retention_max_gb=self.settings.retention_max_gb, busy=self.sync.busy_record_ids)
        self.site = StationRegistry(
            self.catalog, station_id=self.station_id, name=self.settings.station_name,
            url=self.settings.public_url, version=self.version, local_status=self.recorder.status,
            storage_dir=self.settings.recordings_dir,
            floor_bytes=lambda: self.settings.disk_floor_mb << 20)
        self.sources.site = self.site
        self.sources.fetch_snapshot = self.discovery.snapshot  # a tile's picture before frames
        self.peers = SiteClient(self.site, token=lambda: self.settings.token,
                                outgoing=self.outgoing)
        self.exports = ExportService(self.catalog, storage_dir=self.settings.recordings_dir,
                                     is_local=self.site.is_local,
                                     limits=lambda: ExportLimits.of(self.settings),
                                     reserved_elsewhere=self.uploads.outstanding_bytes,
                                     site_client=self.peers)
        # Exports' work files: room reserved beside the uploads', given back before footage.
        self.uploads.reserved_elsewhere = self.exports.space.outstanding_bytes
        self.storage.reclaim = self.exports.space.reclaim
        self.storage.busy = self.recordings.busy = self._busy_record_ids
        self.recordings.peers = self.sources.peers = self.peers
        self.recordings.station_id = self.sync.station_id = self.station_id
        self.recordings.status_of = self.groups.status_of = self.site.status


def build_station(settings: Settings) -> Station:
    """settings → catalog → services → recorder, wired; nothing started yet."""
    if not settings.station_id:  # main() keeps one in the config file; else: one per data folder
        station_id = str(uuid.uuid5(uuid.NAMESPACE_URL, settings.data_dir.as_uri()))
        settings = settings.model_copy(update={"station_id": station_id})
    catalog = Catalog(settings.database_url, data_dir=settings.data_dir).open()
    bus = EventBus()
    outgoing = Outgoing(settings.allowed_source_networks,
                        explicit="allowed_source_networks" in settings.model_fields_set,
                        legacy=legacy_hosts(stored_uris(catalog, settings)))
    recorder = RecorderManager(preroll_bytes=settings.preroll_mb << 20, preroll_s=settings.preroll_s,
                               policy=outgoing)
    settings.recordings_dir.mkdir(parents=True, exist_ok=True)
    recordings = RecordingService(catalog, recorder, bus, storage_dir=settings.recordings_dir,
                                  disk_floor_bytes=settings.disk_floor_mb << 20)
    recorder.set_callbacks(
        on_status=lambda sid, status, error: bus.publish(SourceStatusChanged(sid, status, error)),
        on_failure=lambda record_id, reason: recordings.fail(record_id, reason),
        on_rollover=recordings.on_rollover,  # on a thread of the recorder's own
    )
    recorder.set_segment_s(settings.segment_s)
    recorder.set_fsync_s(settings.fsync_s)
    sync = SyncService(catalog, station_name=settings.station_name,
                       token_file=settings.data_dir / "sync-tokens.json", bus=bus,
                       sync_dirs=settings.sync_dirs, outgoing=outgoing)
    recordings.busy = sync.busy_record_ids  # retention's expire leaves what a sync copies
    uploads = UploadService(settings.recordings_dir, disk_floor_bytes=settings.disk_floor_mb << 20)
    live_records = LiveRecordService(catalog, recordings, recorder, bus)
    live_records.outgoing = outgoing  # its callbacks connect through the policy
    configure_huawei(live_records, settings)
    return Station(settings, catalog, bus, recorder,
                   SourceService(catalog, recorder, bus, outgoing=outgoing),
                   GroupService(catalog, recorder, bus),
                   recordings, sync, uploads, live_records=live_records,
                   rtc_jobs=RtcJobService(catalog, recordings, recorder, bus), outgoing=outgoing)


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
    """Take over the settings a running station can change (disk floor, retention, file
    segments, fsync, pre-roll, station name, the dialects' identifiers, read per request
    from `station.settings`); return the changed fields that wait for a restart
    (`RESTART_FIELDS`), which stay as they run."""
    old = station.settings
    changed = {name for name in Settings.model_fields if getattr(old, name) != getattr(new, name)}
    live = {name: getattr(new, name) for name in changed - RESTART_FIELDS}
    station.settings = current = old.model_copy(update=live)
    floor = current.disk_floor_mb << 20
    station.recordings.disk_floor_bytes = station.uploads.disk_floor_bytes = floor
    station.storage.configure(floor_bytes=floor, retention_days=current.retention_days,
                              retention_max_gb=current.retention_max_gb)
    station.sync.station_name = station.site.name = current.station_name
    station.sync.sync_dirs = list(current.sync_dirs)
    station.outgoing.update(current.allowed_source_networks,
                            explicit="allowed_source_networks" in current.model_fields_set)
    station.recorder.set_preroll(current.preroll_s, current.preroll_mb << 20)
    station.recorder.set_segment_s(current.segment_s)
    station.recorder.set_fsync_s(current.fsync_s)
    configure_huawei(station.live_records, current)
    return changed & RESTART_FIELDS


def start_station(station: Station, *, mqtt: Callable[[Station], Bus] | None = None) -> None:
    """Close what a crash left open, seed the demo on an empty catalog, start the readers,
    resume unfinished sync jobs, start the audit writer (it purges old entries first); last,
    the MQTT bus when `mqtt_url` is set, built by `mqtt` (the composition root passes
    `api.mqtt.bridge.MqttBridge`: the core knows no front end)."""
    station.audit.start()
    station.site.start()  # registers (adopting rows no station owns yet), then heartbeats
    station.recordings.recover_interrupted()
    station.rtc_jobs.recover_interrupted()
    station.sync.start()
    station.uploads.start()  # removes uploads abandoned for 24 h, then sweeps hourly
    if station.settings.demo and not station.sources.list():
        seed_demo(station)
    station.sources.start_all()
    station.site.on_beat.append(station.sources.reconcile)  # what other stations changed
    station.storage.start()  # retention's first pass, then the guard's looks
    station.exports.start()  # times out exports whose reader stalls
    if station.settings.mqtt_url and mqtt is not None:
        station.mqtt = mqtt(station)
        station.mqtt.start()  # connects in the background; a broker that is down slows nothing


def seed_demo(station: Station) -> None:
    """Four test-pattern cameras in a group `demo`, so a first run shows something real."""
    log.info("empty catalog: creating the demo sources")
    group = station.groups.create(GroupIn(name="demo"))
    for i, pattern in enumerate(DEMO_PATTERNS, start=1):
        source = station.sources.create(SourceIn(
            name=f"demo-{i}", uri_rtsp=f"testsrc://{pattern}?size=640x360&rate=25&gop=2",
            description=f"Built-in test pattern ({pattern}) with a wall clock",
        ))
        station.groups.add_source(group.id, source.id)


def stop_station(station: Station) -> None:
    """Pause syncing (it resumes on the next start), finalize recordings, stop the readers,
    write the audit entries still queued, close the catalog."""
    station.storage.stop()
    station.exports.stop()  # cancels the exports in progress, removes their work files
    station.sync.stop()
    station.uploads.stop()
    station.rtc_jobs.shutdown()
    finished = station.recordings.stop_all()
    if finished:
        log.info("finalized %d recording(s) on shutdown", len(finished))
    station.recordings.close()  # what the catalog could not take yet: one last try
    if station.mqtt is not None:
        station.mqtt.stop()  # after the last stop events, then "offline"
    station.site.stop()  # the others see it offline at once
    station.live_records.shutdown()
    station.recorder.shutdown()
    station.audit.stop()
    station.catalog.close()
