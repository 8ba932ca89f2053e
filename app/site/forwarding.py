"""The part of a start or a stop that other stations do: mixed into `RecordingService`.

A start covering sources of several stations starts this station's own sources itself and
asks each other owner (through the site client, `SiteClient`) to start its own, side by side;
one record per source and tag whatever races: each owner's catalog unique key decides for its
sources, as on one station. A stop stops this station's records of the tag and asks every
other station that has running records of the tag to stop its own. An owner that is offline
or refuses is logged and reported; the rest goes ahead, and only when nothing at all could be
done is the first refusal raised.
"""

from __future__ import annotations

from sqlmodel import select

from app.catalog_rows import tag_by_name
from app.errors import StationError
from app.models import Record, Source
from app.schemas import RecordOut, RecordStatus
from app.site.client import SiteClient
from app.site.stations import is_own


class Forwarding:
    """Uses `station_id`, `catalog` and `peers`, the site client (None: a station alone,
    everything local)."""

    peers: SiteClient | None = None

    def _split(self, sources: list[Source], forwarded: bool,
               ) -> tuple[list[Source], dict[str, list[int]]]:
        """This station's sources, and the others' ids by owner. A request another station
        forwarded here is about this station's sources only: the rest is not ours to pass on."""
        local: list[Source] = []
        remote: dict[str, list[int]] = {}
        for src in sources:
            if self.peers is None or is_own(src.station_id, self.station_id):
                local.append(src)
            elif not forwarded:
                remote.setdefault(src.station_id, []).append(src.id)
        return local, remote

    def _forward_start(self, tag_name: str, remote: dict[str, list[int]],
                       ) -> tuple[list[RecordOut], list[StationError]]:
        if not remote or self.peers is None:
            return [], []
        peers = self.peers
        return peers.each({station: (lambda sid, ids=ids: peers.start_sources(sid, tag_name, ids))
                           for station, ids in remote.items()})

    def _forward_stop(self, tag_name: str, model: str | None,
                      ) -> tuple[list[RecordOut], list[StationError]]:
        """Ask every other station recording the tag to stop its records of it."""
        if self.peers is None:
            return [], []
        with self.catalog.session() as s:
            tag = tag_by_name(s, tag_name)
            if tag is None:
                return [], []
            owners = set(s.exec(select(Record.station_id).where(
                Record.tag_id == tag.id, Record.status == RecordStatus.recording)).all())
        owners -= {None, self.station_id}
        peers = self.peers
        return peers.each({station: (lambda sid: peers.stop_tag(sid, tag_name, model))
                           for station in owners})
