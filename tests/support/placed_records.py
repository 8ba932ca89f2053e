"""Finished records placed in the catalog at chosen times, each with a real small H.264 file
(tests/support/media.small_clip: 2 s of FFmpeg's test pattern), for GUI tests about what is
listed and shown rather than about recording: no camera, no waiting for seconds of footage,
and records hours apart cost nothing.

The sources are created disabled (nothing connects); the records are written as the recording
service leaves a finished one (status, times, size, MD5, the file's location), so every
service read (the Recordings table, the timeline's spans) sees them as any other."""

from __future__ import annotations

import hashlib
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from app.catalog_rows import tag_by_name
from app.models import Record, Tag
from app.schemas import SourceIn
from tests.support.media import small_clip

CLIP_S = 2.0  # small_clip's length


def quiet_source(station, name: str) -> int:
    """A source that never connects (disabled), to hang records on."""
    return station.sources.create(SourceIn(name=name, uri_rtsp="rtsp://127.0.0.1:9/none",
                                           enabled=False)).id


def place_record(station, folder: Path, source_id: int, tag: str, begin: datetime,
                 seconds: float = CLIP_S) -> str:
    """A finished record of `source_id` under `tag` from `begin` (aware) for `seconds`; its id."""
    template = folder / "template.mp4"
    if not template.is_file():
        small_clip(template)
    with station.catalog.session() as s:
        tag_row = tag_by_name(s, tag)
        if tag_row is None:
            tag_row = Tag(name=tag)
            s.add(tag_row)
            s.commit()
            s.refresh(tag_row)
        row = Record(status="finished", source_id=source_id, tag_id=tag_row.id,
                     begin_utc=begin, end_utc=begin + timedelta(seconds=seconds),
                     duration_s=seconds)
        path = folder / f"{tag}_{source_id}_{row.id}.mp4"
        shutil.copyfile(template, path)
        data = path.read_bytes()
        row.location, row.size_bytes = str(path), len(data)
        row.hash_md5 = hashlib.md5(data).hexdigest()
        s.add(row)
        s.commit()
        return row.id
