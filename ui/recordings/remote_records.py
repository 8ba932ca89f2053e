"""Where the recordings browser reads a record's file: on this station's disk, or, for a record
another station of the site holds, from that owner's API (`/api/v1/record/{id}/video`, each
request signed for that owner alone by `Peers.open`, never a token in the URL, a widget or a
log line, and no redirect followed).

Plain Python, no Qt: `target` asks the catalog whether the owner is online (`peers.base_url`),
so it runs on the task runner, never on the GUI thread.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from app.recordings.timeline import RecordSpan
from app.schemas import RecordOut
from ui.media import MediaTarget, RemoteFile

DOWNLOAD_CHUNK = 1 << 20
DOWNLOAD_TIMEOUT_S = 30.0


Held = RecordOut | RecordSpan  # a record as the table or the timeline has it


class RecordFiles:
    """`station`: the station (or its audited view) the GUI runs on."""

    def __init__(self, station):
        self.station = station

    def is_remote(self, record: Held) -> bool:
        return not self.station.site.is_local(record.station)

    def station_name(self, record: Held) -> str:
        """The name of the station whose disk holds the file (from memory)."""
        if not self.is_remote(record):
            return self.station.name
        return self.station.site.name_of(record.station)

    def target(self, record: Held) -> MediaTarget:
        """What to open: the local path, or the owner's URL with the token's headers
        (`app.errors.Unavailable` while the owner is away)."""
        if not self.is_remote(record):
            return record.location or ""
        peers, owner = self.station.peers, record.station
        path = f"/api/v1/record/{record.id}/video"

        def fetch(byte_range: str | None):
            return peers.open(owner, "GET", path, timeout=DOWNLOAD_TIMEOUT_S,
                              headers={"Range": byte_range} if byte_range else None)

        return RemoteFile(f"{peers.base_url(owner)}{path}", fetch, record.location or "")

    def save_copy(self, record: RecordOut, destination: Path) -> int:
        """Copy the record's file to `destination` (streamed: a chunk at a time, never whole
        in memory), from this disk or from its owner; the number of bytes written."""
        target = self.target(record)
        partial = destination.with_name(destination.name + ".part")
        if isinstance(target, RemoteFile):
            with target.fetch(None) as response, open(partial, "wb") as out:
                shutil.copyfileobj(response, out, DOWNLOAD_CHUNK)
        else:
            shutil.copyfile(target, partial)
        partial.replace(destination)
        return destination.stat().st_size
