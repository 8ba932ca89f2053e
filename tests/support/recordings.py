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
    # No wait for a pre-roll: group_of_testsrc returns once every source is online, i.e. has
    # read a packet, and TESTSRC's every frame is a keyframe (gop=1), so a recording begins at
    # once on the newest one (a second's sleep here was a second per call, 21 calls).
    group_of_testsrc(station, sources, group)
    station.recordings.start(tag, group)
    time.sleep(seconds)
    records = station.recordings.stop(tag)
    assert all(r.status.value == "finished" and r.hash_md5 for r in records), records
    return records
