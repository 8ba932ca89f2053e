"""The plan synchronised playback reads (app.recordings.playback_plan) against a real catalog:
each source's segments in time order, rotated files as one stretch, its gaps (between records
and the outages inside a file), which segment holds an instant; hostile input refused; the
session opened through the GUI's audited station is a "play footage" entry."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.audited import AuditedStation
from app.errors import InvalidInput
from app.models import Record, Tag
from app.recordings.playback_plan import Span
from app.schemas import SourceIn
from tests.conftest import TESTSRC, wait_until

T0 = datetime(2026, 12, 7, 10, 0, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def sources(station):
    ids = [station.sources.create(SourceIn(name=name, uri_rtsp=TESTSRC, enabled=False)).id
           for name in ("gate", "yard", "other")]
    gate, _yard, other = ids
    with station.catalog.session() as s:
        tag = Tag(name="plan")
        s.add(tag)
        s.commit()
        s.refresh(tag)
        rows = [  # (id, source, begin, end, status, gaps inside)
            ("r1", gate, 0, 10, "finished", [(3, 4.5)]),
            ("r2", gate, 10.02, 20, "finished", []),   # rotated: 20 ms after r1
            ("r3", gate, 25, 30, "failed", []),        # a failed record plays up to its end
            ("r4", gate, 21, 24, "deleted", []),       # no footage: not played
            ("r5", other, 0, 30, "finished", []),      # another source: not asked
        ]
        for rid, source_id, begin, end, status, gaps in rows:
            s.add(Record(id=rid, tag_id=tag.id, source_id=source_id, status=status,
                         begin_utc=at(begin), end_utc=at(end), location=f"/recordings/{rid}.mp4",
                         gaps=[{"begin_utc": iso(at(b)), "end_utc": iso(at(e))} for b, e in gaps],
                         station_id=station.station_id))
        s.commit()
    return ids


def test_segments_and_gaps_of_each_source(station, sources):
    gate, yard, _other = sources
    plan = station.playback.plan([gate, yard], at(-5), at(35))
    assert [p.source_id for p in plan.sources] == [gate, yard]
    gate_plan, yard_plan = plan.sources
    assert (gate_plan.name, yard_plan.name) == ("gate", "yard")
    assert [s.id for s in gate_plan.segments] == ["r1", "r2", "r3"]
    assert gate_plan.gaps == [Span(at(-5), at(0)), Span(at(3), at(4.5)), Span(at(20), at(25)),
                              Span(at(30), at(35))]
    assert not gate_plan.in_gap(at(10.01))  # the rotation's 20 ms is no gap
    assert gate_plan.in_gap(at(3.5)) and gate_plan.in_gap(at(22))
    assert gate_plan.segment_at(at(10.01)).id == "r1"
    assert gate_plan.segment_at(at(10.03)).id == "r2"
    assert gate_plan.segment_at(at(22)) is None
    assert gate_plan.segment_from(at(22)).id == "r3"
    segment = gate_plan.segment_at(at(12.5))
    assert abs(segment.offset(at(12.5)) - 2.48) < 1e-6 and segment.instant(2.48) == at(12.5)
    assert yard_plan.segments == [] and yard_plan.gaps == [Span(at(-5), at(35))]
    assert plan.footage == Span(at(0), at(30))


HOSTILE = [  # (source ids, begin, end)
    ([], at(0), at(10)),
    (["1"], at(0), at(10)),
    ([True], at(0), at(10)),
    ([1 << 70], at(0), at(10)),
    (list(range(1, 70)), at(0), at(10)),
    ([1], at(10), at(0)),
    ([1], at(0), at(0) + timedelta(days=3)),
]


def test_hostile_input_is_refused(station):
    for ids, begin, end in HOSTILE:
        with pytest.raises(InvalidInput):
            station.playback.plan(ids, begin, end)


def test_opening_a_session_is_audited(station, sources):
    gate = sources[0]
    audited = AuditedStation(station, who="tester")
    with pytest.raises(InvalidInput):
        audited.playback.open_session([gate], at(50), at(0), at(30))
    plan = audited.playback.open_session([gate], at(5), at(0), at(30))
    assert [s.id for s in plan.sources[0].segments] == ["r1", "r2", "r3"]
    wait_until(lambda: len([e for e in station.audit.entries() if e.action == "play footage"]) == 2,
               5, message="both audited")
    entries = [e for e in station.audit.entries() if e.action == "play footage"]
    assert sorted(e.result.split(":")[0] for e in entries) == ["failed", "ok"]
    assert all(e.who == "tester" for e in entries), entries
    # the sources by id (the trail may add their names beside: "sources gate (1)")
    assert all(e.target.startswith("sources ") and str(gate) in e.target for e in entries)
    assert any("at 2026-12-07T10:00:05" in e.target for e in entries), [e.target for e in entries]
