"""Real recordings for tests that need finished files: test-pattern sources in a group,
recorded for about a second under a tag (roughly 120 kB per source)."""

from __future__ import annotations

import time

from app.schemas import GroupIn, GroupOut, RecordOut, SourceIn
from app.station import Station
from tests.conftest import TESTSRC, wait_until


def group_of_testsrc(station: Station, n: int = 2, group: str = "g") -> tuple[GroupOut, list[int]]:
    """A group of `n` test-pattern sources, all online."""
    g = station.groups.create(GroupIn(name=group))
    ids = []
    for i in range(n):
        src = station.sources.create(SourceIn(name=f"{group}-cam{i}", uri_rtsp=TESTSRC))
        station.groups.add_source(g.id, src.id)
        ids.append(src.id)
    for sid in ids:
        wait_until(lambda: station.sources.get(sid).status.value == "online", 10, message="online")
    return g, ids


def record_tag(station: Station, tag: str, *, sources: int = 2, seconds: float = 1.0,
               group: str = "g") -> list[RecordOut]:
    """Record `sources` test patterns under `tag`; returns the finished records."""
    group_of_testsrc(station, sources, group)
    time.sleep(1.0)  # pre-roll: the recording starts on a key frame already buffered
    station.recordings.start(tag, group)
    time.sleep(seconds)
    records = station.recordings.stop(tag)
    assert all(r.status.value == "finished" and r.hash_md5 for r in records), records
    return records
