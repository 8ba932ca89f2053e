"""The audit trail: who changed what, through which door, with what result — kept in the
catalog for `RETENTION_DAYS` days.

Every front end reports its state changes here: the API's guard middleware for each
state-changing request of any dialect, the GUI through `app.audited.AuditedStation`. An
entry names the caller (dialect, client address, a client or token id — never a secret),
the action, its target (`source 3`, `tag lobby` ...) and the result.

The action is a name from one vocabulary, `ACTIONS`, whatever the door: an API start and a
GUI start of the same recording both write `start recording`. Each state-changing route
declares its name where it is added (`add_route(..., action=...)`), each service operation
the GUI audits declares it in `app.audited`; a declaration outside the vocabulary fails at
import (`action_name`). For an investigator the API's entries keep the method and route
pattern in `detail` (`POST /api/v1/record`).

`record()` is called on the API's event loop and on the GUI's worker threads, so it must
never block and never fail: it only appends to a bounded in-memory queue (the oldest entry
gives way when it is full, and the count lost is logged). One worker thread writes the queue
to the catalog in batches, retries with a back-off while the catalog cannot be written (a
full disk, a lock held elsewhere), and purges entries older than the retention at start and
once a day.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
import time
import unicodedata
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Literal, Mapping

from pydantic import BaseModel, Field as PydField
from sqlalchemy import delete, func, or_
from sqlmodel import Field, SQLModel, select

from app.catalog import Catalog
from app.events import AuditWritten, EventSink
from app.services.audit_names import NameBook
from app.schemas import iso_utc

log = logging.getLogger(__name__)

RETENTION_DAYS = 90
PURGE_EVERY_S = 24 * 3600.0
MAX_QUEUE = 10_000          # entries waiting for the writer; the oldest gives way beyond
BATCH = 500                 # entries per transaction
MAX_BACKOFF_S = 30.0        # between two attempts while the catalog cannot be written
DROP_LOG_EVERY_S = 10.0     # "queue full" is logged at most this often
PURGE_CHUNK = 10_000        # rows deleted per transaction, so other writers never wait long
MAX_PAGE_SIZE = 500

# Column widths (PostgreSQL enforces them; SQLite does not, so values are cut here).
WIDTHS = {"dialect": 32, "address": 64, "who": 128, "action": 255, "target": 512, "result": 64,
          "detail": 1024, "source_ids": 255}  # detail 1024 and source_ids since migration 0015
MAX_CSV_ROWS = 100_000      # entries one CSV export holds at most (newest first)
CSV_CHUNK = 5_000           # entries read per query for a CSV export
MAX_COALESCED = 4096        # (caller, action, target) keys remembered for `coalesce_s`
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME_SHOWN = 64  # characters of a caller's name in a target


# --- the vocabulary ------------------------------------------------------------------------
# Every action the trail names, with what it means: the one list the API's routes, the
# dialects' state changes, the GUI's audited operations, MQTT and the settings service use.
ACTIONS: dict[str, str] = {
    "create source": "a source added",
    "update source": "a source's name, location or options changed",
    "delete source": "a source removed",
    "create group": "a group added",
    "rename group": "a group renamed",
    "delete group": "a group removed",
    "add source to group": "a source made a member of a group",
    "remove source from group": "a source taken out of a group",
    "switch group": "a group's recording switched on or off (MQTT, Home Assistant)",
    "start recording": "recordings started under a tag (a group, chosen sources, a Huawei "
                       "stream or job, a Device Connect recorder)",
    "stop recording": "recordings stopped (a tag, a record, a Huawei stream or job, a Device "
                      "Connect recorder)",
    "pause recording": "a recording paused",
    "resume recording": "a paused recording resumed",
    "mute audio": "a recording's audio muted",
    "unmute audio": "a recording's audio unmuted",
    "update recording job": "a Huawei RTC job's recording parameters changed",
    "take photo": "a still picture taken (Device Connect)",
    "watch events": "a client registered for a recorder's events (Device Connect)",
    "stop watching events": "a client's event registration removed (Device Connect)",
    "start preview": "a live preview stream handed out (Device Connect)",
    "stop preview": "a live preview stream ended (Device Connect)",
    "set recorder options": "a recorder's preview options changed (Device Connect)",
    "delete file": "a record's file deleted (the record stays)",
    "protect record": "a record protected from retention",
    "unprotect record": "a record's protection from retention released",
    "protect tag": "every record of a tag protected from retention",
    "unprotect tag": "the protection of every record of a tag released",
    "set tag retention": "the days a tag's records are kept, over the station's",
    "start sync": "footage of a tag copied to a folder or another station",
    "receive upload": "a chunk of footage another station sends",
    "finish upload": "an upload from another station completed",
    "create bookmark": "a bookmark added",
    "update bookmark": "a bookmark changed",
    "delete bookmark": "a bookmark removed",
    "acknowledge event": "an event or alarm acknowledged (one, or all a filter selects)",
    "discover cameras": "a WS-Discovery probe for ONVIF cameras on the network",
    "read camera profiles": "an ONVIF camera asked for its profiles",
    "approve access": "a Device Connect client's access request approved",
    "deny access": "a Device Connect client's access request denied",
    "save settings": "settings saved (and applied where they can be)",
    "change motion settings": "a source's motion detection settings, zones or masks changed",
    "export footage": "footage of a time range cut into a file, a zip or an evidence package",
    "download footage": "an export or an evidence package handed to a client",
    "copy footage": "a record's file saved as a copy elsewhere (\"Save a copy\")",
    "play footage": "a playback session of recorded footage opened (one or several cameras)",
    "take snapshot": "a still picture of a source's live view handed out",
    "create layout": "a named wall layout added",
    "update layout": "a wall layout's name, shape or cells changed",
    "delete layout": "a wall layout removed",
    "move camera": "a camera panned, tilted or zoomed, stopped, sent home or to a preset, or "
                   "centred on a point (PTZ; a held move is one entry, docs/ptz.md)",
    "change camera presets": "a camera's PTZ preset saved or removed",
    "connect camera control": "a source's ONVIF PTZ control read from its camera and kept",
    "create user": "an account added (app.accounts)",
    "change password": "an account's password set anew",
    "disable user": "an account disabled: it can no longer sign in",
    "enable user": "a disabled account enabled again",
    "update user": "an account's display name, role, scope or expiry changed",
    "delete user": "an account removed (with its sessions and tokens)",
    "sign in": "a sign-in with a name and password (a failed one too: its result is 401)",
    "sign out": "a session ended by its user",
    "create token": "a personal API token made for a user (shown once)",
    "revoke token": "a session or personal API token revoked",
    "create access key": "a Huawei AK/SK pair made for a user (its secret key shown once)",
    "revoke access key": "a Huawei AK/SK pair of a user revoked",
    "command": "an MQTT command the station refused before it could name it",
    "unnamed request": "a state-changing request for no route, or an entry written before "
                       "actions had names: its method and route are in `detail`",
}
UNNAMED = "unnamed request"
ActionName = Literal[tuple(ACTIONS)]  # type: ignore[valid-type] - the vocabulary, for schemas


def action_name(name: str) -> str:
    """`name`, checked against the vocabulary: a declaration (a route's, an audited
    operation's) with a name outside `ACTIONS` fails where it is made, at import."""
    if name not in ACTIONS:
        raise ValueError(f"{name!r} is not an audit action (app.services.audit.ACTIONS)")
    return name


@dataclass(frozen=True)
class OneOf:
    """An action that depends on one field of the call or request: `{value: name}`, and
    `default` for any other value (or none). `protect record` or `unprotect record` by the
    `protected` field; Huawei Live's `START` or `STOP` by its `action` query parameter.
    `field` may also be a function of all the fields (Device Connect's attribute and method)."""

    field: str | Callable[[Mapping[str, Any]], Any]
    names: Mapping[Any, str]
    default: str

    def __post_init__(self) -> None:
        for name in (*self.names.values(), self.default):
            action_name(name)

    @property
    def choices(self) -> frozenset[str]:
        """Every name this declaration can write."""
        return frozenset((*self.names.values(), self.default))

    def pick(self, fields: Mapping[str, Any]) -> str:
        try:
            value = self.field(fields) if callable(self.field) else fields.get(self.field)
            return self.names.get(value, self.default)
        except Exception:  # noqa: BLE001 - an unhashable value (a list in a JSON body) ...
            return self.default


def declared_names(action: "str | OneOf") -> frozenset[str]:
    """The names a declaration can write (for the tests that walk every declaration)."""
    return action.choices if isinstance(action, OneOf) else frozenset({action})


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class AuditEntry(SQLModel, table=True):
    """One state change (migration 0005). Times are UTC."""

    __tablename__ = "audit_entry"
    id: int | None = Field(default=None, primary_key=True)
    time_utc: datetime = Field(index=True, nullable=False)
    dialect: str = Field(max_length=WIDTHS["dialect"])
    address: str = Field(max_length=WIDTHS["address"])
    who: str = Field(max_length=WIDTHS["who"])
    action: str = Field(max_length=WIDTHS["action"])
    target: str | None = Field(default=None, max_length=WIDTHS["target"])
    result: str = Field(max_length=WIDTHS["result"])
    detail: str | None = Field(default=None, max_length=WIDTHS["detail"])  # migration 0010
    # `,6,9,`: the sources it touched (a source, a record of it, a bookmark on it), so the
    # trail filters by source whatever the target's wording (migration 0015)
    source_ids: str | None = Field(default=None, max_length=WIDTHS["source_ids"])


class AuditEntryOut(BaseModel):
    id: int
    time: str = PydField(description="when the change was asked for, ISO 8601 UTC")
    dialect: str = PydField(description="`native`, `device_connect`, `huawei_live`, `huawei_rtc`, `gui`")
    address: str = PydField(description="the client's address (`local` for the GUI)")
    who: str = PydField(description="the credential's id (`station-token`, `open`, `dc-client:…`, "
                        "`ak:…`) or the operator's OS user name; never a secret")
    action: str = PydField(description="what was asked, one name of the vocabulary whatever the "
                           "door: `start recording`, `create source`, `save settings` …")
    target: str | None = PydField(description="what it touched, names beside ids as they were "
                                  "when the entry was written: `group Entrances (2)`, `source "
                                  "Front door (6)`, `record of Front door 2026-12-07 "
                                  "10:17:22–10:18:15 (1712eed8)`, `tag \"lobby\"`")
    result: str = PydField(description="the HTTP status for the API; `ok` or `failed: …` for the GUI")
    detail: str | None = PydField(None, description="for the API, the method and route pattern "
                                  "asked (`POST /api/v1/record`) and the dialect's own terms "
                                  "(`action=START app=live stream=cam1`, `profile=mediastreamrecording"
                                  " attribute=record serviceId=…`); never a secret")
    source_ids: list[int] = PydField(default_factory=list, description="the sources the entry "
                                     "touched (a source, a record of it, a bookmark on it)")


class AuditPage(BaseModel):
    """`GET /api/v1/audit`: newest first."""

    items: list[AuditEntryOut]
    total: int = PydField(description="entries matching the filters (and `before_id`)")
    page: int
    page_size: int


def clean(value: Any, width: int) -> str:
    """A printable, bounded string: control characters and line or paragraph separators
    become `?`, format characters (bidi overrides such as U+202E, zero-width spaces) are
    removed, so a value reads as it is stored; the rest is cut."""
    text = value if isinstance(value, str) else str(value)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else _unprintable(ch) for ch in text)
    text = CONTROL.sub("?", text)
    return text if len(text) <= width else text[:width - 1] + "…"


def _unprintable(ch: str) -> str:
    kind = unicodedata.category(ch)
    return "" if kind == "Cf" else " " if kind == "Zs" else "?"


def quoted(value: str, width: int = MAX_NAME_SHOWN) -> str:
    """A caller's name as the trail shows it: cleaned, cut, in double quotes with `"` and `\\`
    escaped, so a comma or a quote inside it cannot imitate another target."""
    return json.dumps(clean(value, width), ensure_ascii=False)


# Path parameters and body fields that name what a request touches, with the word shown.
# Only identifiers and names: never a URI, a location or anything that may carry a secret.
# An identifier is listed only when it has the shape of its kind (the route's type), a
# name only quoted (`quoted`).
INT_ID = re.compile(r"^[0-9]{1,19}$")
HEX_ID = re.compile(r"^[0-9A-Fa-f]{32}$")          # records, sync jobs (uuid4().hex)
OPAQUE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")   # uploads, RTC jobs, Huawei project/app ids
IDS = (("group_id", "group", INT_ID), ("source_id", "source", INT_ID),
       ("bookmark_id", "bookmark", INT_ID), ("record_id", "record", HEX_ID),
       ("job_id", "job", OPAQUE_ID), ("upload_id", "upload", OPAQUE_ID),
       ("app_id", "app", OPAQUE_ID), ("project_id", "project", OPAQUE_ID),
       ("layout_id", "layout", INT_ID))
NAMES = (("tag_name", "tag"), ("group_name", "group"), ("name", "name"), ("app", "app"),
         ("stream", "stream"), ("serviceId", "service"), ("user_id", "user"),
         ("room_id", "room"))
NOT_AN_ID = "(not an id)"
MAX_BODY_PARSED = 1 << 20


def _id_shown(value: Any, shape: re.Pattern) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        return None
    return str(value) if shape.match(str(value)) else NOT_AN_ID


def describe_target(params: Mapping[str, Any] | None = None,
                    body: bytes | str | Mapping[str, Any] | None = None) -> str | None:
    """`source 3`, `group 2, source 5`, `tag "lobby", group "demo"` ... from a request's path
    parameters (`request.match_info`) and its JSON body (raw bytes or parsed). An id that
    does not have its kind's shape is `(not an id)`: a request (authenticated or not) never
    writes its own text in an id's place. Never raises; a body that is not a JSON object adds
    nothing. A path parameter wins over a body field of the same word."""
    try:
        fields: dict[str, Any] = {}
        if isinstance(body, (bytes, bytearray, str)) and 0 < len(body) <= MAX_BODY_PARSED:
            try:
                body = json.loads(body)
            except (ValueError, RecursionError):
                body = None
        if isinstance(body, Mapping):
            fields.update(body)
        if params:
            fields.update(params)
        parts: list[str] = []
        for key, word, shape in IDS:
            shown = _id_shown(fields.get(key), shape)
            if shown is not None and f"{word} {shown}" not in parts:
                parts.append(f"{word} {shown}")
        for key, word in NAMES:
            value = fields.get(key)
            if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
                continue
            part = f"{word} {quoted(str(value))}"
            if part not in parts:
                parts.append(part)
        return clean(", ".join(parts), WIDTHS["target"]) if parts else None
    except Exception:  # noqa: BLE001 - describing a target must never break a request
        return None


@dataclass
class _Pending:
    seq: int
    row: dict
    named: bool = False  # names resolved (once: a write retried keeps them)


class AuditService:
    """Records state changes without ever blocking its caller; lists and purges them."""

    def __init__(self, catalog: Catalog, bus: EventSink | None = None, *,
                 retention_days: int = RETENTION_DAYS, max_queue: int = MAX_QUEUE,
                 clock: Callable[[], datetime] = utcnow):
        self.catalog, self.bus = catalog, bus
        self.retention_days, self.max_queue, self.clock = retention_days, max_queue, clock
        self._cond = threading.Condition()
        self._pending: deque[_Pending] = deque()
        self._seq = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.dropped = 0        # entries lost because the queue was full
        self.failures = 0       # failed write attempts
        self._dropped_logged = 0
        self._drop_logged_at = -DROP_LOG_EVERY_S
        self.names = NameBook()  # read and written on the writer's thread only
        self._last_seen: dict[tuple, float] = {}  # coalesced reads: key -> monotonic time

    # --- recording ---------------------------------------------------------------------
    def record(self, *, dialect: str, address: str, who: str, action: str,
               target: str | None, result: str, detail: str | None = None,
               coalesce_s: float | None = None) -> None:
        """Queue one entry; returns at once and never raises. `action` is a name of
        `ACTIONS` (its callers declare it checked); `detail` what the API was asked. Ids in
        `target` (`source 6`, `record <hex>`) get their names when the entry is written.
        `coalesce_s`: the same caller, action and target again within that many seconds is
        not written again (a page polling a source's picture is one entry a minute, not 86 400
        a day; a player's range requests one download)."""
        try:
            if coalesce_s and self._seen_lately((dialect, address, who, action, target, result),
                                                coalesce_s):
                return
            row = {"time_utc": self.clock().astimezone(timezone.utc),
                   "dialect": clean(dialect, WIDTHS["dialect"]),
                   "address": clean(address, WIDTHS["address"]),
                   "who": clean(who, WIDTHS["who"]), "action": clean(action, WIDTHS["action"]),
                   "target": None if target is None else clean(target, WIDTHS["target"]),
                   "result": clean(result, WIDTHS["result"]),
                   "detail": None if detail is None else clean(detail, WIDTHS["detail"])}
            with self._cond:
                if len(self._pending) >= self.max_queue:
                    self._pending.popleft()
                    self.dropped += 1
                self._seq += 1
                self._pending.append(_Pending(self._seq, row))
                self._cond.notify_all()
            if self.dropped != self._dropped_logged:
                self._log_drops()
        except Exception:  # noqa: BLE001 - auditing must never break what it audits
            try:
                log.exception("audit: an entry could not be queued")
            except Exception:  # noqa: BLE001
                pass

    def _seen_lately(self, key: tuple, window: float) -> bool:
        now = time.monotonic()
        with self._cond:
            last = self._last_seen.get(key)
            if last is not None and now - last < window:
                return True
            if len(self._last_seen) >= MAX_COALESCED:  # forget the stale, else the oldest half
                fresh = {k: t for k, t in self._last_seen.items() if now - t < window}
                if len(fresh) >= MAX_COALESCED:
                    fresh = dict(sorted(fresh.items(), key=lambda kt: kt[1])[MAX_COALESCED // 2:])
                self._last_seen = fresh
            self._last_seen[key] = now
            return False

    def _log_drops(self) -> None:
        now = time.monotonic()
        if now - self._drop_logged_at < DROP_LOG_EVERY_S:
            return
        self._drop_logged_at, self._dropped_logged = now, self.dropped
        log.warning("audit: queue full (%d entries waiting): %d oldest entries dropped so far",
                    self.max_queue, self.dropped)

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until what was queued before this call is in the catalog (or dropped); False
        when it is not within `timeout` (the catalog cannot be written just now)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._seq
            while self._pending and self._pending[0].seq <= target:
                if self._thread is None or not self._thread.is_alive():
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._pending)

    # --- reading -----------------------------------------------------------------------
    def list(self, *, page: int = 1, page_size: int = 50, before_id: int | None = None,
             **filters: Any) -> AuditPage:
        """Newest first. `page`/`page_size` page through the matches; `before_id` starts
        below an id already seen (a stable cursor while new entries arrive). The filters:
        see `conditions`."""
        page, page_size = max(1, int(page)), min(MAX_PAGE_SIZE, max(1, int(page_size)))
        self.flush(timeout=2.0)  # a reader sees the changes made before it asked
        conditions = self.conditions(**filters)
        if before_id is not None:
            conditions.append(AuditEntry.id < before_id)
        with self.catalog.session() as s:
            total = s.exec(select(func.count()).select_from(AuditEntry).where(*conditions)).one()
            rows = s.exec(select(AuditEntry).where(*conditions).order_by(AuditEntry.id.desc())
                          .offset((page - 1) * page_size).limit(page_size)).all()
        return AuditPage(items=[entry_out(r) for r in rows], total=total, page=page,
                         page_size=page_size)

    @staticmethod
    def conditions(*, dialect: str | None = None, action: str | None = None,
                   target: str | None = None, who: str | None = None,
                   source_id: int | None = None, since: datetime | None = None,
                   until: datetime | None = None, q: str | None = None,
                   user: str | None = None) -> list:
        """`dialect`, `action` (a name of `ACTIONS`), `target` and `who` match exactly;
        `user` an account's entries however it came in (`olga`, `olga (token x)`, `olga (ak
        ...)`, `olga (mqtt command)`); `source_id` an entry that touched that source; `since`
        <= time < `until`; `q` a substring (any case) of who, action, target or detail."""
        conditions: list = []
        for column, value in ((AuditEntry.dialect, dialect), (AuditEntry.action, action),
                              (AuditEntry.target, target), (AuditEntry.who, who)):
            if value:
                conditions.append(column == value)
        if user:
            name = user.strip().lower()
            conditions.append(or_(AuditEntry.who == name, AuditEntry.who.like(
                re.sub(r"([\\%_])", r"\\\1", name) + " (%", escape="\\")))
        if source_id is not None:
            conditions.append(AuditEntry.source_ids.contains(f",{int(source_id)},"))
        if since is not None:
            conditions.append(AuditEntry.time_utc >= _utc(since))
        if until is not None:
            conditions.append(AuditEntry.time_utc < _utc(until))
        if q:
            pattern = "%" + re.sub(r"([\\%_])", r"\\\1", q) + "%"
            conditions.append(or_(*(column.ilike(pattern, escape="\\") for column in (
                AuditEntry.who, AuditEntry.action, AuditEntry.target, AuditEntry.detail))))
        return conditions

    def entries(self, limit: int = MAX_CSV_ROWS, before_id: int | None = None,
                **filters: Any) -> list[AuditEntryOut]:
        """Every entry the filters select (below `before_id`), newest first, at most `limit`
        (for a CSV export): read in chunks by id, without the count a page needs."""
        self.flush(timeout=2.0)
        conditions = self.conditions(**filters)
        out: list[AuditEntryOut] = []
        before = before_id
        while len(out) < limit:
            chunk = min(CSV_CHUNK, limit - len(out))
            where = conditions + ([AuditEntry.id < before] if before is not None else [])
            with self.catalog.session() as s:  # columns, not ORM rows: 100,000 stay quick
                rows = s.exec(select(*COLUMNS).where(*where).order_by(AuditEntry.id.desc())
                              .limit(chunk)).all()
            out.extend(entry_out(AuditEntry.model_construct(**row._mapping)) for row in rows)
            if len(rows) < chunk:
                break
            before = out[-1].id
        return out

    def callers(self) -> list[str]:
        """Every `who` in the trail (the GUI's filter offers them)."""
        self.flush(timeout=2.0)
        with self.catalog.session() as s:
            return sorted(s.exec(select(AuditEntry.who).distinct()).all())

    # --- retention ---------------------------------------------------------------------
    def purge(self) -> int:
        """Delete entries older than the retention (in chunks); return how many."""
        cutoff = (self.clock() - timedelta(days=self.retention_days)).astimezone(timezone.utc)
        removed = 0
        while True:
            with self.catalog.session() as s:
                ids = select(AuditEntry.id).where(AuditEntry.time_utc < cutoff).limit(PURGE_CHUNK)
                done = s.execute(delete(AuditEntry).where(AuditEntry.id.in_(ids))).rowcount or 0
            removed += done
            if done < PURGE_CHUNK:
                break
        if removed:
            log.info("audit: %d entries older than %d days purged", removed, self.retention_days)
        return removed

    # --- the writer --------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued (within `timeout`), then end the writer."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("audit: writer still busy after %.0f s; %d entries not written",
                            timeout, self.waiting)
            self._thread = None

    def _run(self) -> None:
        next_purge = time.monotonic()  # once at start, then daily
        backoff = 0.0
        while True:
            with self._cond:
                if not self._pending and not self._stopping:
                    self._cond.wait(max(0.0, next_purge - time.monotonic()))
                batch = list(itertools.islice(self._pending, BATCH))
                stopping = self._stopping
            if batch:
                if self._write(batch):
                    backoff = 0.0
                    with self._cond:
                        while self._pending and self._pending[0].seq <= batch[-1].seq:
                            self._pending.popleft()
                        self._cond.notify_all()
                    self._announce(len(batch))
                elif stopping:
                    log.error("audit: stopping with %d entries the catalog did not take",
                              self.waiting)
                    return
                else:
                    backoff = min(MAX_BACKOFF_S, max(0.5, backoff * 2))
                    with self._cond:
                        if not self._stopping:
                            self._cond.wait(backoff)
                    continue
            if time.monotonic() >= next_purge and not stopping:
                next_purge = time.monotonic() + PURGE_EVERY_S
                try:
                    self.purge()
                except Exception as exc:  # noqa: BLE001 - retried tomorrow
                    log.warning("audit: purge failed (%s); next try in a day", exc)
            if stopping and not batch:
                return

    def _name(self, batch: list[_Pending]) -> None:
        """Names beside the ids of the entries not named yet (`audit_names`): the names
        as they are now, when the entry is written. A catalog that cannot be read leaves
        the ids as they are: the entry is written all the same."""
        todo = [item for item in batch if not item.named]
        for item in todo:
            if not self.names.mentions_ids(item.row["target"]):
                item.named = True  # nothing to resolve: the catalog is not read for it
        todo = [item for item in todo if not item.named]
        if not todo:
            return
        try:
            with self.catalog.session() as s:
                self.names.refresh(s)
                for item in todo:
                    named = self.names.name(s, item.row["target"])
                    item.row["target"] = None if named.target is None else clean(
                        named.target, WIDTHS["target"])
                    item.row["source_ids"] = named.source_ids_text
                    item.named = True
        except Exception as exc:  # noqa: BLE001 - names are a help, never a condition
            log.warning("audit: names not resolved (%s: %s)", type(exc).__name__,
                        str(exc).splitlines()[0][:200] if str(exc) else "")
            for item in todo:
                item.named = True

    def _write(self, batch: list[_Pending]) -> bool:
        self._name(batch)
        try:
            with self.catalog.session() as s:
                s.add_all([AuditEntry(**item.row) for item in batch])
            return True
        except Exception as exc:  # noqa: BLE001 - a full disk or a lock: retried
            self.failures += 1
            if self.failures == 1 or self.failures % 20 == 0:
                log.warning("audit: %d entries not written yet (%s: %s); retrying",
                            self.waiting, type(exc).__name__, str(exc).splitlines()[0][:200])
            return False

    def _announce(self, count: int) -> None:
        if self.bus is not None:
            self.bus.publish(AuditWritten(count))


COLUMNS = tuple(getattr(AuditEntry, name) for name in AuditEntry.model_fields)


def entry_out(row: AuditEntry) -> AuditEntryOut:
    when = row.time_utc if row.time_utc.tzinfo else row.time_utc.replace(tzinfo=timezone.utc)
    return AuditEntryOut(id=row.id, time=iso_utc(when), dialect=row.dialect, address=row.address,
                         who=row.who, action=row.action, target=row.target, result=row.result,
                         detail=row.detail, source_ids=[int(i) for i in (row.source_ids or "")
                                                        .split(",") if i.isdigit()])


def _utc(when: datetime) -> datetime:
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
