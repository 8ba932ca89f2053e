"""A copy of one record's file, where the operator asked ("Save a copy" in the Recordings
tab), as a part of `RecordingService`.

Why a service and not the GUI's own file copy: a copy of footage that leaves the station's
hands is something the audit trail must name ("copy footage"), and the GUI's audited view
(`app.audited`) records service calls, so the copy has to be one. The rule of where the bytes
come from lives here too: this station's disk, or, for a record another station of the site
holds, its owner's API through the site client (each request signed for that owner, never a
token in a URL or a log line).

The copy is streamed a chunk at a time into `<name>.part` beside the destination and renamed
once complete, so a half-written file never carries the final name; a failed copy leaves no
`.part` behind.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from app.errors import Conflict, InvalidInput
from app.recordings.record_queries import RecordQueries
from app.recordings.record_store import RecordStore
from app.schemas import RecordStatus
from app.site.stations import is_own

if TYPE_CHECKING:  # the site client, which alone knows other stations' routes
    from app.site.client import SiteClient

COPY_CHUNK = 1 << 20
FETCH_TIMEOUT_S = 30.0


class RecordCopies:
    def __init__(self, store: RecordStore, queries: RecordQueries,
                 peers: Callable[[], SiteClient | None]):
        self._store, self._queries, self._peers = store, queries, peers

    def save_copy(self, record_id: str, destination: Path) -> int:
        """Copy the record's file to `destination` (an absolute file path); the bytes
        written. A record still recording, or whose file is gone, has nothing to copy."""
        destination = Path(destination)
        if not destination.is_absolute() or destination.is_dir():
            raise InvalidInput("the copy needs an absolute file path", field="destination")
        record = self._queries.get(record_id)
        if not record.has_footage or not record.location:
            raise Conflict("this record has no file to copy", field="record_id")
        if record.status == RecordStatus.recording:
            raise Conflict("the record is still recording: copy it once it has stopped",
                           field="record_id")
        partial = destination.with_name(destination.name + ".part")
        try:
            if is_own(record.station, self._store.station_id):
                shutil.copyfile(record.location, partial)
            else:
                peers = self._peers()
                if peers is None:
                    raise Conflict("the record is on another station's disk", field="record_id")
                with peers.record_file(record.station, record.id, None,
                                       timeout=FETCH_TIMEOUT_S) as answer, \
                        open(partial, "wb") as out:
                    shutil.copyfileobj(answer, out, COPY_CHUNK)
            partial.replace(destination)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return destination.stat().st_size
