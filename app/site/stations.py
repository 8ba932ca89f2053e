"""Several stations on one catalog: who is there, who owns which source, who is online.

Each station registers itself in the `station` table on start and heartbeats every
`HEARTBEAT_S`: the beat carries its own sources' status and its disk space, so any station can
show every source of the site from the catalog alone, without asking the others. A station
not seen for `OFFLINE_AFTER_S` is offline: its sources show `offline` with the reason, and the
others leave what is its alone (they do not start, stop or edit it).

Video stays on the disk of the station that records it; only the catalog is shared. After the
beat, each station reconciles its readers with the catalog (`on_beat`), so a source created,
edited or moved by another station is picked up within a beat.

A catalog that cannot be reached (PostgreSQL down) only skips beats: the cached view stays,
recording goes on (the recorder never waits for the catalog), and the beat resumes by itself.
"""

from __future__ import annotations

import ipaddress
import logging
import shutil
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, Field
from sqlalchemy import func, or_, true, update
from sqlalchemy.engine import make_url
from sqlmodel import select

from app.catalog import CATALOG_ERRORS, Catalog
from app.models import Record, Source, Station, utcnow
from app.schemas import RecordStatus, SourceStatus, iso_utc, utc
from app.uri_policy import without_userinfo
from recorder.redact import redact

log = logging.getLogger(__name__)

HEARTBEAT_S = 3.0
OFFLINE_AFTER_S = 15.0

Status = tuple[str, "str | None"]


def is_own(station_id: str | None, own: str | None) -> bool:
    """A row (source, record, sync job) of station `station_id` is this station's (`own`):
    rows from before stations had ids (NULL) are, and a station alone (`own` None) owns all."""
    return own is None or station_id is None or station_id == own


def owned_by(column, own: str | None):
    """`is_own` as a SQL condition on an owner column (`Record.station_id`, ...)."""
    return true() if own is None else or_(column.is_(None), column == own)


class DiskOut(BaseModel):
    total_bytes: int
    free_bytes: int
    floor_bytes: int


class StationOut(BaseModel):
    """A station of the site as `GET /api/v1/station` lists it."""

    id: str
    name: str
    url: str | None = Field(description="where the other stations reach its API")
    version: str
    online: bool
    this: bool = Field(description="the station answering")
    started_utc: str | None
    last_seen_utc: str | None
    offline_reason: str | None = None
    sources: list[int] = Field(description="ids of the sources it owns")
    recordings_running: int
    disk: DiskOut | None = None
    evidence_public_key: str | None = Field(
        None, description="the key this station signs evidence packages with (Ed25519, base64 "
        "of its 32 raw bytes: docs/evidence.md); on the answering station's own entry only")


@dataclass(frozen=True)
class _Seen:
    """What the last beat read of a station."""

    name: str
    url: str | None
    last_seen: datetime
    stopped: bool
    source_status: dict[str, list]

    @classmethod
    def of(cls, row: Station, source_status: bool = True) -> "_Seen":
        return cls(row.name, row.url, utc(row.last_seen_utc), row.stopped,
                   (row.source_status or {}) if source_status else {})

    def offline_reason(self, now: datetime) -> str | None:
        if self.stopped:
            return f"station {self.name!r} was stopped"
        age = (now - self.last_seen).total_seconds()
        if age > OFFLINE_AFTER_S:
            return f"station {self.name!r} not seen for {age:.0f} s"
        return None


class StationRegistry:
    """`local_status(source_id)`: the recorder's view of a source this station reads.
    `disk()`: (total, free, floor) bytes of the recordings' filesystem."""

    def __init__(self, catalog: Catalog, *, station_id: str, name: str, url: str | None,
                 version: str, local_status: Callable[[int], Status], storage_dir: Path,
                 floor_bytes: Callable[[], int], heartbeat_s: float = HEARTBEAT_S):
        self.catalog = catalog
        self.station_id, self.name, self.url, self.version = station_id, name, url, version
        self.local_status = local_status
        self.storage_dir, self.floor_bytes = storage_dir, floor_bytes
        self.heartbeat_s = heartbeat_s
        self.on_beat: list[Callable[[], None]] = []  # after each beat that reached the catalog
        self._lock = threading.Lock()
        self._stations: dict[str, _Seen] = {}
        self._owners: dict[int, str | None] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._catalog_ok = True

    def rename(self, name: str) -> None:
        """The station's name changed (a live setting): the next beat writes it."""
        self.name = name

    # --- who owns what ---------------------------------------------------------------
    def owner(self, source_id: int) -> str | None:
        """The station owning the source, as of the last beat or local change."""
        with self._lock:
            return self._owners.get(source_id, self.station_id)

    def is_local(self, station_id: str | None) -> bool:
        return is_own(station_id, self.station_id)

    def has_others(self) -> bool:
        """Another station is registered or owns a source (as of the last beat): a start or
        a stop may then be forwarded over the network (the API runs those on a lane of
        their own, api.executors)."""
        with self._lock:
            return (any(not self.is_local(sid) for sid in self._stations)
                    or any(not self.is_local(owner) for owner in self._owners.values()))

    def note_owner(self, source_id: int, station_id: str | None) -> None:
        """A source this station just created or moved (before the next beat reads it)."""
        with self._lock:
            if station_id is None:
                self._owners.pop(source_id, None)
            else:
                self._owners[source_id] = station_id

    def offline_reason(self, station_id: str, fresh: bool = False) -> str | None:
        """None when the station is online; else why it counts as offline. `fresh`: a
        station offline in the last beat's view is read again now (it may just be back)."""
        if self.is_local(station_id):
            return None
        with self._lock:
            seen = self._stations.get(station_id)
        reason = (f"station {station_id} is not registered" if seen is None
                  else seen.offline_reason(utcnow()))
        if reason is None or not fresh:
            return reason
        seen = self.reread(station_id)
        return reason if seen is None else seen.offline_reason(utcnow())

    def reread(self, station_id: str) -> "_Seen | None":
        """The station's row read now (the last beat's view updated with it); None when it
        cannot be read."""
        try:
            with self.catalog.session() as s:
                row = s.get(Station, station_id)
        except CATALOG_ERRORS:
            return None
        if row is None:
            return None
        seen = _Seen.of(row)
        with self._lock:
            self._stations[station_id] = seen
        return seen

    def url_of(self, station_id: str) -> str | None:
        with self._lock:
            seen = self._stations.get(station_id)
        return seen.url if seen else None

    def name_of(self, station_id: str) -> str:
        with self._lock:
            seen = self._stations.get(station_id)
        return seen.name if seen else station_id

    def status(self, source_id: int) -> Status:
        """A source's status wherever it is read: the recorder's for this station's own, the
        owner's last beat for another station's, `offline` with the reason when the owner is."""
        owner = self.owner(source_id)
        if self.is_local(owner):
            return self.local_status(source_id)
        reason = self.offline_reason(owner)
        if reason is not None:
            return SourceStatus.offline, reason
        with self._lock:
            seen = self._stations[owner]
        status, error = (seen.source_status.get(str(source_id)) or
                         [SourceStatus.connecting, "the owner has not reported it yet"])
        return status, error

    # --- the beat --------------------------------------------------------------------
    def start(self) -> None:
        """Register (adopting the rows no station owns yet), then beat on a thread."""
        with self.catalog.session() as s:
            now = utcnow()
            row = s.get(Station, self.station_id) or Station(id=self.station_id, name=self.name,
                                                             version=self.version)
            row.name, row.url, row.version = self.name, self.url, self.version
            row.started_utc = row.last_seen_utc = now
            row.stopped = False
            s.add(row)
            for table in (Source, Record):
                s.exec(update(table).where(table.station_id.is_(None))
                       .values(station_id=self.station_id))
        self.beat()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="station-heartbeat", daemon=True)
        self._thread.start()

    def announce(self, url: str) -> None:
        """Where the others reach this station, known once its API listens: written now,
        not at the next beat, so a forwarded request never finds this station without one.
        An address the others cannot use is never announced (issue #21 item 15): an API bound
        to 0.0.0.0 or :: announces the address of the interface that reaches the catalog's
        database (loopback for a SQLite catalog, which only this machine shares); a loopback
        address on a site that spans machines is not announced at all, and the others then
        say this station has no public_url (they would reach their own machine instead)."""
        self.url = self._reachable(url)
        self.beat()

    def _reachable(self, url: str) -> str | None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None and address.is_unspecified:
            picked = self._route_address(address.version)
            if picked is None:
                log.warning("the API is bound to %s and public_url is not set: no address of this "
                            "station reaches the catalog's database, so it announces none and "
                            "the other stations cannot reach it; set public_url", host)
                return None
            shown = f"[{picked}]" if ":" in picked else picked
            log.info("the API is bound to %s: announcing %s to the site (set public_url to "
                     "choose another address)", host, shown)
            return parts._replace(netloc=f"{shown}:{parts.port}" if parts.port else shown).geturl()
        if self.unreachable_from_here(url):
            log.warning("this station's address %s is a loopback address and the catalog is on "
                        "another machine: it announces none, so the other stations cannot reach "
                        "it; set public_url to an address they reach", url)
            return None
        return url

    def _database_host(self) -> str | None:
        """The catalog's database server's host; None for a SQLite file or a local socket."""
        if not self.catalog.is_server:
            return None
        try:
            host = make_url(self.catalog.url).host
        except Exception:  # noqa: BLE001 - an unparsable URL: the catalog could not open anyway
            return None
        return host if host and not host.startswith("/") else None

    def spans_machines(self) -> bool:
        """The catalog's database is on another machine, so other stations may be too."""
        host = self._database_host()
        if host is None or host.lower() in ("localhost", "localhost.") or \
                host.lower().endswith(".localhost"):
            return False
        try:
            return not ipaddress.ip_address(host.strip("[]")).is_loopback
        except ValueError:
            return True

    def unreachable_from_here(self, url: str) -> str | None:
        """Why a station at `url` cannot be another station of this site (None: it can):
        on a site that spans machines, a loopback address names the asking machine itself."""
        if not self.spans_machines():
            return None
        host = (urlsplit(url).hostname or "").lower()
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost" or host.endswith(".localhost")
        return "a loopback address, on a site whose catalog is on another machine" if loopback else None

    def _route_address(self, version: int) -> str | None:
        """The local address of the interface that reaches the catalog's database (no packet
        is sent: a UDP socket is only connected); loopback for a catalog on this machine."""
        if not self.spans_machines():
            return "127.0.0.1" if version == 4 else "::1"
        host = self._database_host() or ""
        try:
            port = make_url(self.catalog.url).port or 5432
            family, _, _, _, address = socket.getaddrinfo(host.strip("[]"), port,
                                                          type=socket.SOCK_DGRAM)[0]
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect(address)
                picked = probe.getsockname()[0]
        except (OSError, IndexError, ValueError) as exc:
            log.warning("cannot tell which address reaches the catalog's database: %s", exc)
            return None
        ip = ipaddress.ip_address(picked.split("%", 1)[0])
        return None if ip.is_unspecified or ip.is_loopback else str(ip)

    def stop(self) -> None:
        """A clean stop: the others see this station offline at once, not after 15 s."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        try:
            with self.catalog.session() as s:
                s.exec(update(Station).where(Station.id == self.station_id)
                       .values(stopped=True, last_seen_utc=utcnow()))
        except CATALOG_ERRORS as exc:
            log.warning("could not mark this station stopped in the catalog: %s", _first_line(exc))

    def _run(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            self.beat()

    def beat(self) -> bool:
        """Write this station's heartbeat, read everyone's; False when the catalog could not
        be reached (logged once per outage; the cached view stays)."""
        try:
            self._beat()
        except CATALOG_ERRORS as exc:
            if self._catalog_ok:
                log.warning("heartbeat: the catalog cannot be reached (%s); recording goes on",
                            _first_line(exc))
            self._catalog_ok = False
            return False
        if not self._catalog_ok:
            log.info("heartbeat: the catalog is back")
        self._catalog_ok = True
        for hook in list(self.on_beat):
            try:
                hook()
            except CATALOG_ERRORS as exc:
                log.warning("after the heartbeat: %s", _first_line(exc))
        return True

    def _beat(self) -> None:
        with self.catalog.session() as s:
            owners = dict(s.exec(select(Source.id, Source.station_id)).all())
            own = [sid for sid, owner in owners.items() if self.is_local(owner)]
            statuses = {}
            for sid in own:
                status, error = self.local_status(sid)
                statuses[str(sid)] = [str(status), redact(error)]
            total, _used, free = _disk_usage(self.storage_dir)
            s.exec(update(Station).where(Station.id == self.station_id).values(
                last_seen_utc=utcnow(), stopped=False, source_status=statuses,
                name=self.name, url=self.url,
                disk={"total_bytes": total, "free_bytes": free,
                      "floor_bytes": self.floor_bytes()}))
            rows = s.exec(select(Station)).all()
            seen = {r.id: _Seen.of(r) for r in rows}
        with self._lock:
            self._owners, self._stations = owners, seen

    # --- the listing -----------------------------------------------------------------
    def list(self) -> list[StationOut]:
        """Every registered station, read now (not from the last beat)."""
        now = utcnow()
        with self.catalog.session() as s:
            rows = s.exec(select(Station).order_by(Station.name, Station.id)).all()
            owned: dict[str, list[int]] = {}
            for sid, owner in s.exec(select(Source.id, Source.station_id).order_by(Source.id)):
                owned.setdefault(owner or self.station_id, []).append(sid)
            running = dict(s.exec(select(Record.station_id, func.count(Record.id))
                                  .where(Record.status == RecordStatus.recording)
                                  .group_by(Record.station_id)).all())
        out = []
        for r in rows:
            seen = _Seen.of(r, source_status=False)
            reason = None if r.id == self.station_id else seen.offline_reason(now)
            out.append(StationOut(
                id=r.id, name=r.name, url=without_userinfo(r.url), version=r.version, online=reason is None,
                this=r.id == self.station_id, started_utc=iso_utc(r.started_utc),
                last_seen_utc=iso_utc(r.last_seen_utc), offline_reason=reason,
                sources=owned.get(r.id, []), recordings_running=running.get(r.id, 0),
                disk=DiskOut(**r.disk) if r.disk else None))
        return out


def _disk_usage(folder: Path) -> tuple[int, int, int]:
    try:
        return tuple(shutil.disk_usage(folder))  # type: ignore[return-value]
    except OSError:
        return 0, 0, 0


def _first_line(exc: BaseException) -> str:
    return (str(getattr(exc, "orig", None) or exc).splitlines() or [type(exc).__name__])[0]

