"""Sources: the cameras and other inputs. Saving a source (re)starts its reader.

Every address is checked by `app.uri_policy` when it is saved, and again by the reader
before each connection attempt (the `media_dirs` setting may have changed, a symlink may
point elsewhere now): a stored source that breaks the rules is never opened, its status says
why. The number of sources is capped by the `max_sources` setting.

`probe` is "Test connection": the address a client typed, opened under the same policy a
saved source obeys, for its first picture; nothing is stored and no reader starts.

Where an address may lead is the station's one outgoing policy (`outgoing`, the
`allowed_source_networks` setting): a host written as an address is checked when the source
is saved (a metadata address is a 422 naming the field), a name on what it resolves to before
each connection attempt, and the recorder connects to the very address it checked.

A source whose stored credentials this station's key does not open (written with another
key: `app.credentials.Unreadable`) is listed like any other, saying "credentials unreadable
on this station", logged once, and never read; entering its address again repairs it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from urllib.parse import unquote, urlsplit, urlunsplit
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from app.catalog import Catalog
from app.catalog_rows import get_source
from app.credentials import UNREADABLE, is_unreadable
from app.dto import source_out, unreadable_fields
from app.errors import Conflict, InvalidInput
from app.events import CatalogChanged, EventSink
from app.ffmpeg_cmd import profile_of
from app.models import Record, Source, Tag
from app.record_modes import RecordMode, mode_tags
from app.schemas import (
    HttpPicture,
    RecordStatus,
    SourceIn,
    SourceModel,
    SourceOut,
    SourceStatus,
    unmask_picture,
    unmask_uri,
)
from app.services.metrics_sources import SourceStats, source_stats
from app.site.client import SiteClient
from app.site.remote_feed import RemoteFeeds
from app.site.stations import StationRegistry
from app.uri_policy import PICTURE_SCHEMES, SOURCE_SCHEMES, check_uri, media_path
from recorder.frames import FrameSlot
from recorder.imaging import encode_jpeg
from recorder.inputs import UNREACHABLE, InputError, RefusedInput, file_path, public_reason
from recorder.manager import LiveStats, RecorderManager, UnknownSource
from recorder.outgoing import OutgoingPolicy
from recorder.picture import PictureSpec
from recorder.probe import PROBE_TIMEOUT_S, first_picture
from recorder.redact import redact
from recorder.worker import SourceSpec

DEFAULT_MAX_SOURCES = 256
log = logging.getLogger(__name__)
SNAPSHOT_QUALITY = 90  # a kept snapshot is evidence: finer than the live JPEGs (80)


class RecordingNow(Conflict):
    """The change needs the source's reader stopped, and it records (409 like any conflict)."""


class SourceProbe(BaseModel):
    """What "Test connection" found at an address: its first picture and what the stream
    is, or why there is none (`ok` false)."""

    ok: bool
    seconds: float = Field(description="from asking to the first picture, or to giving up")
    jpeg: bytes | None = Field(default=None, exclude=True, description="the first picture")
    width: int | None = None
    height: int | None = None
    codec: str | None = None
    fps: float | None = None
    interval: float | None = Field(default=None, description="a snapshot camera: seconds "
                                                             "between two pictures")
    audio: str | None = Field(default=None, description="the audio codec, if any")
    error: str | None = Field(default=None, description="why there is no picture, in the "
                                                        "words any client may read")
    # FFmpeg's own words ("Connection refused", "401 Unauthorized"), credentials masked: for
    # the operator at the station, who typed the address. Never in a serialised answer: for
    # a remote client it would tell which hosts and ports answer (an oracle), hence `error`.
    detail: str | None = Field(default=None, exclude=True)

    def summary(self) -> str:
        """`640×360 · h264 · 25 fps · audio aac`"""
        parts = [f"{self.width}×{self.height}", self.codec or "?"]
        if self.interval is not None:
            parts.append(f"a picture every {self.interval:g} s")
        elif self.fps:
            parts.append(f"{self.fps:.3g} fps")
        if self.audio:
            parts.append(f"audio {self.audio}")
        return " · ".join(parts)


class SourceService:
    """`settings`: returns the station's live settings (their `media_dirs` and `max_sources`
    are read on every call); without it no file source is allowed and at most 256 sources."""

    def __init__(self, catalog: Catalog, recorder: RecorderManager, bus: EventSink,
                 settings: Callable[[], object] | None = None,
                 outgoing: Callable[[], OutgoingPolicy] | None = None, *,
                 site: StationRegistry | None = None, peers: SiteClient | None = None,
                 fetch_snapshot: Callable[[str, str, str], bytes] | None = None,
                 mode_state: Callable[[int], str | None] | None = None,
                 stop_mode_records: Callable[..., list] | None = None):
        """`settings`: the station's `LiveSettings` (media_dirs, max_sources, read at each
        check); `site`, `peers`: the stations sharing the catalog and how they are asked
        (None: a station alone); `fetch_snapshot`: how a camera's snapshot URL is fetched;
        `mode_state`: what a source's recording mode does now (the mode keeper's `state`);
        `stop_mode_records`: ends the records a source's mode owns, so that deleting or
        re-addressing a source that records by itself is not refused for its own mode."""
        self.catalog, self.recorder, self.bus = catalog, recorder, bus
        self.settings = settings
        # The outgoing-address policy of now; without it, loopback and private networks.
        self.outgoing: Callable[[], OutgoingPolicy] = outgoing or OutgoingPolicy
        self._create_lock = threading.Lock()  # counting and adding a source, one at a time
        # The site this station belongs to (app.site.stations); None = a station alone.
        self.site = site
        self._fingerprints: dict[int, tuple] = {}  # what `reconcile` saw of each source
        self._reading: set[int] = set()  # sources this service started readers for
        self._readers_lock = threading.RLock()  # reconcile (heartbeat) vs. changes (API, GUI)
        # How a camera's snapshot URL is fetched: (bare URL, user, password) -> JPEG bytes; the
        # station hands in its ONVIF client's (HTTP digest, local network only).
        self.fetch_snapshot = fetch_snapshot
        self._mode_state = mode_state or (lambda _source_id: None)
        self._stop_mode_records = stop_mode_records or (lambda _source_id: None)
        self.peers = peers  # how other stations are asked (with `site`)
        self._remote: RemoteFeeds | None = None  # other stations' sources someone here watches
        self._remote_lock = threading.Lock()  # never held over a catalog read: tiles ask
        # Sources whose stored credentials this station's key does not open (each logged once).
        self._unreadable: set[int] = set()

    # --- the live settings this service obeys --------------------------------------------
    def media_dirs(self) -> list[Path]:
        current = self.settings() if self.settings is not None else None
        return list(getattr(current, "media_dirs", None) or [])

    def max_sources(self) -> int:
        current = self.settings() if self.settings is not None else None
        return int(getattr(current, "max_sources", None) or DEFAULT_MAX_SOURCES)

    # --- queries -------------------------------------------------------------------
    def status(self, source_id: int) -> tuple[str, str | None]:
        """Wherever the source is read: this station's recorder, or its owner's heartbeat."""
        if self.site is not None:
            return self.site.status(source_id)
        return self.recorder.status(source_id)

    def live_stats(self, source_id: int) -> LiveStats:
        """Status, last error, next retry time and measured fps, from memory (no catalog
        read), cheap enough for a tile to ask every second. Another station's source: its
        owner's word (heartbeat, or offline and why) and the rate its pictures arrive here."""
        remote = self._remote_feeds(source_id)
        if remote is not None:
            return remote.live_stats(source_id)
        if source_id in self._unreadable:
            return LiveStats(SourceStatus.error, UNREADABLE, None, 0.0)
        return self.recorder.live_stats(source_id)

    def stats(self) -> list[SourceStats]:
        """Every source this station reads, with its counters, for monitoring (`GET
        /metrics`): one catalog query whatever the number of sources."""
        return source_stats(self.catalog, self.recorder)

    def retry_now(self, source_id: int) -> None:
        """An operator opened the source (tile focused, Test connection): a reader waiting
        out an idle backoff (up to 30 s) connects at once instead."""
        self.get(source_id)
        try:
            self.recorder.retry_now(source_id)
        except UnknownSource:
            raise Conflict(f"source {source_id} is not being read", field="source_id") from None

    def list(self) -> list[SourceOut]:
        with self.catalog.session() as s:
            rows = s.exec(select(Source).order_by(Source.id)).all()
            self._note_unreadable(rows)
            return [source_out(r, self.status(r.id), self._mode_state(r.id)) for r in rows]

    def get(self, source_id: int) -> SourceOut:
        with self.catalog.session() as s:
            row = get_source(s, source_id)
            self._note_unreadable([row])
            return source_out(row, self.status(source_id), self._mode_state(source_id))

    def onvif_control(self, source_id: int) -> dict | None:
        """The source's ONVIF control endpoint (`source.onvif`, docs/ptz.md), login included:
        for `app.ptz` only, never for an answer; None when it has none or this station's key
        cannot open it."""
        with self.catalog.session() as s:
            control = get_source(s, source_id).onvif
        return control if isinstance(control, dict) and not is_unreadable(control) else None

    def set_onvif(self, source_id: int, control: dict | None) -> None:
        """Keep (None: forget) the source's ONVIF control endpoint: what Find cameras read of
        its camera's PTZ service (`Discovery.onvif_control`)."""
        with self.catalog.session() as s:
            row = get_source(s, source_id)
            row.onvif = dict(control) if control else None
            s.add(row)
            self._flush(s)
        self.bus.publish(CatalogChanged("source", source_id, "updated"))

    # --- changes -------------------------------------------------------------------
    def create(self, data: SourceIn) -> SourceOut:
        model = data.model or SourceModel.source
        fields = self._validated(data, model, stored=None)
        limit = self.max_sources()
        with self._create_lock, self.catalog.session() as s:
            if len(s.exec(select(Source.id)).all()) >= limit:
                raise InvalidInput(f"the station holds its limit of {limit} sources "
                                   f"(max_sources = {limit}): delete one first",
                                   field="max_sources")
            row = Source(name=data.name or f"pending-{uuid.uuid4().hex}", model=model.value,
                         station_id=self._target_station(data.station), **fields)
            s.add(row)
            self._flush(s)
            if data.name is None:
                row.name = f"source-{row.id}"
                self._flush(s)
            s.refresh(row)
        self._adopted(row)
        self.bus.publish(CatalogChanged("source", row.id, "created"))
        return self.get(row.id)

    def update(self, source_id: int, data: SourceIn) -> SourceOut:
        try:
            return self._update(source_id, data)
        except RecordingNow:
            # a source that records by itself: the operator's change wins over its mode (a
            # client's records still refuse it); the keeper records again afterwards
            with self.catalog.session() as s:
                row = get_source(s, source_id)
                tags = mode_tags(row.record_mode, row.record_tag, row.record_schedule)
                only_mode = not [t for t in self._running_tags(s, source_id) if t not in tags]
            if not (tags and only_mode and self._end_mode_records(source_id, tags)):
                raise
            return self._update(source_id, data)

    def _update(self, source_id: int, data: SourceIn) -> SourceOut:
        with self.catalog.session() as s:
            row = get_source(s, source_id)
            self._check_owner_online(row)
            model = data.model or SourceModel(row.model)
            fields = self._validated(data, model, stored=row)
            uri_changed = fields.get("uri_rtsp", row.uri_rtsp) != row.uri_rtsp or (
                "enabled" in fields and fields["enabled"] != row.enabled)
            if uri_changed and self._is_recording(s, source_id):
                raise RecordingNow("the source is recording: stop it before changing its address",
                               field="uri_rtsp")
            if data.station is not None and data.station != row.station_id:
                fields["station_id"] = self._target_station(data.station)
                if self._is_recording(s, source_id):
                    raise RecordingNow("the source is recording: stop it before moving it to "
                                   "another station", field="station")
            for key, value in fields.items():
                setattr(row, key, value)
            row.model = model.value
            if data.name is not None:
                row.name = data.name
            s.add(row)
            self._flush(s)
            s.refresh(row)
        self._adopted(row)
        self.bus.publish(CatalogChanged("source", source_id, "updated"))
        return self.get(source_id)

    def delete(self, source_id: int) -> SourceOut:
        with self.catalog.session() as s:
            row = get_source(s, source_id)
            self._check_owner_online(row)
            tags = mode_tags(row.record_mode, row.record_tag, row.record_schedule)
            clients = [t for t in self._running_tags(s, source_id) if t not in tags]
            if tags and not clients and self.recorder.has_source(source_id):
                row.record_mode = "manual"  # the keeper starts nothing more for it
                s.add(row)
                self._flush(s)
            else:
                tags = set()
        if tags:
            self._end_mode_records(source_id, tags)
        with self.catalog.session() as s:
            row = get_source(s, source_id)
            if self._is_recording(s, source_id):
                raise Conflict("the source is recording: stop its recordings first", field="source_id")
            out = source_out(row, (SourceStatus.offline, None))
            s.delete(row)
        with self._readers_lock:
            self._reading.discard(source_id)
            self.recorder.remove_source(source_id)
        self.bus.publish(CatalogChanged("source", source_id, "deleted"))
        return out

    def _end_mode_records(self, source_id: int, tags: set[str] | None = None) -> bool:
        """Stop what the source's own mode records here (a client's records stay, and still
        refuse the change); whether anything was stopped."""
        if not self.recorder.has_source(source_id):
            return False
        return bool(self._stop_mode_records(source_id, tags))

    @staticmethod
    def _running_tags(session, source_id: int) -> list[str]:
        rows = session.exec(select(Tag.name).join(Record, Record.tag_id == Tag.id).where(
            Record.source_id == source_id, Record.status == RecordStatus.recording)).all()
        return list(rows)

    def start_all(self) -> None:
        """Start a reader for every enabled source of this station (station start-up)."""
        self.reconcile(publish=False)

    def reconcile(self, publish: bool = True) -> None:
        """Readers for exactly this station's enabled sources, as the catalog has them now:
        after each heartbeat, so what another station created, edited, moved here or away
        is read (or no longer) within a beat; a change seen publishes `CatalogChanged`, so
        the front ends of every station show it."""
        with self._readers_lock:
            self._reconcile(publish)

    def _reconcile(self, publish: bool) -> None:
        with self.catalog.session() as s:
            rows = s.exec(select(Source).order_by(Source.id)).all()
        self._note_unreadable(rows)
        seen = {row.id: (row.name, row.model, row.uri_rtsp, row.uri_preview,
                         repr(row.uri_http_picture),
                         row.enabled, row.station_id, row.description) for row in rows}
        mine = [row for row in rows if self._is_mine(row)]
        for row in mine:
            self._start_reader(row)  # no-op for a reader whose address is unchanged
        for source_id in self._reading - {row.id for row in mine}:
            self._reading.discard(source_id)
            self.recorder.remove_source(source_id)
        before, self._fingerprints = self._fingerprints, seen
        if publish:
            for source_id in before.keys() | seen.keys():
                if before.get(source_id) != seen.get(source_id):
                    action = ("deleted" if source_id not in seen else
                              "created" if source_id not in before else "updated")
                    self.bus.publish(CatalogChanged("source", source_id, action))

    # --- pictures ------------------------------------------------------------------
    def frames(self, source_id: int, preview: bool = False) -> FrameSlot:
        """The source's latest-frame slot: its reader's here, or for another station's source
        one fed from the owner's MJPEG while somebody watches (app.site.remote_feed).
        With `preview`, its preview stream's slot when it has one (a grid tile), else the
        main stream's: the same object as without, so a caller can tell."""
        self.get(source_id)
        remote = self._remote_feeds(source_id)
        if remote is not None:
            return remote.slot(source_id)
        try:
            return self.recorder.frames(source_id, preview)
        except UnknownSource:
            raise Conflict(f"source {source_id} is not being read", field="source_id") from None

    def picture_jpeg(self, source_id: int) -> bytes:
        """The latest frame as JPEG; Conflict when no picture has arrived yet."""
        self.get(source_id)
        try:
            slot = self.recorder.frames(source_id)
            rgb = self.recorder.snapshot(source_id)
        except UnknownSource:
            raise Conflict(f"source {source_id} is not being read", field="source_id") from None
        if rgb is None:
            status, error = self.status(source_id)
            raise Conflict(f"no picture from source {source_id} yet ({status}"
                           + (f": {error})" if error else ")"), field="source_id")
        latest = slot.latest()
        if latest is not None and not latest.shrunk and latest.rgb is rgb:
            cached = slot.jpeg()  # the slot's JPEG of this very picture, encoded once
            if cached is not None and cached[0] == latest.seq:
                return cached[1]
        return encode_jpeg(rgb)

    def full_picture_jpeg(self, source_id: int) -> bytes:
        """The main stream's newest picture at its full size as JPEG (#27 item 4: the
        snapshot a user keeps), never the preview stream's nor one made small for the wall's
        tiles: the recorder's snapshot (a fresh decoded frame, the next one when tiles shrink
        them, else the GOP's keyframe decoded now). Conflict while there is none at full
        size. Blocking (a decode): off the event loop and the GUI thread."""
        self.get(source_id)
        try:
            slot = self.recorder.frames(source_id)  # the main stream's, not the preview's
            rgb = self.recorder.snapshot(source_id)
        except UnknownSource:
            raise Conflict(f"source {source_id} is not being read", field="source_id") from None
        latest = slot.latest()
        full = latest.full_size if latest is not None else None
        if rgb is None or (full is not None and (rgb.shape[1], rgb.shape[0]) != full):
            status, error = self.status(source_id)
            raise Conflict(f"no full-size picture from source {source_id} yet ({status}"
                           + (f": {error})" if error else ")"), field="source_id")
        return encode_jpeg(rgb, quality=SNAPSHOT_QUALITY)

    def snapshot_jpeg(self, source_id: int) -> bytes | None:
        """The camera's own snapshot (`uri_snapshot`): what a tile shows before its first
        frame. None when the source has no snapshot URL. Blocking (an HTTP request)."""
        with self.catalog.session() as s:
            uri = get_source(s, source_id).uri_snapshot
        if not uri or self.fetch_snapshot is None:
            return None
        parts = urlsplit(uri)
        bare = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2], fragment=""))
        return self.fetch_snapshot(bare, unquote(parts.username or ""), unquote(parts.password or ""))

    # --- test connection -----------------------------------------------------------
    def probe(self, data: SourceIn, timeout: float = PROBE_TIMEOUT_S) -> SourceProbe:
        """Open the address of `data` (`uri_rtsp`, or `uri_http_picture` for a
        PictureSource) as a reader would and wait for its first picture; store nothing.

        The address obeys the policy of a saved source (`app.uri_policy`, the `media_dirs`
        of now; a file is opened as its resolved path): a refused one raises `InvalidInput`
        naming the field, as `create` would. An address that is allowed but gives no picture
        is an answer, not an error: `ok` false and why. Blocking, up to `timeout` seconds
        (plus the inputs' own open timeouts): call it off the GUI thread or event loop."""
        started = time.monotonic()
        target, uris = self._probe_target(data)
        try:
            found = first_picture(self._openable(target, self._check_source_uri)
                                  if isinstance(target, str) else target, timeout,
                                  policy=self.outgoing())
        except RefusedInput as exc:  # a name that resolves where the policy forbids
            field = "uri_rtsp" if isinstance(target, str) else "uri_http_picture.uri"
            raise InvalidInput(f"{field}: {exc}", field=field.split(".")[0]) from None
        except InputError as exc:
            return SourceProbe(ok=False, seconds=time.monotonic() - started,
                               error=public_reason(exc),
                               detail=redact(str(exc), uris) or public_reason(exc))
        return SourceProbe(ok=True, seconds=found.seconds, jpeg=encode_jpeg(found.rgb),
                           width=found.width, height=found.height, codec=found.codec,
                           fps=found.fps, interval=found.interval, audio=found.audio)

    def _probe_target(self, data: SourceIn) -> tuple[str | PictureSpec, tuple[str, ...]]:
        """What `probe` opens and the URIs to mask in what it says; a snapshot camera's
        address checked here, a URI's by `_openable`."""
        sent = data.model_fields_set
        model = data.model or (SourceModel.picture if "uri_http_picture" in sent
                               and "uri_rtsp" not in sent else SourceModel.source)
        if model is SourceModel.source:
            if not data.uri_rtsp:
                raise InvalidInput("uri_rtsp is required for a Source", field="uri_rtsp", kind="missing")
            return data.uri_rtsp, (data.uri_rtsp,)  # checked by `_openable`
        picture = data.uri_http_picture
        if picture is None:
            raise InvalidInput("uri_http_picture.uri is required for a PictureSource",
                               field="uri_http_picture", kind="missing")
        self._check_picture_uri(picture.uri)
        spec = PictureSpec(**picture.model_dump(mode="json"))
        return spec, (spec.uri,)

    # --- internals -----------------------------------------------------------------
    def _validated(self, data: SourceIn, model: SourceModel, stored: Source | None) -> dict:
        sent = data.model_fields_set
        fields: dict = {}
        if "uri_rtsp" in sent:
            fields["uri_rtsp"] = unmask_uri(data.uri_rtsp, stored.uri_rtsp if stored else None)
        if "uri_preview" in sent:  # "" or null: no preview stream
            preview = unmask_uri(data.uri_preview or None, stored.uri_preview if stored else None)
            if preview:
                check_uri(preview, field="uri_preview", schemes=SOURCE_SCHEMES,
                          media_dirs=self.media_dirs(), policy=self.outgoing())
            fields["uri_preview"] = preview
        if "uri_snapshot" in sent:  # "" or null: none
            snapshot = unmask_uri(data.uri_snapshot or None, stored.uri_snapshot if stored else None)
            if snapshot:
                check_uri(snapshot, field="uri_snapshot", schemes=PICTURE_SCHEMES,
                          policy=self.outgoing())
            fields["uri_snapshot"] = snapshot
        if "uri_http_picture" in sent:
            picture = data.uri_http_picture.model_dump(mode="json") if data.uri_http_picture else None
            fields["uri_http_picture"] = unmask_picture(picture, stored.uri_http_picture if stored else None)
        for key in ("description", "ffmpeg_cmd", "enabled"):
            if key in sent and getattr(data, key) is not None:
                fields[key] = getattr(data, key)
        uri = fields.get("uri_rtsp", stored.uri_rtsp if stored else None)
        picture = fields.get("uri_http_picture", stored.uri_http_picture if stored else None)
        for name, value in (("uri_rtsp", uri), ("uri_http_picture", picture)):
            if is_unreadable(value):
                raise InvalidInput(f"{name}: {UNREADABLE}: enter it again", field=name)
        if model is SourceModel.source:
            if not uri:
                raise InvalidInput("uri_rtsp is required for a Source", field="uri_rtsp", kind="missing")
            self._check_source_uri(uri)
        elif not picture or not picture.get("uri"):
            raise InvalidInput("uri_http_picture.uri is required for a PictureSource",
                               field="uri_http_picture", kind="missing")
        else:
            self._check_picture_uri(picture["uri"])
        profile_of(fields.get("ffmpeg_cmd"))
        fields.update(_mode_fields(data, stored))
        return fields

    def _check_source_uri(self, uri: str) -> str:
        return check_uri(uri, field="uri_rtsp", schemes=SOURCE_SCHEMES, media_dirs=self.media_dirs(),
                         policy=self.outgoing())

    def _check_picture_uri(self, uri: str) -> str:
        try:
            return check_uri(uri, field="uri_http_picture", schemes=PICTURE_SCHEMES,
                             policy=self.outgoing())
        except InvalidInput as exc:  # the message names the nested field
            exc.message = exc.message.replace("uri_http_picture:", "uri_http_picture.uri:", 1)
            exc.args = (exc.message,)
            raise

    def _vet(self, check: Callable[[str], str]) -> Callable[[str], str]:
        """What the reader asks before each connection attempt: `_openable` with the
        settings of now, a refusal as the reader's `RefusedInput`."""
        def vet(uri: str) -> str:
            try:
                return self._openable(uri, check)
            except InvalidInput as exc:
                raise RefusedInput(exc.message) from None
        return vet

    def _openable(self, uri: str, check: Callable[[str], str]) -> str:
        """`uri` as it is opened: allowed by the policy (`InvalidInput` if not); a file
        source as the resolved path it was checked for, and only a regular file (a FIFO
        would hang the reader), else failing like any unreachable input (`InputError`)."""
        check(uri)
        if not uri.lower().startswith("file://"):
            return uri
        real = media_path(file_path(uri), self.media_dirs())
        if real is None:  # changed since the check: treat like a refusal
            raise InvalidInput("uri_rtsp: files are read only below the folders of the "
                               "media_dirs setting", field="uri_rtsp")
        if not os.path.isfile(real):
            raise InputError(UNREACHABLE)
        return "file://" + real

    def _flush(self, session) -> None:
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            raise Conflict("a source with that name already exists", field="name") from None

    @staticmethod
    def _is_recording(session, source_id: int) -> bool:
        stmt = select(Record.id).where(Record.source_id == source_id,
                                       Record.status == RecordStatus.recording)
        return session.exec(stmt).first() is not None

    # --- ownership (several stations on one catalog) ----------------------------------
    def _is_mine(self, row: Source) -> bool:
        return self.site is None or self.site.is_local(row.station_id)

    def _target_station(self, station: str | None) -> str | None:
        """The owner a new or moved source gets: this station by default; another one only
        when it is registered and online (it must pick the source up)."""
        if self.site is None:
            return None
        if station is None or self.site.is_local(station):
            return self.site.station_id
        reason = self.site.offline_reason(station, fresh=True)
        if reason is not None:
            raise Conflict(f"cannot give the source to that station: {reason}", field="station")
        return station

    def _remote_feeds(self, source_id: int) -> RemoteFeeds | None:
        """The feeds of other stations' sources when `source_id` is one, else None."""
        site = self.site
        if site is None or self.peers is None or site.is_local(site.owner(source_id)):
            return None
        with self._remote_lock:
            if self._remote is None:
                self._remote = RemoteFeeds(self.site, self.peers)
            return self._remote

    def _check_owner_online(self, row: Source) -> None:
        """A station that is away keeps its sources as they are: nobody changes them under it."""
        if self.site is not None and not self._is_mine(row):
            reason = self.site.offline_reason(row.station_id)
            if reason is not None:
                raise Conflict(f"source {row.name!r} belongs to another station: {reason}",
                               field="station")

    def _adopted(self, row: Source) -> None:
        """After a create or an update here: read it if it is this station's, else leave it
        to its owner (which reconciles on its next beat)."""
        if self.site is not None:
            self.site.note_owner(row.id, row.station_id)
        with self._readers_lock:
            if self._is_mine(row):
                self._start_reader(row)
            elif row.id in self._reading:
                self._reading.discard(row.id)
                self.recorder.remove_source(row.id)

    def _note_unreadable(self, rows: list[Source]) -> None:
        """Remember which sources' credentials this key does not open; log each once."""
        for row in rows:
            fields = unreadable_fields(row)
            if not fields:
                self._unreadable.discard(row.id)
            elif row.id not in self._unreadable:
                self._unreadable.add(row.id)
                log.warning("source %d %r: %s (%s were encrypted with another credentials key "
                            "than this station's): it is not read here; enter its address "
                            "again", row.id, row.name, UNREADABLE, ", ".join(sorted(fields)))

    def _start_reader(self, row: Source) -> None:
        self._reading.add(row.id)
        if unreadable_fields(row):
            self.recorder.remove_source(row.id)
        elif row.enabled and row.model == SourceModel.source.value and row.uri_rtsp:
            self.recorder.ensure_source(SourceSpec(row.id, row.name, row.uri_rtsp,
                                                   vet=self._vet(self._check_source_uri),
                                                   uri_preview=row.uri_preview or None,
                                                   policy=self.outgoing))
        elif row.enabled and row.model == SourceModel.picture.value and row.uri_http_picture:
            picture = HttpPicture.model_validate(row.uri_http_picture).model_dump(mode="json")
            spec = PictureSpec(**picture)
            self.recorder.ensure_source(SourceSpec(row.id, row.name, spec.uri, picture=spec,
                                                   vet=self._vet(self._check_picture_uri),
                                                   policy=self.outgoing))
        else:
            self.recorder.remove_source(row.id)


def _mode_fields(data: SourceIn, stored: Source | None) -> dict:
    """The recording mode's columns from what was sent (app.record_modes; the schedule was
    checked by the schema): a new source without a mode is `manual`, as every client that
    knows no modes expects; `schedule` needs slots; "" and 0 remove a tag or a retention."""
    sent = data.model_fields_set
    fields: dict = {}
    if data.record_mode is not None:
        fields["record_mode"] = data.record_mode.value
    elif stored is None:
        fields["record_mode"] = RecordMode.manual.value
    if "record_schedule" in sent:
        fields["record_schedule"] = ([slot.model_dump(mode="json") for slot in data.record_schedule]
                                     if data.record_schedule else None)
    if "record_tag" in sent:
        fields["record_tag"] = data.record_tag or None
    if "retention_days" in sent:
        fields["retention_days"] = data.retention_days or None
    mode = fields.get("record_mode", stored.record_mode if stored else RecordMode.manual)
    schedule = fields.get("record_schedule", stored.record_schedule if stored else None)
    if mode == RecordMode.schedule and not schedule:
        raise InvalidInput("record_mode schedule needs a record_schedule with at least one "
                           "slot", field="record_schedule", kind="missing")
    return fields
