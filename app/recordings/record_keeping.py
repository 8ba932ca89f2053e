"""Which record files stay and which go: the `protected` flag (per record, per tag), the
retention's delete (`expire`) and the operator's (`delete_file`).

A deleted record keeps its row, `deleted`, with when and why (`deleted_utc`,
`deleted_reason`). Once a file is gone the record must say so even if the catalog cannot be
written right then (retention runs precisely when the disk is full): the deletion is then
kept in memory like any other state the catalog could not take (`RecordStore.save`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterable

from sqlmodel import select

from app.catalog_rows import tag_by_name
from app.errors import Conflict, InvalidInput, NotFound
from app.events import EventSink, RecordChanged
from app.files import file_size
from app.models import Record, utcnow
from app.recordings.record_overlay import copy_row
from app.recordings.record_queries import RecordQueries
from app.recordings.record_store import RecordStore
from app.schemas import RecordOut, RecordStatus

log = logging.getLogger(__name__)


class RecordKeeping:
    """Given the store it writes through, the queries it answers with, the bus it tells,
    the storage folder no file may be deleted outside of, and `busy`: the ids of records a
    sync copies now (retention leaves them; the composition may set it later)."""

    def __init__(self, store: RecordStore, queries: RecordQueries, bus: EventSink, *,
                 storage_dir: Path, busy: Callable[[], Iterable[str]] = set):
        self._store, self._queries, self._bus = store, queries, bus
        self._storage_dir = storage_dir
        self.busy = busy

    # --- protection ----------------------------------------------------------------------
    def set_protected(self, record_id: str, protected: bool) -> RecordOut:
        """Retention never deletes a protected record's file (the operator still can)."""
        with self._store.lock:
            with self._store.catalog.session() as s:
                row = copy_row(self._store.row(s, record_id))
            row.protected = bool(protected)
            self._store.commit([row])
        log.info("record %s %s", record_id, "protected" if protected else "no longer protected")
        self._bus.publish(RecordChanged(record_id, "protected"))
        return self._queries.get(record_id)

    def protect_tag(self, tag_name: str, protected: bool) -> list[RecordOut]:
        """Protect (or release) every record of the tag, running ones included: the files
        a running one rolls over to inherit the flag."""
        with self._store.lock:
            with self._store.catalog.session() as s:
                tag = tag_by_name(s, tag_name)
                if tag is None:
                    raise NotFound("tag", repr(tag_name), field="name")
                rows = self._store.lay_over(
                    s.exec(select(Record).where(Record.tag_id == tag.id)).all(),
                    lambda r: r.tag_id == tag.id)
                rows = [copy_row(r) for r in rows]
            for row in rows:
                row.protected = bool(protected)
            self._store.commit(rows)
        log.info("tag %r: %d record(s) %s", tag_name, len(rows),
                 "protected" if protected else "no longer protected")
        for row in rows:
            self._bus.publish(RecordChanged(row.id, "protected"))
        return self._queries.tag(tag_name).records

    # --- deletion ------------------------------------------------------------------------
    def expire(self, record_id: str, reason: str) -> bool:
        """Retention's delete: the record's file goes, the record stays `deleted` with when
        and why. Refused (False) for a running, protected or already deleted record, one a
        sync copies now, or one whose file is not a plain file inside the storage folder."""
        with self._store.lock:
            with self._store.catalog.session() as s:
                try:
                    row = copy_row(self._store.row(s, record_id))
                except NotFound:
                    return False
            if row.status in (RecordStatus.recording, RecordStatus.deleted) or row.protected:
                return False
            if record_id in set(self.busy()):
                return False
            path = Path(row.location) if row.location else None
            if path is not None and not self._inside_storage(path):
                log.warning("retention: record %s is outside the storage folder (%s); kept",
                            record_id, path)
                return False
            size = file_size(path)
            if path is not None:
                try:
                    path.unlink(missing_ok=True)
                except OSError as exc:
                    log.warning("retention: cannot delete %s: %s", path, exc)
                    return False
            row.status, row.deleted_utc, row.deleted_reason = RecordStatus.deleted, utcnow(), reason
            self._store.save([row])
        log.info("record %s deleted (%s): %s, %d bytes", record_id, reason,
                 path.name if path else "no file", size)
        self._bus.publish(RecordChanged(record_id, "deleted"))
        return True

    def delete_file(self, record_id: str, location: str) -> RecordOut:
        """Delete the record's own file; nothing else, never a running one."""
        with self._store.lock:
            with self._store.catalog.session() as s:
                row = copy_row(self._store.row(s, record_id))
            if row.status == RecordStatus.recording:
                raise Conflict("the record is still recording", field="record_id")
            if row.status == RecordStatus.deleted:
                raise Conflict("the record's file is already deleted", field="record_id")
            if not location or location != row.location:
                raise InvalidInput("location must be the record's own file location", field="location")
            path = Path(row.location)
            if not self._inside_storage(path):
                raise InvalidInput("location is outside the storage folder", field="location")
            path.unlink(missing_ok=True)
            row.status, row.deleted_utc = RecordStatus.deleted, utcnow()
            row.deleted_reason = "deleted on request"
            self._store.save([row])
        log.info("record %s deleted on request: %s", record_id, path.name)
        self._bus.publish(RecordChanged(record_id, "deleted"))
        return self._queries.get(record_id)

    def _inside_storage(self, path: Path) -> bool:
        storage = self._storage_dir.resolve()
        return (path.is_absolute() and ".." not in path.parts and not path.is_symlink()
                and path.resolve().is_relative_to(storage))
