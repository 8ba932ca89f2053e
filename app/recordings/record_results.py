"""How the recorder's account of a file becomes its record's state: one set of pure functions
that every part ending a file uses (a stop, a failure, a rollover, the recovery at start-up),
so a record closed any of these ways says the same things the same way."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from app.models import Record, utcnow
from app.schemas import RecordStatus, iso_utc
from recorder.mp4file import RecordingResult, file_md5, probe_duration


def wall_utc(wall: float) -> datetime:
    """A recorder's wall-clock time (seconds since the epoch) as a UTC datetime."""
    return datetime.fromtimestamp(wall, timezone.utc)


def gaps_of(result: RecordingResult) -> list[dict[str, str]] | None:
    """The recorder's outages (wall-clock pairs) as the catalog stores them."""
    gaps = [{"begin_utc": iso_utc(wall_utc(a)), "end_utc": iso_utc(wall_utc(b))}
            for a, b in (result.gaps or [])]
    return gaps or None


def apply_result(row: Record, result: RecordingResult, error: str | None,
                 status: str | None = None) -> None:
    """Write how the file closed into `row` (a detached copy): its end, MD5, size, duration
    and gaps, `failed` with the reason if there is one (else `status`, default `finished`),
    and its running_key released."""
    error = error or result.error
    row.status = status or (RecordStatus.failed if error else RecordStatus.finished)
    row.error = error
    row.gaps = gaps_of(result)
    if result.dropped:
        row.error = ((row.error + "; " if row.error else "")
                     + f"{result.dropped} packets dropped: the encoder fell behind")
    if result.begin_wall is not None:
        row.begin_utc = wall_utc(result.begin_wall)
    # The end is the first packet's arrival plus the file's length; a camera that sent its
    # first packets in a burst makes that later than now, and a record never ends in the
    # future (a deletion right after would come "before" its end).
    now = utcnow()
    row.end_utc = min(wall_utc(result.end_wall), now) if result.end_wall else now
    row.hash_md5, row.size_bytes, row.duration_s = result.md5, result.size_bytes, result.duration_s
    row.running_key = None


def measure_file(path: Path, missing: str) -> RecordingResult:
    """A file the recorder no longer holds, measured from the disk (its last write as its
    end); `missing` is the error when there is no file at all."""
    if not path.is_file():
        return RecordingResult(path, None, None, 0.0, 0, None, 0, error=missing)
    end = path.stat().st_mtime
    return RecordingResult(path, None, end, probe_duration(path) or 0.0, path.stat().st_size,
                           file_md5(path), 0)
