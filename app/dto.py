"""Catalog rows turned into the public shapes of `app.schemas`: what every service answers
(a source with its credentials masked, a record with its source and tag), never a row itself.
"""

from __future__ import annotations

from typing import Callable

from sqlmodel import Session

from app.credentials import UNREADABLE, is_unreadable
from app.models import Record, Source, Tag
from app.schemas import (
    HttpPicture,
    RecordOut,
    RecordStatus,
    SourceOut,
    SourceStatus,
    iso_utc,
    mask_picture,
    mask_uri,
)
from recorder.redact import redact

StatusLookup = Callable[[int], tuple[str, "str | None"]]


def has_footage(status: RecordStatus | str, location: str | None) -> bool:
    """Whether a record has footage to play: it has a file and the file was not deleted.

    The one definition every front end asks for (the record's and the timeline span's
    `has_footage`): the GUI's table, its timeline and the API once each had their own, and a
    record a crash left open (`interrupted`, closed with its MD5 at the next start) was drawn
    on the timeline but could not be played from it, although its hybrid-fragmented file
    plays like any other (README). A `failed` record plays up to where it failed."""
    return bool(location) and status != RecordStatus.deleted


def source_out(row: Source | dict, status: tuple[str, str | None],
               mode_state: str | None = None) -> SourceOut:
    """A source as every front end sees it: its credentials masked (`mask_uri`). Credentials
    this station's key does not open (`app.credentials.Unreadable`) are left out, and the
    source says so (`credentials_unreadable`, its `error`) instead of failing the list.
    `mode_state`: what its recording mode does now (the mode keeper's `state`)."""
    unreadable = unreadable_fields(row) if isinstance(row, Source) else set()
    data = row.model_dump(exclude=unreadable) if isinstance(row, Source) else dict(row)
    picture = mask_picture(data.get("uri_http_picture"))
    picture = HttpPicture.model_validate(picture) if picture else None
    created = data.get("created_utc")
    return SourceOut(
        id=data["id"],
        created_utc=created if isinstance(created, str) else iso_utc(created),
        status=status[0], error=UNREADABLE if unreadable else redact(status[1]),
        credentials_unreadable=bool(unreadable),
        model=data.get("model") or "Source", name=data["name"],
        uri_rtsp=mask_uri(data.get("uri_rtsp")), uri_http_picture=picture,
        uri_preview=mask_uri(data.get("uri_preview")),
        uri_snapshot=mask_uri(data.get("uri_snapshot")),
        description=data.get("description"), ffmpeg_cmd=data.get("ffmpeg_cmd"),
        enabled=data.get("enabled", True), station=data.get("station_id"),
        record_mode=data.get("record_mode") or "manual",
        record_schedule=data.get("record_schedule"), record_tag=data.get("record_tag"),
        retention_days=data.get("retention_days"), mode_state=mode_state,
    )


def source_snapshot(row: Source) -> dict:
    """The source as a record keeps it, credentials masked: the snapshot only describes what
    was recorded (nothing reads a camera from it), so it has no secret to keep."""
    data = row.model_dump(mode="json", exclude=unreadable_fields(row))
    data["created_utc"] = iso_utc(row.created_utc)
    data["uri_rtsp"] = mask_uri(data.get("uri_rtsp"))
    data["uri_preview"] = mask_uri(data.get("uri_preview"))
    data["uri_snapshot"] = mask_uri(data.get("uri_snapshot"))
    data["uri_http_picture"] = mask_picture(data.get("uri_http_picture"))
    return data


# The columns of a source that hold credentials (encrypted at rest: app.credentials).
CREDENTIAL_FIELDS = ("uri_rtsp", "uri_http_picture", "uri_preview", "uri_snapshot")


def unreadable_fields(row: Source) -> set[str]:
    """The credential fields of `row` this station's key does not open."""
    return {name for name in CREDENTIAL_FIELDS if is_unreadable(getattr(row, name))}


def record_out(session: Session, row: Record, status_of: StatusLookup) -> RecordOut:
    source = session.get(Source, row.source_id) if row.source_id is not None else None
    if source is not None:
        src = source_out(source, status_of(source.id))
    elif row.source_snapshot:
        src = source_out(row.source_snapshot, (SourceStatus.offline, "the source was deleted"))
    else:
        src = None
    tag = session.get(Tag, row.tag_id)
    return record_out_of(row, src, tag.name if tag else None)


def record_out_of(row: Record, source: SourceOut | None, tag_name: str | None) -> RecordOut:
    """A record as front ends see it, given its source and tag name (read with it from the
    catalog, or known without it while the catalog's server is away)."""
    return RecordOut(
        id=row.id, created_utc=iso_utc(row.created_utc), status=row.status,
        begin_utc=iso_utc(row.begin_utc), end_utc=iso_utc(row.end_utc), source=source,
        hash_md5=row.hash_md5, location=row.location, sync_location=row.sync_location,
        tag_name=tag_name, size_bytes=row.size_bytes,
        duration_s=row.duration_s, error=row.error, protected=bool(row.protected),
        gaps=row.gaps or [], deleted_utc=iso_utc(row.deleted_utc),
        deleted_reason=row.deleted_reason, station=row.station_id,
        has_footage=has_footage(row.status, row.location),
    )
