"""Where the recordings browser reads a record's file: on this station's disk, or, for a record
another station of the site holds, from that owner through the station's site client
(`SiteClient.record_file`: the route, each request signed for that owner alone, never a token
in the URL, a widget or a log line, no redirect followed, refusals as domain errors). The GUI
names the record; the site client alone knows how the owner is asked. ("Save a copy" is
the recording service's, `RecordingService.save_copy`, so that the audit trail names it.)

Plain Python, no Qt: `target` asks the catalog whether the owner is online
(`SiteClient.record_file_url`), so it runs on the task runner, never on the GUI thread.
"""

from __future__ import annotations

from app.recordings.timeline import RecordSpan
from app.schemas import RecordOut
from ui.media import MediaTarget, RemoteFile

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
        """What to open: the local path, or the file at its owner, read through the site
        client (`app.errors.Unavailable` while the owner is away)."""
        if not self.is_remote(record):
            return record.location or ""
        client, owner, record_id = self.station.peers, record.station, record.id

        def fetch(byte_range: str | None):
            return client.record_file(owner, record_id, byte_range, timeout=DOWNLOAD_TIMEOUT_S)

        return RemoteFile(client.record_file_url(owner, record_id), fetch,
                          record.location or "")
