"""What synchronised playback plays: for a set of sources and a time range, each source's
segments (its records with footage, in time order: a source's rotated files follow each other
as one) and its gaps (where nothing was recorded: between records, and the outages inside a
file, `record.gaps`). The GUI's synchronised player (ui.playback) asks this service, through
the station, which file holds which instant; it never reads the catalog itself, and every
front end that shows "no recording" means the same by it.

A file's time zero is its record's `begin_utc` (recorder/timeline.py), so an instant of a
segment is `begin + seconds into the file` and back.

Opening a playback session is what the audit trail records ("play footage", app.audited);
reading a plan again as the cursor moves on is not.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from app.errors import InvalidInput
from app.schemas import RecordOut, RecordStatus, check_range, utc

if TYPE_CHECKING:
    from app.recordings.recordings import RecordingService

MAX_SOURCES = 64                # tiles in one session: far more than a screen shows
MAX_PLAN_RANGE = timedelta(days=2)
# Records of a source closer than this are one stretch of footage (a rotation leaves a hole
# of a frame or two between files); the same threshold as the recorder's outages (MIN_GAP_S).
JOIN_S = 0.5


def parse_iso(value: str) -> datetime:
    return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


@dataclass(frozen=True)
class Segment:
    """One record's file as playback reads it. `id`, `location` and `station` are what a
    front end needs to open it (locally, or from its owner on a site)."""

    id: str
    source_id: int
    begin: datetime
    end: datetime
    location: str
    station: str | None
    tag_name: str | None
    live: bool  # still being written: it grows while it plays

    def offset(self, moment: datetime) -> float:
        """Seconds into the file of `moment`."""
        return (moment - self.begin).total_seconds()

    def instant(self, seconds: float) -> datetime:
        """The wall-clock instant of `seconds` into the file."""
        return self.begin + timedelta(seconds=seconds)


@dataclass(frozen=True)
class Span:
    begin: datetime
    end: datetime

    def holds(self, moment: datetime) -> bool:
        return self.begin <= moment < self.end


@dataclass(frozen=True)
class SourcePlan:
    """One source over the plan's range: its segments (oldest first) and its gaps, the
    stretches of the range no segment covers, plus the outages inside its files."""

    source_id: int
    name: str
    segments: list[Segment]
    gaps: list[Span]
    _starts: list[datetime] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts", [s.begin for s in self.segments])

    def in_gap(self, moment: datetime) -> bool:
        """Nothing of this source was recorded at `moment`: the tile says "no recording"."""
        return any(gap.holds(moment) for gap in self.gaps)

    def segment_at(self, moment: datetime) -> Segment | None:
        """The segment whose file holds `moment` (the newer one where two touch), or None."""
        index = bisect_right(self._starts, moment) - 1
        for segment in self.segments[max(0, index)::-1][:2]:
            if segment.begin <= moment < segment.end + timedelta(seconds=JOIN_S):
                return segment
        return None

    def segment_from(self, moment: datetime) -> Segment | None:
        """The segment holding `moment`, else the first one starting after it."""
        found = self.segment_at(moment)
        if found is not None:
            return found
        return next((s for s in self.segments if s.begin > moment), None)

    def following(self, segment: Segment) -> Segment | None:
        """The segment after `segment` (whatever lies between: the player shows a gap)."""
        for index, candidate in enumerate(self.segments):
            if candidate.id == segment.id:
                return self.segments[index + 1] if index + 1 < len(self.segments) else None
        return None

    def preceding(self, segment: Segment) -> Segment | None:
        for index, candidate in enumerate(self.segments):
            if candidate.id == segment.id:
                return self.segments[index - 1] if index > 0 else None
        return None


@dataclass(frozen=True)
class PlaybackPlan:
    begin: datetime
    end: datetime
    sources: list[SourcePlan]

    def source(self, source_id: int) -> SourcePlan | None:
        return next((p for p in self.sources if p.source_id == source_id), None)

    @property
    def footage(self) -> Span | None:
        """From the first segment's begin to the last one's end, over every source."""
        segments = [s for p in self.sources for s in p.segments]
        if not segments:
            return None
        return Span(min(s.begin for s in segments), max(s.end for s in segments))


def _segment(record: RecordOut, now: datetime) -> Segment | None:
    if not record.has_footage or record.source is None or not record.location:
        return None
    begin = parse_iso(record.begin_utc or record.created_utc)
    live = record.status == RecordStatus.recording
    end = parse_iso(record.end_utc) if record.end_utc else (now if live else begin)
    if end <= begin:
        return None
    return Segment(id=record.id, source_id=record.source.id, begin=begin, end=end,
                   location=record.location, station=record.station,
                   tag_name=record.tag_name, live=live)


def _gaps(segments: list[Segment], inside: list[Span], begin: datetime, end: datetime) -> list[Span]:
    """The range's stretches no segment covers (holes under `JOIN_S` ignored), and the
    outages inside files, merged, clipped to [begin, end)."""
    join = timedelta(seconds=JOIN_S)
    holes, cursor = [], begin
    for segment in segments:
        if segment.begin - cursor > join or (cursor == begin and segment.begin > begin):
            holes.append(Span(cursor, min(segment.begin, end)))
        cursor = max(cursor, segment.end)
    if cursor < end:
        holes.append(Span(cursor, end))
    spans = sorted(holes + [Span(max(g.begin, begin), min(g.end, end)) for g in inside
                            if g.end > begin and g.begin < end], key=lambda g: g.begin)
    merged: list[Span] = []
    for span in spans:
        if span.end <= span.begin:
            continue
        if merged and span.begin <= merged[-1].end:
            merged[-1] = Span(merged[-1].begin, max(merged[-1].end, span.end))
        else:
            merged.append(span)
    return merged


class PlaybackPlans:
    """The plans synchronised playback reads, from the record queries (app.recordings)."""

    def __init__(self, recordings: RecordingService):
        self._recordings = recordings

    def plan(self, source_ids: list[int], begin: datetime, end: datetime) -> PlaybackPlan:
        """Each source's segments and gaps over [begin, end), in the order asked."""
        ids = _checked_ids(source_ids)
        begin, end = check_range(begin, end, MAX_PLAN_RANGE)
        now = datetime.now(timezone.utc)
        names = self._recordings.source_names(ids)
        by_source: dict[int, list[Segment]] = {i: [] for i in ids}
        inside: dict[int, list[Span]] = {i: [] for i in ids}
        for record in self._recordings.overlapping(ids, begin, end):
            segment = _segment(record, now)
            if segment is None or segment.source_id not in by_source:
                continue
            by_source[segment.source_id].append(segment)
            inside[segment.source_id] += [Span(parse_iso(g.begin_utc), parse_iso(g.end_utc))
                                          for g in record.gaps]
        plans = []
        for source_id in ids:
            segments = sorted(by_source[source_id], key=lambda s: (s.begin, s.id))
            plans.append(SourcePlan(source_id, names.get(source_id, f"source {source_id}"),
                                    segments, _gaps(segments, inside[source_id], begin, end)))
        return PlaybackPlan(begin, end, plans)

    def open_session(self, source_ids: list[int], at: datetime, begin: datetime,
                     end: datetime) -> PlaybackPlan:
        """The plan a playback session opens with, from `at` within [begin, end): the one
        call the audit trail records as "play footage" (app.audited)."""
        if not utc(begin) <= utc(at) <= utc(end):
            raise InvalidInput("the instant to play lies outside the range", field="at")
        return self.plan(source_ids, begin, end)


def _checked_ids(source_ids: list[int]) -> list[int]:
    ids: list[int] = []
    for value in source_ids:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 1 << 62:
            raise InvalidInput(f"not a source id: {value!r}", field="source_ids")
        if value not in ids:
            ids.append(value)
    if not ids:
        raise InvalidInput("no source to play", field="source_ids")
    if len(ids) > MAX_SOURCES:
        raise InvalidInput(f"at most {MAX_SOURCES} sources play together", field="source_ids")
    return ids
