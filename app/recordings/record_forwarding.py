"""What other stations do for a start or a stop, as a part of `RecordingService`.

The rule itself ("this station's sources here, the others' on their owners") is the site
room's `Forwarding` (app.site.forwarding); this part gives it what it reads (the catalog, the
store's `station_id`, the `peers` the composition hands over once the site is known) and
names its three steps publicly, so the start and stop parts call it like any other part
instead of inheriting it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.errors import StationError
from app.models import Source
from app.recordings.record_store import RecordStore
from app.schemas import RecordOut
from app.site.forwarding import Forwarding

if TYPE_CHECKING:  # the site client, which alone knows other stations' routes
    from app.site.client import SiteClient


class RecordForwarding(Forwarding):
    def __init__(self, store: RecordStore, peers: SiteClient | None = None):
        self.catalog = store.catalog
        self._store = store
        self.peers = peers  # None: a station alone, everything local

    @property
    def station_id(self) -> str | None:
        return self._store.station_id

    def split(self, sources: list[Source], forwarded: bool,
              ) -> tuple[list[Source], dict[str, list[int]]]:
        """This station's sources, and the others' ids by owner."""
        return self._split(sources, forwarded)

    def start_there(self, tag_name: str, remote: dict[str, list[int]],
                    ) -> tuple[list[RecordOut], list[StationError]]:
        """Ask each other owner to start its sources under the tag."""
        return self._forward_start(tag_name, remote)

    def stop_there(self, tag_name: str, model: str | None,
                   ) -> tuple[list[RecordOut], list[StationError]]:
        """Ask every other station recording the tag to stop its records of it."""
        return self._forward_stop(tag_name, model)


def joined(here: list[RecordOut], there: list[RecordOut],
           refusals: list[StationError]) -> list[RecordOut]:
    """This station's records and the other owners' answers; the first refusal when
    nothing at all records (an owner away, its disk full)."""
    if refusals and not here and not there:
        raise refusals[0]
    return here + there
