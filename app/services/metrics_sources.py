"""The numbers monitoring reads about each source (`GET /metrics`): the recorder's counters
(fps, bitrate, reconnects, what was written, whether it records) joined with the sources'
names in one catalog query, so a scrape costs the same whatever the number of sources.

Only the sources this station reads appear: a disabled source has no reader, and on a shared
catalog another station's source is that station's to report. A catalog that cannot answer
does not stop the numbers: the names are then the ones the readers were started with.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import col, select

from app.catalog import CATALOG_ERRORS, Catalog
from app.models import Source
from recorder.manager import RecorderManager

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceStats:
    """One source as monitoring sees it. The totals count from the start of its reader (a
    station restart, an address change), as Prometheus counters may."""

    id: int
    name: str
    status: str
    fps: float
    bitrate_bps: float
    bytes_read: int
    reconnects: int
    packets_written: int
    bytes_written: int
    recording: bool       # at least one file of the source is open
    paused: bool          # at least one of them is paused


def source_stats(catalog: Catalog, recorder: RecorderManager) -> list[SourceStats]:
    """Every source read now, by id: memory, and one catalog query for the names."""
    counters = recorder.counters()
    if not counters:
        return []
    try:
        with catalog.session() as s:
            names = dict(s.exec(select(Source.id, Source.name)
                                .where(col(Source.id).in_(list(counters)))).all())
    except CATALOG_ERRORS as exc:
        log.warning("metrics: the catalog cannot name the sources now (%s)",
                    str(exc).splitlines()[0])
        names = {}
    return [SourceStats(id=source_id, name=names.get(source_id, c.name), status=c.status,
                        fps=c.fps, bitrate_bps=c.bitrate_bps, bytes_read=c.bytes_read,
                        reconnects=c.reconnects, packets_written=c.packets_written,
                        bytes_written=c.bytes_written, recording=c.recordings > 0,
                        paused=c.paused > 0)
            for source_id, c in sorted(counters.items())]
