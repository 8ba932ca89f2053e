"""Recordings: the one service the GUI, every dialect and MQTT call for what the station
records, a facade over parts that each own their state and are given what they use.

- `RecordStore` (record_store): the lock that serialises every change of records, the
  overlay of what the catalog could not take yet and the save that falls back to it, this
  station's running records in memory, and the true state every read shows;
- `RecordQueries` (record_queries): every read, given the store;
- `RecordingStarts` / `RecordingStops` (record_starts, record_stops): a record committed
  before its file opens, a recording that ends whatever the catalog does;
- `RecordingRollover` (rollover): a new file, and record, every `segment_s`;
- `RecordKeeping` (record_keeping): protection and deletion of files;
- `RecordingControls` (recording_controls): pause, resume, mute;
- `RecordForwarding` (record_forwarding): what other stations of the site do;
- `RecordCopies` (record_copies): a record's file copied where the operator asks.

The parts never reach into each other: what two of them share lives in the store. This
class only builds them and answers with them, so its callers and their behaviour are the
same as when it was one class.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from app.catalog import Catalog
from app.events import EventSink
from app.recordings.record_copies import RecordCopies
from app.recordings.record_forwarding import RecordForwarding
from app.recordings.record_keeping import RecordKeeping
from app.recordings.record_queries import RecordQueries, RunningTag
from app.recordings.record_starts import AlreadyRecording, RecordingStarts
from app.recordings.record_stops import MODE_ORIGIN, RecordingStops, mode_owned
from app.recordings.record_store import RecordStore
from app.recordings.recording_controls import RecordingControls
from app.recordings.rollover import RecordingRollover
from app.schemas import RecordOut, RecordStatus, SourceModel, TagOut
from recorder.encoding import EncodeProfile
from recorder.manager import RecorderManager
from recorder.mp4file import RecordingResult

if TYPE_CHECKING:  # the site client, which alone knows other stations' routes
    from app.site.client import SiteClient

__all__ = ["AlreadyRecording", "RecordingService", "RunningTag"]


class _OfPart:
    """An attribute of the facade that belongs to one of its parts: read from that part and
    set on it, so the composition and the live settings keep setting it as before."""

    def __init__(self, part: str, name: str):
        self.part, self.name = part, name

    def __get__(self, service: RecordingService | None, _owner: type | None = None) -> Any:
        return self if service is None else getattr(getattr(service, self.part), self.name)

    def __set__(self, service: RecordingService, value: Any) -> None:
        setattr(getattr(service, self.part), self.name, value)


class RecordingService:
    def __init__(self, catalog: Catalog, recorder: RecorderManager, bus: EventSink, *,
                 storage_dir: Path, disk_floor_bytes: int | Callable[[], int] = 0,
                 retry_s: float = 1.0,
                 busy: Callable[[], Iterable[str]] | None = None,
                 station_id: str | None = None,
                 status_of: Callable[[int], tuple[str, str | None]] | None = None,
                 peers: SiteClient | None = None):
        """`busy`: ids of records a sync copies now (retention leaves them); `station_id`,
        `status_of`, `peers`: this station on a site (the defaults: a station alone). Each
        of these and `disk_floor_bytes` may also be set later, as attributes."""
        self.catalog, self.recorder, self.bus = catalog, recorder, bus
        self.storage_dir = storage_dir
        self._store = RecordStore(catalog, status_of=status_of or recorder.status,
                                  station_id=station_id, retry_s=retry_s)
        self._queries = RecordQueries(self._store)
        self._forwarding = RecordForwarding(self._store, peers)
        self._rollover = RecordingRollover(self._store, recorder, bus, self._queries)
        self._starts = RecordingStarts(self._store, recorder, bus, self._forwarding,
                                       self._rollover, storage_dir=storage_dir,
                                       disk_floor_bytes=disk_floor_bytes)
        self._stops = RecordingStops(self._store, recorder, bus, self._forwarding)
        self._keeping = RecordKeeping(self._store, self._queries, bus, storage_dir=storage_dir,
                                      busy=busy or set)
        self._controls = RecordingControls(self._store, recorder, bus)
        self._copies = RecordCopies(self._store, self._queries, lambda: self.peers)

    # --- what the composition and the settings change while it runs: a part's own ---------
    disk_floor_bytes = _OfPart("_starts", "disk_floor_bytes")  # no start below it
    busy = _OfPart("_keeping", "busy")  # ids of records a sync copies now
    station_id = _OfPart("_store", "station_id")  # this station on a site
    status_of = _OfPart("_store", "status_of")  # a source's status wherever it is read
    peers = _OfPart("_forwarding", "peers")  # the site client (None: a station alone)

    # --- start and stop (record_starts, record_stops) --------------------------------------
    def start(self, tag_name: str, group_name: str, model: SourceModel | str | None = None,
              origin: str = "core", forwarded: bool = False) -> list[RecordOut]:
        return self._starts.start(tag_name, group_name, model, origin, forwarded)

    def start_sources(self, tag_name: str, source_ids: list[int], origin: str = "core",
                      audio_muted: bool = False, forwarded: bool = False) -> list[RecordOut]:
        return self._starts.start_sources(tag_name, source_ids, origin, audio_muted, forwarded)

    def start_one(self, tag_name: str, source_id: int, *, profile: EncodeProfile | None = None,
                  file_name: str | None = None, origin: str = "core",
                  preroll_s: float | None = None) -> RecordOut:
        return self._starts.start_one(tag_name, source_id, profile=profile,
                                      file_name=file_name, origin=origin, preroll_s=preroll_s)

    def keep_preroll(self, source_id: int, seconds: float) -> None:
        """Have the recorder buffer at least `seconds` of the source (0: the setting alone),
        for starts asking for that much pre-roll (`start_one(preroll_s=)`)."""
        self.recorder.keep_preroll(source_id, seconds)

    def stop_record(self, record_id: str, origin: str = "core") -> RecordOut:
        return self._stops.stop_record(record_id, origin)

    def stop(self, tag_name: str, model: SourceModel | str | None = None,
             origin: str = "core", forwarded: bool = False,
             sources: frozenset[int] | None = None) -> list[RecordOut]:
        return self._stops.stop(tag_name, model, origin, forwarded, sources)

    def stop_all_tags(self, origin: str = "core") -> list[RecordOut]:
        """The operator's Stop all: every running tag, sparing what the modes record."""
        return self._stops.stop_all_tags(origin)

    def stop_all(self) -> list[RecordOut]:
        return self._stops.stop_all()

    def fail(self, record_id: str, reason: str) -> RecordOut:
        return self._stops.fail(record_id, reason)

    def recover_interrupted(self) -> int:
        return self._stops.recover_interrupted()

    def on_rollover(self, source_id: int, old_record_id: str, old_result: RecordingResult,
                    new_record_id: str, new_path: Path, new_begin_wall: float | None) -> None:
        self._rollover.on_rollover(source_id, old_record_id, old_result, new_record_id,
                                   new_path, new_begin_wall)

    def recording_files(self, record_id: str) -> list[RecordOut]:
        return self._rollover.recording_files(record_id)

    # --- what the catalog could not take yet (record_store) --------------------------------
    def pending_ids(self) -> list[str]:
        return self._store.pending_ids()

    def close(self, timeout: float = 5.0) -> list[str]:
        """At shutdown, after `stop_all`: write what waits in memory, for up to `timeout`
        seconds; returns the records left unwritten (the next start recovers them)."""
        return self._store.close(timeout)

    # --- reads (record_queries) ------------------------------------------------------------
    def list(self, tag_name: str | None = None, *, status: str | None = None) -> list[RecordOut]:
        return self._queries.list(tag_name, status=status)

    def find(self, *, tag_name: str | None = None, source_id: int | None = None,
             status: str | None = None, begin_from: datetime | None = None,
             begin_to: datetime | None = None, limit: int = 2000) -> list[RecordOut]:
        return self._queries.find(tag_name=tag_name, source_id=source_id, status=status,
                                  begin_from=begin_from, begin_to=begin_to, limit=limit)

    def overlapping(self, source_ids: list[int], begin: datetime, end: datetime,
                    limit: int = 5000) -> list[RecordOut]:
        return self._queries.overlapping(source_ids, begin, end, limit)

    def source_names(self, source_ids: list[int]) -> dict[int, str]:
        return self._queries.source_names(source_ids)

    def client_running(self, source_id: int) -> list[RecordOut]:
        """The source's running records a client controls: all but its mode's own, which
        only the mode keeper (or a stop of its tag by name) ends (record_stops)."""
        return [r for r in self.find(source_id=source_id, status=RecordStatus.recording)
                if not mode_owned(r.source, r.tag_name)]

    def stop_mode_records(self, source_id: int, tags: Iterable[str] | None = None) -> list[RecordOut]:
        """End the running records `source_id`'s mode owns (or those under `tags`, the mode's
        tags as they were before the source was switched to manual): the operator deletes the
        source or gives it another address, and that change wins over the mode (the keeper
        starts the mode again afterwards when it still says record). Records a client started
        are not touched: those still refuse the change until they are stopped."""
        named = set(tags) if tags is not None else None
        return [self._stops.stop_record(r.id, MODE_ORIGIN)
                for r in self.find(source_id=source_id, status=RecordStatus.recording)
                if (r.tag_name in named if named is not None else mode_owned(r.source, r.tag_name))]

    def tag_names(self) -> list[str]:
        return self._queries.tag_names()

    def get(self, record_id: str) -> RecordOut:
        return self._queries.get(record_id)

    def is_running(self, tag_name: str) -> bool:
        return self._queries.is_running(tag_name)

    def running_ids(self) -> set[str]:
        return self._queries.running_ids()

    def own_running(self) -> list[RecordOut]:
        return self._queries.own_running()

    def running_keys(self) -> dict[tuple[int, str], str]:
        return self._queries.running_keys()

    def running_tags(self) -> list[str]:
        return self._queries.running_tags()

    def running_summary(self) -> list[RunningTag]:
        return self._queries.running_summary()

    def tag(self, name: str) -> TagOut:
        return self._queries.tag(name)

    def video_path(self, record_id: str) -> Path:
        return self._queries.video_path(record_id)

    def running_record(self, tag_name: str, source_id: int) -> RecordOut | None:
        return self._queries.running_record(tag_name, source_id)

    # --- keeping (record_keeping) and controls (recording_controls) -----------------------
    def set_protected(self, record_id: str, protected: bool) -> RecordOut:
        return self._keeping.set_protected(record_id, protected)

    def protect_tag(self, tag_name: str, protected: bool) -> list[RecordOut]:
        return self._keeping.protect_tag(tag_name, protected)

    def expire(self, record_id: str, reason: str) -> bool:
        return self._keeping.expire(record_id, reason)

    def delete_file(self, record_id: str, location: str) -> RecordOut:
        return self._keeping.delete_file(record_id, location)

    def save_copy(self, record_id: str, destination: Path) -> int:
        return self._copies.save_copy(record_id, destination)

    def pause(self, record_id: str, origin: str = "core") -> RecordOut:
        return self._controls.pause(record_id, origin)

    def resume(self, record_id: str, origin: str = "core") -> RecordOut:
        return self._controls.resume(record_id, origin)

    def set_audio_muted(self, record_id: str, muted: bool, origin: str = "core") -> RecordOut:
        return self._controls.set_audio_muted(record_id, muted, origin)

    def control_state(self, record_id: str) -> dict:
        return self._controls.control_state(record_id)
