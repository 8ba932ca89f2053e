"""Public shapes: what services accept and return. The native API validates requests with
these same models and generates its OpenAPI document from them; the GUI builds them from
its dialogs. Secrets never leave the core: passwords, and every credential inside a URI
(`recorder.redact.mask_uri`), are masked as `"******"`. Rows become these shapes in
`app.dto`. The times they carry are UTC: `iso_utc` writes them, `utc` and `check_range` read
and bound a query's range (the timeline, an export).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from enum import Enum, StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.errors import InvalidInput
from app.record_modes import MAX_SLOTS, RecordMode, SlotMode, parse_schedule, schedule_json
from recorder.redact import MASK, mask_uri  # one masking for answers, events, logs, snapshots


def iso_utc(value: datetime | None) -> str | None:
    """`2026-11-21T10:15:04.075Z`: UTC, milliseconds, `Z`."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def utc(value: datetime) -> datetime:
    """Timezone-aware UTC (a naive time is taken as UTC: SQLite gives them back naive)."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def check_range(begin: datetime, end: datetime, max_range: timedelta) -> tuple[datetime, datetime]:
    """[begin, end) of a query (the timeline, an export) in UTC: `end` after `begin`, at most
    `max_range` apart; else an InvalidInput on `end`."""
    begin, end = utc(begin), utc(end)
    if end <= begin:
        raise InvalidInput("end must be after begin", field="end")
    if end - begin > max_range:
        span = (f"{max_range.days} days" if max_range.days > 1
                else f"{max_range.total_seconds() / 3600:g} h")
        raise InvalidInput(f"the range may span {span} at most", field="end")
    return begin, end


class SourceModel(str, Enum):
    source = "Source"
    picture = "PictureSource"


# The states as the catalog stores them and JSON shows them. A StrEnum member is its string
# (equal to it, formatted as it), so code compares it with a value read from the catalog or
# from JSON, and writes it into a catalog column, as the string itself.
class SourceStatus(StrEnum):
    connecting = "connecting"
    online = "online"
    offline = "offline"
    error = "error"


class RecordStatus(StrEnum):
    recording = "recording"
    finished = "finished"
    interrupted = "interrupted"
    failed = "failed"
    deleted = "deleted"


class PictureAuth(str, Enum):
    basic = "basic"
    digest = "digest"


class HttpPicture(BaseModel):
    """An HTTP snapshot camera: the URL of its JPEG and its credentials."""

    model_config = ConfigDict(extra="ignore")
    uri: str = Field(min_length=1, max_length=2048)
    auth: PictureAuth | None = None
    user: str | None = Field(default=None, max_length=255)
    password: str | None = Field(default=None, max_length=255)
    interval: float = Field(default=1.0, ge=0.1, le=3600, description="seconds between snapshots")


class ScheduleSlot(BaseModel):
    """One slot of a source's weekly schedule (app.record_modes), in the station's time zone:
    on `days`, from `from` to `to` (wall times, "HH:MM"; `to` at or before `from` runs past
    midnight), the source records as `mode` says."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True,
                              json_schema_extra={"examples": [
                                  {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00",
                                   "to": "18:00", "mode": "continuous"}]})
    days: list[str] = Field(min_length=1, max_length=7, description="mon … sun")
    from_: str = Field(alias="from", description="HH:MM (HH:MM:SS also taken)")
    to: str = Field(description="HH:MM; 24:00 is the end of the day")
    mode: SlotMode


def _checked_schedule(value: Any) -> Any:
    """A schedule checked and written the one way (app.record_modes.parse_schedule): a
    ValueError names the slot and what is wrong, pydantic makes it a 422 on the field."""
    if value is None:
        return None
    if isinstance(value, list):
        value = [v.model_dump(by_alias=True) if isinstance(v, ScheduleSlot) else v
                 for v in value]
    return schedule_json(parse_schedule(value))


class SourceIn(BaseModel):
    """Fields of a source as a client sends them (POST creates, PUT replaces what is sent)."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"model": "Source", "name": "pattern-1", "description": "the built-in test pattern",
         "uri_rtsp": "testsrc://?size=320x240&rate=5"}]})
    model: SourceModel | None = None
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=4096)
    uri_rtsp: str | None = Field(default=None, max_length=2048)
    uri_http_picture: HttpPicture | None = None
    uri_preview: str | None = Field(default=None, max_length=2048, description=(
        "optional: a second, smaller stream of the same camera; the wall's tiles show it, a "
        "focused tile and every recording use `uri_rtsp`. Empty string removes it."))
    uri_snapshot: str | None = Field(default=None, max_length=2048, description=(
        "optional: the camera's JPEG snapshot URL (http/https, login inline as in "
        "`http://user:pass@host/snap.jpg`, sent with HTTP digest): the picture a tile shows "
        "before the first frame. Empty string removes it."))
    ffmpeg_cmd: str | None = Field(default=None, max_length=4096)
    enabled: bool | None = None
    station: str | None = Field(default=None, max_length=64, description=(
        "the id of the station that reads and records it (`GET /api/v1/station`); default: "
        "the station that creates it. Changing it moves the source (not while it records)."))
    record_mode: RecordMode | None = Field(default=None, description=(
        "what it records by itself: `manual` (only what a client starts; the default), "
        "`continuous`, `motion` (while a motion event is open, with pre- and post-capture) "
        "or `schedule` (as `record_schedule`'s slot in force says)"))
    record_schedule: list[ScheduleSlot] | None = Field(default=None, description=(
        f"the weekly slots of `schedule` mode, in the station's time zone; at most "
        f"{MAX_SLOTS}, none overlapping; between slots nothing records by itself"))
    record_tag: str | None = Field(default=None, max_length=255, description=(
        "the tag its mode's recordings go under (default: `continuous` or `motion`, by mode); "
        "empty string restores the default"))
    retention_days: int | None = Field(default=None, ge=0, le=36500, description=(
        "days its finished records are kept, over the tag's and the station's "
        "`retention_days`; 0 removes it"))

    @field_validator("name", "uri_rtsp", "uri_preview", "uri_snapshot", "ffmpeg_cmd",
                     "description", "station", "record_tag",
                     mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("record_schedule", mode="before")
    @classmethod
    def _schedule(cls, value: Any) -> Any:
        return _checked_schedule(value)


class SourceOut(BaseModel):
    id: int
    created_utc: str
    status: SourceStatus
    model: SourceModel
    name: str
    uri_rtsp: str | None
    uri_http_picture: HttpPicture | None
    uri_preview: str | None = None
    uri_snapshot: str | None = None
    description: str | None
    ffmpeg_cmd: str | None
    enabled: bool = True
    error: str | None = None
    station: str | None = Field(default=None, description="the station that reads and records it")
    credentials_unreadable: bool = Field(default=False, description=(
        "its stored credentials were encrypted with another credentials key than this "
        "station's: its addresses are left out and `error` says \"credentials unreadable on "
        "this station\"; enter them again (or give the station the site's key)"))
    record_mode: RecordMode = RecordMode.manual
    record_schedule: list[ScheduleSlot] | None = None
    record_tag: str | None = Field(default=None, description="null: the mode's own tag")
    retention_days: int | None = Field(default=None, description=(
        "null: the tag's, else the station's retention"))
    mode_state: str | None = Field(default=None, description=(
        "what its recording mode does now, on the station that records it: \"recording\", "
        "\"waiting: <why>\" (\"waiting: disk below the floor\", \"waiting: the catalog is "
        "away\"), \"waiting for motion\", \"off by schedule\"; null for `manual` (and for "
        "another station's source)"))


class Gap(BaseModel):
    """An outage inside a record's file: from the last packet before it to the first after."""

    begin_utc: str
    end_utc: str


class RecordOut(BaseModel):
    id: str
    created_utc: str
    status: RecordStatus
    begin_utc: str | None
    end_utc: str | None
    source: SourceOut | None
    hash_md5: str | None
    location: str | None
    sync_location: str | None
    tag_name: str | None = None
    size_bytes: int | None = None
    duration_s: float | None = None
    error: str | None = None
    protected: bool = Field(default=False, description="retention never deletes its file")
    gaps: list[Gap] = Field(default_factory=list, description="outages inside the file")
    deleted_utc: str | None = Field(default=None, description="when its file was deleted")
    deleted_reason: str | None = Field(default=None, description="why its file was deleted")
    station: str | None = Field(default=None, description="the station whose disk holds the file")
    has_footage: bool = Field(default=False, description=(
        "it has a file to play or download (finished, interrupted by a crash, failed part-way "
        "or still recording; not deleted)"))


class RecordListItem(RecordOut):
    """`GET /api/v1/record` item: the seed shows `source` as a one-element list."""

    source: list[SourceOut]  # type: ignore[assignment]


class BookmarkIn(BaseModel):
    """`POST /api/v1/bookmark` (and `PUT /api/v1/bookmark/{id}`: the fields sent change)."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"source_id": 1, "time_utc": "2026-11-26T10:15:04.075Z", "title": "van at the gate",
         "note": "white, no plates"}]})
    source_id: int | None = None
    time_utc: datetime | None = None
    title: str | None = Field(default=None, min_length=1, max_length=255)
    note: str | None = Field(default=None, max_length=4096)

    @field_validator("title", "note", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


class BookmarkOut(BaseModel):
    id: int
    created_utc: str
    source_id: int | None
    source_name: str
    time_utc: str
    title: str
    note: str | None = None


class GroupOut(BaseModel):
    id: int
    created_utc: str
    name: str


class GroupDetail(GroupOut):
    sources: list[SourceOut]


class TagOut(BaseModel):
    id: int
    created_utc: str
    name: str
    records: list[RecordOut]


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"model": "Source", "name": "lobby"}]})
    model: SourceModel | None = None
    name: str = Field(min_length=1, max_length=255)

    @field_validator("name", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


class RecordStartIn(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"tag_name": "meeting-1", "group_name": "lobby"}]})
    model: SourceModel | None = None
    tag_name: str = Field(min_length=1, max_length=255)
    group_name: str = Field(min_length=1, max_length=255)


class RecordSourcesIn(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"tag_name": "meeting-1", "source_ids": [1, 2]}]})
    tag_name: str = Field(min_length=1, max_length=255)
    # ids as the catalog stores them (64-bit): a larger number is a 422, never an overflow
    source_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(min_length=1,
                                                                        max_length=1000)


class RecordStopIn(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{"tag_name": "meeting-1"}]})
    model: SourceModel | None = None
    tag_name: str = Field(min_length=1, max_length=255)


class RecordProtectIn(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{"protected": True}]})
    protected: bool = Field(strict=True, description="true: retention never deletes this record's file")


class TagProtectIn(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"name": "meeting-1", "protected": True}]})
    name: str = Field(min_length=1, max_length=255, description="the tag name")
    protected: bool = Field(strict=True, description="applies to every record of the tag, running ones "
                            "included (and to the files a running one rolls over to)")


class TagRetentionIn(BaseModel):
    """A tag's own retention, over the station's (a source's own comes first)."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"name": "motion", "retention_days": 90}]})
    name: str = Field(min_length=1, max_length=255, description="the tag name")
    retention_days: int | None = Field(ge=0, le=36500, description=(
        "days the tag's finished records are kept; 0 or null: the station's retention_days"))


class TagRetentionOut(BaseModel):
    name: str
    retention_days: int | None = Field(description="null: the station's retention_days")


def unmask_uri(new: str | None, stored: str | None) -> str | None:
    """A client that sends the masked URI back keeps the stored credentials. Only the fragment
    may differ (`#udp`, the RTSP transport choice, never sent anywhere): any other change
    (scheme, host, user, path, query) with a mask must come with the secrets again, so a
    stored password is never sent to a new address. Otherwise the URI is kept as sent, the
    mask included (it is no one's secret)."""
    if not new or MASK not in new or not stored:
        return new
    new_base, sep, fragment = new.partition("#")
    stored_base = stored.partition("#")[0]
    if mask_uri(stored_base) == new_base:
        return stored_base + sep + fragment
    return new


def mask_nested(value: Any) -> Any:
    """Every URI inside a JSON-like value masked (`mask_uri`), e.g. a SparkRTC job's
    `publish_param.rtmp_urls`, whose stream keys are secrets."""
    if isinstance(value, str):
        return mask_uri(value)
    if isinstance(value, dict):
        return {k: mask_nested(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_nested(v) for v in value]
    return value


def mask_picture(picture: dict[str, Any] | None) -> dict[str, Any] | None:
    """A PictureSource's `uri_http_picture` as shown: its password and the credentials of its
    URL masked."""
    if not picture:
        return picture
    shown = dict(picture)
    if shown.get("password"):
        shown["password"] = MASK
    if isinstance(shown.get("uri"), str):
        shown["uri"] = mask_uri(shown["uri"])
    return shown


def unmask_picture(new: dict[str, Any] | None, stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """A masked `uri_http_picture` sent back keeps the stored secrets: the URL's by
    `unmask_uri`; the password field's only while the URL (once unmasked) points at the
    same scheme, host and port and the user is the same, so the password never follows a new
    address (there it is dropped: the operator types it again)."""
    if not new:
        return new
    old = stored or {}
    picture = dict(new)
    picture["uri"] = unmask_uri(picture.get("uri"), old.get("uri"))
    if picture.get("password") == MASK:
        same = _origin(picture.get("uri")) == _origin(old.get("uri")) \
            and (picture.get("user") or None) == (old.get("user") or None)
        picture["password"] = old.get("password") if same else None
    return picture


def _origin(uri: str | None) -> str | None:
    """`http://u:p@Host:80/x?y` → `http://host:80`: where a request (and a password) goes."""
    if not uri or "://" not in uri:
        return None
    scheme, rest = uri.split("://", 1)
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    return f"{scheme.lower()}://{authority.lower()}"



# --- sync (`POST /api/v1/sync`) and the upload endpoint another station syncs into ---------
class SyncIn(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"tag_name": "meeting-1", "location": "/mnt/backup/recordings"},
        {"tag_name": "meeting-1", "location": "http://:TOKEN@10.0.0.2:4035/"}]})
    tag_name: str = Field(min_length=1, max_length=255)
    location: str = Field(min_length=1, max_length=4096, description=(
        "an absolute directory path inside a folder of the `sync_dirs` setting, or another "
        "station's base URL; its token goes in the URL's userinfo (`http://:TOKEN@host:4035/`) "
        "or as `?accessToken=TOKEN`"))

    @field_validator("tag_name", "location", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


class SyncStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class SyncFileStatus(StrEnum):
    pending = "pending"
    sending = "sending"
    verified = "verified"
    failed = "failed"


class SyncFileOut(BaseModel):
    record_id: str
    file_name: str
    status: SyncFileStatus
    size_bytes: int
    bytes_done: int = Field(description="bytes the destination holds")
    bytes_sent: int = Field(description="bytes sent over all attempts; the size when a resume "
                            "sent nothing twice")
    sync_location: str | None = None
    error: str | None = None


class SyncJobOut(BaseModel):
    """`GET /api/v1/sync/{job_id}`: where a sync job stands, file by file."""

    id: str
    created_utc: str
    started_utc: str | None
    finished_utc: str | None
    tag_name: str
    location: str = Field(description="the destination, any token masked")
    status: SyncStatus
    error: str | None = None
    files_total: int
    files_done: int
    files_failed: int
    bytes_total: int
    bytes_done: int
    current_file: str | None = None
    files: list[SyncFileOut]


class UploadFinishIn(BaseModel):
    """Closes an upload: the receiver verifies `md5` before filing the file under
    `synced/<station>/<tag_name>/<file_name>` in its storage folder."""

    model_config = ConfigDict(extra="ignore")
    md5: str = Field(pattern=r"^[0-9a-fA-F]{32}$")
    station: str = Field(min_length=1, max_length=255)
    tag_name: str = Field(min_length=1, max_length=255)
    file_name: str = Field(min_length=1, max_length=255)


class UploadOut(BaseModel):
    upload_id: str
    received: int = Field(description="bytes stored so far: the offset to continue from")
    total: int | None
    complete: bool
    md5: str | None = None
    location: str | None = None


# --- Huawei SparkRTC individual stream jobs (app.dialects.huawei.rtc_jobs) ------------
class RtcJobState(StrEnum):
    init = "INIT"          # created; its source not online yet
    running = "RUNNING"    # its source online
    stopped = "STOPPED"    # for good: see stop_reason


class RtcJobOut(BaseModel):
    """One individual stream job as the service answers it. Field order and names are the
    SparkRTC job's (the dialect dumps it); `record_id` is the station's own addition."""

    job_id: str
    stream_name: str
    app_id: str
    room_id: str
    user_id: str
    is_record_audio: bool
    video_type: str
    select_stream_type: str
    max_idle_time: int
    publish_param: dict[str, Any] | None = Field(description="its RTMP URLs' stream keys masked")
    record_param: dict[str, Any] | None
    create_time: str
    update_time: str
    start_time: str | None
    stop_time: str | None
    state: RtcJobState
    stop_reason: str | None = Field(description="TENANT_STOP, EXCEED_MAX_IDLE_TIME or INTERNAL_ERROR")
    description: str | None
    record_id: str | None = Field(default=None, description="the record the job writes now")


class EventSeverity(StrEnum):
    """How loud an event is: `alarm` wants an operator (a lost camera, a failed recording)."""

    info = "info"
    warning = "warning"
    alarm = "alarm"


class EventOut(BaseModel):
    """An event of the station or of another station of the site (app.alarms): open while
    `end` is null; `id` only grows, so it is the cursor to resume from."""

    id: int = Field(description="increasing: the cursor of `after_id` and `Last-Event-ID`")
    kind: str = Field(description="`camera_lost`, `camera_back`, `recording_started`, "
                      "`recording_stopped`, `recording_failed`, `disk_low`, "
                      "`retention_deleted`, `motion`, `bookmark` …")
    source_id: int | None
    station_id: str | None = Field(description="the station that raised it")
    begin: str
    end: str | None = Field(description="null while the event is open")
    severity: EventSeverity
    text: str = Field(description="what happened, for an operator")
    caused_by: str | None = Field(None, description="the dialect, user or client that caused "
                                  "it, when one did")
    acknowledged_by: str | None = None
    acknowledged_at: str | None = None
    data: dict[str, Any] | None = Field(None, description="details of the kind (record ids, "
                                        "motion zones …)")


# --- motion detection (issue #24): what GET/PUT /api/v1/source/{id}/motion carry -------------
# The detector's own rules (vision.settings.MotionSettings.from_dict, through
# app.motion.MotionService.change) decide what is valid; these models give the API its types,
# a 422 on a misspelt field, and the OpenAPI document its shapes and documented ranges.
MotionPoint = tuple[float, float]


class MotionZoneIn(BaseModel):
    """A polygon on the picture, in normalised coordinates (0..1, from the top left), so a
    camera's resolution change keeps it."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field("", max_length=40, description=(
        "an include zone's name (1..40 characters), carried by the motion events it touches; "
        "an exclude mask may leave it empty"))
    kind: Literal["include", "exclude"] = Field(description=(
        "`include` (a named zone) or `exclude` (a mask: a clock "
        "burned into the picture, a tree, a road)"))
    points: list[MotionPoint] = Field(description="3..64 points `[x, y]`, each 0..1")
    sensitivity: int | None = Field(None, description=(
        "include zones only: 1..100, over the source's; null: the source's"))


class MotionZoneOut(MotionZoneIn):
    pass


class MotionSettingsIn(BaseModel):
    """A source's motion settings: only the fields sent change (`zones`, when sent, replaces
    every zone). A field not known is a 422."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"sensitivity": 60, "make_time_s": 1.0, "zones": [
            {"name": "door", "kind": "include", "points": [[0.1, 0.2], [0.4, 0.2], [0.4, 0.9]]},
            {"kind": "exclude", "points": [[0.8, 0], [1, 0], [1, 0.1], [0.8, 0.1]]}]}]})
    enabled: bool | None = Field(None, description="analyse this source")
    algorithm: Literal["diff", "mog2"] | None = Field(None, description=(
        "`diff` (frame differencing against a running average; the default) or `mog2` "
        "(background subtraction without shadows: scenes with shadows and moving trees)"))
    fps: float | None = Field(None, description="pictures analysed per second (1..15)")
    sensitivity: int | None = Field(None, description=(
        "1..100: higher counts smaller brightness changes"))
    min_area: float | None = Field(None, description=(
        "the share of the picture (0..1) a change must cover to count"))
    make_time_s: float | None = Field(None, description=(
        "seconds motion must last to open an event (insects, flickers)"))
    post_capture_s: float | None = Field(None, description=(
        "seconds a motion record goes on after the last motion"))
    pre_capture_s: float | None = Field(None, description=(
        "seconds before the motion a motion record begins (at a keyframe at least this early)"))
    max_event_s: float | None = Field(None, description=(
        "an event longer than this closes and a new one opens while motion goes on"))
    global_change: float | None = Field(None, description=(
        "a change of more than this share of the picture at once (an infrared switch, lights, "
        "exposure) re-learns the scene and raises no event"))
    constant_motion_share: float | None = Field(None, description=(
        "a source in motion for more than this share of the last hour raises one "
        "`constant_motion` event"))
    night_sensitivity: int | None = Field(None, description=(
        "in force while the picture is monochrome (infrared); null: the day's"))
    night_min_area: float | None = Field(None, description=(
        "in force while the picture is monochrome; null: the day's"))
    zones: list[MotionZoneIn] | None = Field(None, description=(
        "include zones and exclude masks; with include zones drawn, only motion inside one "
        "counts; an empty list removes every zone"))

    def changes(self) -> dict[str, Any]:
        """What the client sent, as the service's partial settings (`MotionService.change`);
        a null it sent stays (night settings: back to the day's); zones whole."""
        changes = self.model_dump(mode="json", exclude_unset=True)
        if self.zones is not None:
            changes["zones"] = [zone.model_dump(mode="json") for zone in self.zones]
        return changes


class MotionSettingsOut(BaseModel):
    enabled: bool
    algorithm: str
    fps: float
    sensitivity: int
    min_area: float
    make_time_s: float
    post_capture_s: float
    pre_capture_s: float
    max_event_s: float
    global_change: float
    constant_motion_share: float
    night_sensitivity: int | None
    night_min_area: float | None
    zones: list[MotionZoneOut]


class MotionOut(BaseModel):
    """What the motion detector of a source does now, and its settings."""

    source_id: int
    settings: MotionSettingsOut
    analysing: str = Field(description=(
        "`preview` (every picture of the preview stream, at `settings.fps`), `keyframes` (the "
        "source has no preview stream: its main stream's keyframes only), `off` (disabled, or "
        "the source is not read now), `unknown` (another station of the site owns the source "
        "and could not be asked: `error` says why; `settings` are the stored ones and the "
        "figures below are 0 and false)"))
    rate_fps: float = Field(description="pictures really analysed per second (last 10 s)")
    level: float = Field(description="the share of the analysed picture that changed in the "
                         "last picture (0..1)")
    active: bool = Field(description="a motion event is open now")
    night: bool = Field(description="the picture is monochrome: the night settings are in force")
    cost_ms: float = Field(description="mean analysis time per picture, milliseconds")
    error: str | None = Field(None, description=(
        "why `analysing` is `unknown`: the station owning the source is offline or did not "
        "answer; null otherwise"))

    @classmethod
    def of(cls, status: Any) -> "MotionOut":
        """From `app.motion.MotionStatus` (its settings through their own `to_dict`)."""
        return cls(source_id=status.source_id, settings=status.settings.to_dict(),
                   analysing=status.analysing, rate_fps=round(status.rate_fps, 2),
                   level=round(status.level, 4), active=status.active, night=status.night,
                   cost_ms=round(status.cost_ms, 3), error=status.error)
