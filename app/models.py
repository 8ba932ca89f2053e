"""Catalog tables (sqlmodel). The schema itself is created by the Alembic migrations in
`app/migrations`; these classes must stay in step with them (a test compares the two).

Times are timezone-aware UTC datetimes; the public schemas render them as ISO 8601 with
milliseconds and `Z`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.credentials import EncryptedJSON, EncryptedText
from app.schemas import RecordStatus, RtcJobState, SyncFileStatus, SyncStatus


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_record_id() -> str:
    return uuid.uuid4().hex


class Source(SQLModel, table=True):
    """A camera or other input the station reads continuously while it is enabled."""

    __tablename__ = "source"
    id: int | None = Field(default=None, primary_key=True)
    created_utc: datetime = Field(default_factory=utcnow, nullable=False)
    name: str = Field(index=True, unique=True, max_length=255)
    model: str = Field(default="Source", max_length=32)
    # Credentials live in these two: encrypted at rest (app.credentials), masked when shown.
    uri_rtsp: str | None = Field(default=None, sa_column=Column(EncryptedText))
    uri_http_picture: dict[str, Any] | None = Field(default=None, sa_column=Column(EncryptedJSON))
    # A second, smaller stream of the same camera for the wall's tiles (#16); may carry
    # credentials like uri_rtsp. Recording always uses uri_rtsp.
    uri_preview: str | None = Field(default=None, sa_column=Column(EncryptedText))
    # The camera's JPEG snapshot URL (ONVIF GetSnapshotUri), login inline: a tile's picture
    # before the first frame.
    uri_snapshot: str | None = Field(default=None, sa_column=Column(EncryptedText))
    # Its ONVIF control endpoint, when Find cameras added it (#27, PTZ; docs/ptz.md): the
    # `device` service URL, the PTZ `service` path, the `profile` token, `pan_tilt`/`zoom`/
    # `relative`/`presets`/`home` as the camera declares them, `username`/`password`;
    # encrypted: it holds a password.
    onvif: dict[str, Any] | None = Field(default=None, sa_column=Column(EncryptedJSON))
    description: str | None = Field(default=None)
    ffmpeg_cmd: str | None = Field(default=None)
    enabled: bool = Field(default=True, nullable=False)
    # The station that reads and records it (app.site.stations); NULL = not yet adopted.
    station_id: str | None = Field(default=None, index=True, max_length=64)
    # What it records by itself (app.record_modes): manual, continuous, motion or schedule;
    # the weekly slots of `schedule` as [{days, from, to, mode}]; the tag a mode records
    # under (None: the mode's own, `continuous` or `motion`).
    record_mode: str = Field(default="manual", max_length=16, nullable=False)
    record_schedule: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    record_tag: str | None = Field(default=None, max_length=255)
    # Days its finished records are kept (None: the tag's, else the station's retention_days).
    retention_days: int | None = None


class Group(SQLModel, table=True):
    __tablename__ = "group"
    id: int | None = Field(default=None, primary_key=True)
    created_utc: datetime = Field(default_factory=utcnow, nullable=False)
    name: str = Field(index=True, unique=True, max_length=255)


class GroupSource(SQLModel, table=True):
    """Membership: a source may belong to several groups."""

    __tablename__ = "group_source"
    group_id: int = Field(foreign_key="group.id", primary_key=True, ondelete="CASCADE")
    source_id: int = Field(foreign_key="source.id", primary_key=True, ondelete="CASCADE")
    created_utc: datetime = Field(default_factory=utcnow, nullable=False)


class Tag(SQLModel, table=True):
    """The label of one recording session; created on first use."""

    __tablename__ = "tag"
    id: int | None = Field(default=None, primary_key=True)
    created_utc: datetime = Field(default_factory=utcnow, nullable=False)
    name: str = Field(index=True, unique=True, max_length=255)
    # Days its finished records are kept (None: the station's retention_days); a source's
    # own retention_days comes first.
    retention_days: int | None = None


class Record(SQLModel, table=True):
    """One file of one source recorded under one tag."""

    __tablename__ = "record"
    __table_args__ = (UniqueConstraint("running_key", name="uq_record_running_key"),)
    id: str = Field(default_factory=new_record_id, primary_key=True, max_length=32)
    created_utc: datetime = Field(default_factory=utcnow, nullable=False)
    status: str = Field(default=RecordStatus.recording, index=True, max_length=16)
    begin_utc: datetime | None = None
    end_utc: datetime | None = None
    source_id: int | None = Field(default=None, foreign_key="source.id", index=True, ondelete="SET NULL")
    tag_id: int = Field(foreign_key="tag.id", index=True)
    model: str = Field(default="Source", max_length=32)
    hash_md5: str | None = Field(default=None, max_length=32)
    location: str | None = None
    sync_location: str | None = None
    size_bytes: int | None = None
    duration_s: float | None = None
    error: str | None = None
    # Snapshot of the source as it was when recording started, so a record stays readable
    # after its source is edited or deleted; its credentials are masked (no secret needed).
    source_snapshot: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # "<source_id>:<tag_id>" while recording, NULL afterwards: the database itself guarantees
    # one running record per source and tag, whatever races the front ends produce.
    running_key: str | None = Field(default=None, max_length=64)
    # Retention never deletes a protected record's file (set by the operator, per record or tag).
    protected: bool = Field(default=False, nullable=False)
    # Outages inside the file: [{"begin_utc": iso, "end_utc": iso}] (last packet before, first
    # packet after), as data rather than text in `error`.
    gaps: list[dict[str, str]] | None = Field(default=None, sa_column=Column(JSON))
    # When and why the file was deleted (retention, the disk floor, an operator's request).
    deleted_utc: datetime | None = None
    deleted_reason: str | None = None
    # The station whose disk holds the file (its source's owner when it was recorded).
    station_id: str | None = Field(default=None, index=True, max_length=64)


class Station(SQLModel, table=True):
    """A station sharing this catalog: registered on start, its heartbeat (`last_seen_utc`,
    every few seconds) carries its sources' status and its disk space, so every station can
    show the others' sources without asking them. Online = seen within `OFFLINE_AFTER_S`."""

    __tablename__ = "station"
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=255)
    url: str | None = None
    version: str = Field(max_length=32)
    started_utc: datetime = Field(default_factory=utcnow, nullable=False)
    last_seen_utc: datetime = Field(default_factory=utcnow, nullable=False)
    stopped: bool = Field(default=False, nullable=False)  # a clean stop: offline at once
    # {"<source id>": [status, error]} of its own sources, as its recorder sees them
    source_status: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # {"total_bytes", "free_bytes", "floor_bytes"} of its recordings' filesystem
    disk: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class Bookmark(SQLModel, table=True):
    """A moment an operator marked on a source (a key on a tile or in the player, or the
    API): listed, searched, shown on the timeline, exported as a range around it, and it
    keeps retention off the records it falls in while it exists."""

    __tablename__ = "bookmark"
    id: int | None = Field(default=None, primary_key=True)
    created_utc: datetime = Field(default_factory=utcnow, nullable=False)
    source_id: int | None = Field(default=None, foreign_key="source.id", index=True,
                                  ondelete="SET NULL")
    source_name: str = Field(max_length=255)  # as it was, so a bookmark outlives its source
    time_utc: datetime = Field(index=True, nullable=False)
    title: str = Field(max_length=255)
    note: str | None = None


class StationEvent(SQLModel, table=True):
    """Something an operator should know happened (app.alarms): a camera lost and back, a
    recording started, stopped or failed, the disk low, retention deleting, motion, a bookmark.
    Open while `end` is NULL; `id` only grows, so it is the cursor lists and streams resume
    from. Each station writes its own sources' events (`station_id`); every station lists
    the site's."""

    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_source_begin", "source_id", "begin"),
        # The open events (camera lost, motion ...): what the watchers close and the GUI counts.
        Index("ix_event_open", "end", sqlite_where=text('"end" IS NULL'),
              postgresql_where=text('"end" IS NULL')),
        # The unacknowledged ones by severity: the status bar's count of alarms (0014).
        Index("ix_event_unacknowledged", "severity", sqlite_where=text("acknowledged_at IS NULL"),
              postgresql_where=text("acknowledged_at IS NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True, max_length=32)
    source_id: int | None = Field(default=None, foreign_key="source.id", ondelete="SET NULL")
    station_id: str | None = Field(default=None, max_length=64)
    begin: datetime = Field(nullable=False)
    end: datetime | None = None
    severity: str = Field(max_length=16)
    text: str = Field(max_length=1024)
    caused_by: str | None = Field(default=None, max_length=128)
    acknowledged_by: str | None = Field(default=None, max_length=128)
    acknowledged_at: datetime | None = None
    data: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class SourceMotion(SQLModel, table=True):
    """A source's motion detection settings (app.motion), when it has its own: the JSON of
    `vision.settings.MotionSettings.to_dict()`. No row: the defaults. Goes with its source."""

    __tablename__ = "source_motion"
    source_id: int = Field(foreign_key="source.id", primary_key=True, ondelete="CASCADE")
    settings: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class MotionMinute(SQLModel, table=True):
    """One minute of a source's motion grids (#28, app.motion_search): `seconds` has bit i set
    when second i of the minute had motion, `cells` is the zlib of those seconds' grids
    (GRID_ROWS x GRID_COLS bits each, in second order), so a search reads one row per busy
    minute and nothing for a quiet one. `minute_s` is UTC seconds since 1970, a multiple of 60;
    `station_id` the station that analysed it. Goes with its source."""

    __tablename__ = "motion_minute"
    source_id: int = Field(foreign_key="source.id", primary_key=True, ondelete="CASCADE")
    minute_s: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    station_id: str | None = Field(default=None, max_length=64)
    seconds: int = Field(sa_column=Column(BigInteger, nullable=False))
    cells: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class SyncJob(SQLModel, table=True):
    """One `POST /api/v1/sync`: copy a tag's finished records to a folder or another station.
    Kept in the catalog so a job cut short by a stop or a crash resumes on the next start."""

    __tablename__ = "sync_job"
    id: str = Field(default_factory=new_record_id, primary_key=True, max_length=32)
    created_utc: datetime = Field(default_factory=utcnow, nullable=False)
    tag_id: int = Field(foreign_key="tag.id", index=True, ondelete="CASCADE")
    # As the client gave it, with any token masked: the token itself never enters the catalog.
    location: str
    status: str = Field(default=SyncStatus.queued, index=True, max_length=16)
    error: str | None = None
    started_utc: datetime | None = None
    finished_utc: datetime | None = None
    # The station that copies the files (they are on its disk), runs and resumes the job.
    station_id: str | None = Field(default=None, index=True, max_length=64)


class SyncItem(SQLModel, table=True):
    """One file of a sync job; `verified` once the far end confirmed its MD5."""

    __tablename__ = "sync_item"
    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(foreign_key="sync_job.id", index=True, max_length=32, ondelete="CASCADE")
    record_id: str = Field(foreign_key="record.id", index=True, max_length=32, ondelete="CASCADE")
    file_name: str
    size_bytes: int = Field(default=0, nullable=False)
    hash_md5: str = Field(max_length=32)
    status: str = Field(default=SyncFileStatus.pending, max_length=16)
    bytes_done: int = Field(default=0, nullable=False)
    # Bytes this station sent for the file over all attempts: equal to the size when nothing
    # was sent twice (a resume continued where the destination stood).
    bytes_sent: int = Field(default=0, nullable=False)
    sync_location: str | None = None
    error: str | None = None


class RtcJob(SQLModel, table=True):
    """One Huawei SparkRTC individual stream job (`/v2/apps/{app_id}/individual-stream-jobs`):
    a source (`user_id`) of a group (`room_id`) recorded and/or forwarded live. Kept in the
    catalog so a job outlives a restart (a running one comes back STOPPED)."""

    __tablename__ = "rtc_job"
    job_id: str = Field(default_factory=new_record_id, primary_key=True, max_length=32)
    app_id: str = Field(index=True, max_length=255)
    room_id: str = Field(max_length=255)
    user_id: str = Field(max_length=255)
    source_id: int | None = Field(default=None, foreign_key="source.id", ondelete="SET NULL")
    record_id: str | None = Field(default=None, foreign_key="record.id", index=True,
                                  max_length=32, ondelete="SET NULL")
    stream_name: str = Field(max_length=1024)
    is_record_audio: bool = Field(default=True, nullable=False)
    video_type: str = Field(default="CAMERASTREAM", max_length=16)
    select_stream_type: str = Field(default="FHD", max_length=8)
    max_idle_time: int = Field(default=30, nullable=False)
    # Its RTMP URLs carry stream keys: encrypted at rest like a source's credentials.
    publish_param: dict[str, Any] | None = Field(default=None, sa_column=Column(EncryptedJSON))
    record_param: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    state: str = Field(default=RtcJobState.init, index=True, max_length=16)
    stop_reason: str | None = Field(default=None, max_length=32)
    description: str | None = None
    create_time: datetime = Field(default_factory=utcnow, nullable=False)
    update_time: datetime = Field(default_factory=utcnow, nullable=False)
    start_time: datetime | None = None
    stop_time: datetime | None = None


class Layout(SQLModel, table=True):
    """A named arrangement of the wall (#27): a `shape` (`3x3`, `1+5`, `2+8` ...) and what each
    of its cells shows (`cells[i]`: a source id, or None for a cell left empty on purpose).
    Shared by the stations of a site (the catalog), chosen per screen by the GUI."""

    __tablename__ = "layout"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    shape: str = Field(max_length=16, nullable=False)
    cells: list[int | None] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_utc: datetime = Field(default_factory=utcnow, nullable=False)
    updated_utc: datetime = Field(default_factory=utcnow, nullable=False)
