"""Recording modes: what a source records by itself, and the weekly schedule that switches it.

A source's `record_mode` is `manual` (nothing records unless someone starts a tag: the API's
default, so a seed client sees no change), `continuous` (always), `motion` (while a motion
event is open, plus pre- and post-capture) or `schedule` (the slot in force says `off`,
`continuous` or `motion`). This module is the one place these rules are decided: the
schemas validate a schedule with it, the mode keeper (app.recordings.mode_keeper) asks it
which mode is in force now and when that changes next.

A slot is `{days, from, to, mode}` in the station's time zone: `from`/`to` are wall times
("HH:MM", or "HH:MM:SS"), `to` at or before `from` runs past midnight into the next day,
"24:00" is the end of the day. Its boundaries are computed as wall times of that day with
zoneinfo and compared in UTC, so the nights the clocks change behave:
- a wall time that does not exist (spring forward: 02:30 in Europe/Berlin) is the moment the
  clocks jump (03:00 CEST): a 01:30-02:30 slot ends at the jump;
- a slot lying wholly in the skipped hour (02:00-03:00) does not vanish: it runs for its
  length from the jump (03:00-04:00 CEST);
- a wall time that exists twice (fall back: 02:30 in Europe/Berlin) is its first occurrence,
  so a 02:00-03:00 slot starts once at 02:00 CEST and runs until 03:00 CET (two hours of
  real time), never stopping and starting again when the clocks go back.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_SLOTS = 64  # slots per source: a week of hourly changes fits in far fewer
DAY_S = 86400
WEEK_S = 7 * DAY_S
_TIME = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)(?::([0-5]\d))?$")


class RecordMode(StrEnum):
    manual = "manual"
    continuous = "continuous"
    motion = "motion"
    schedule = "schedule"


class SlotMode(StrEnum):
    off = "off"
    continuous = "continuous"
    motion = "motion"


# The tag a mode records under when the source names none (`record_tag`).
DEFAULT_TAGS = {SlotMode.continuous: "continuous", SlotMode.motion: "motion"}


def seconds_of(text: str) -> int:
    """"HH:MM" or "HH:MM:SS" → seconds after midnight (24:00 → 86400); ValueError otherwise."""
    match = _TIME.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a time of day (HH:MM or HH:MM:SS)")
    hours, minutes, secs = int(match[1]), int(match[2]), int(match[3] or 0)
    value = hours * 3600 + minutes * 60 + secs
    if value > DAY_S:
        raise ValueError(f"{text!r} is not a time of day (at most 24:00)")
    return value


@dataclass(frozen=True)
class Slot:
    """One slot of a schedule, checked: its days (0 = Monday), its wall-clock bounds in
    seconds after midnight, its mode."""

    days: tuple[int, ...]
    begin_s: int
    end_s: int
    mode: SlotMode

    @property
    def length_s(self) -> int:
        """Its nominal length: past midnight when `to` is at or before `from`."""
        return (self.end_s - self.begin_s) % DAY_S or DAY_S


def parse_schedule(raw: list) -> list[Slot]:
    """Check a schedule as a client sends it; ValueError naming the slot and what is wrong:
    an unknown mode or day, a bad time, `from` equal to `to`, two slots overlapping, more
    than `MAX_SLOTS` slots."""
    if not isinstance(raw, list):
        raise ValueError("the schedule is a list of {days, from, to, mode}")
    if len(raw) > MAX_SLOTS:
        raise ValueError(f"at most {MAX_SLOTS} slots")
    slots = []
    for i, item in enumerate(raw):
        where = f"slot {i + 1}"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: a slot is an object {{days, from, to, mode}}")
        days = item.get("days")
        if not isinstance(days, list) or not days:
            raise ValueError(f"{where}: days is a list of {', '.join(DAYS)}")
        unknown = [d for d in days if d not in DAYS]
        if unknown:
            raise ValueError(f"{where}: unknown day {unknown[0]!r} (one of {', '.join(DAYS)})")
        try:
            begin, end = seconds_of(item.get("from")), seconds_of(item.get("to"))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if begin == DAY_S:
            raise ValueError(f"{where}: from must be before 24:00")
        if begin == end:
            raise ValueError(f"{where}: from and to are the same time")
        try:
            mode = SlotMode(item.get("mode"))
        except ValueError:
            raise ValueError(f"{where}: unknown mode {item.get('mode')!r} (one of "
                             f"{', '.join(SlotMode)})") from None
        slots.append(Slot(tuple(sorted({DAYS.index(d) for d in days})), begin, end, mode))
    _check_overlaps(slots)
    return slots


def _check_overlaps(slots: list[Slot]) -> None:
    """Two slots may not cover the same moment of the week (in wall time)."""
    spans = []  # (begin, end, slot number) in seconds of the week, end past the week wraps
    for number, slot in enumerate(slots, start=1):
        for day in slot.days:
            begin = day * DAY_S + slot.begin_s
            spans.append((begin, begin + slot.length_s, number))
    spans.sort()
    for (_b1, e1, n1), (b2, _e2, n2) in zip(spans, spans[1:]):
        if b2 < e1 and n1 != n2:
            raise ValueError(f"slot {n1} and slot {n2} overlap")
    if spans:  # the last of the week may run into Monday's first
        (b_first, _e, n_first), (_b, e_last, n_last) = spans[0], spans[-1]
        if e_last > WEEK_S and e_last - WEEK_S > b_first and n_first != n_last:
            raise ValueError(f"slot {n_last} and slot {n_first} overlap")


def schedule_json(slots: list[Slot]) -> list[dict]:
    """The slots as stored and answered: {days, from, to, mode}."""
    def text(seconds: int) -> str:
        h, rest = divmod(seconds, 3600)
        m, s = divmod(rest, 60)
        return f"{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")
    return [{"days": [DAYS[d] for d in slot.days], "from": text(slot.begin_s),
             "to": text(slot.end_s), "mode": slot.mode.value} for slot in slots]


def wall_instant(day: date, seconds: int, zone: ZoneInfo) -> datetime:
    """The UTC instant the wall clock of `zone` first shows `seconds` after midnight of
    `day` (see the module's doc: a skipped time is the jump, a repeated one its first)."""
    naive = datetime.combine(day, time()) + timedelta(seconds=seconds)
    first = naive.replace(tzinfo=zone, fold=0)
    instant = first.astimezone(timezone.utc)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant  # it exists (the first occurrence, when twice)
    # Skipped by a spring-forward: the jump lies between the two readings of the offset.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(timezone.utc)
    high = instant
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(zone).replace(tzinfo=None) >= naive:
            high = mid
        else:
            low = mid
    return high


def _windows(slots: list[Slot], around: datetime, zone: ZoneInfo):
    """(begin, end, mode) in UTC of every slot on the local days around `around`."""
    today = around.astimezone(zone).date()
    for offset in (-1, 0, 1):
        day = today + timedelta(days=offset)
        for slot in slots:
            if day.weekday() not in slot.days:
                continue
            begin = wall_instant(day, slot.begin_s, zone)
            end_day = day if slot.end_s > slot.begin_s else day + timedelta(days=1)
            end_s = slot.end_s
            if end_s == DAY_S:  # "24:00": midnight at the end of the day
                end_day, end_s = end_day + timedelta(days=1), 0
            end = wall_instant(end_day, end_s, zone)
            if end <= begin:  # the whole slot was skipped by the clocks: run its length
                end = begin + timedelta(seconds=slot.length_s)
            yield begin, end, slot.mode


def mode_at(slots: list[Slot], now: datetime, zone: ZoneInfo) -> SlotMode:
    """The mode the schedule puts in force at `now` (aware): `off` between slots."""
    for begin, end, mode in _windows(slots, now, zone):
        if begin <= now < end:
            return mode
    return SlotMode.off


def next_change(slots: list[Slot], now: datetime, zone: ZoneInfo) -> datetime | None:
    """The next slot boundary after `now` within two days (None: none that soon)."""
    later = [t for begin, end, _m in _windows(slots, now, zone) for t in (begin, end)
             if t > now]
    later += [t for begin, end, _m in _windows(slots, now + timedelta(days=1), zone)
              for t in (begin, end) if t > now]
    return min(later, default=None)


def effective_mode(record_mode: str, slots: list[Slot], now: datetime,
                   zone: ZoneInfo) -> SlotMode:
    """What a source in `record_mode` records by itself at `now`."""
    if record_mode == RecordMode.continuous:
        return SlotMode.continuous
    if record_mode == RecordMode.motion:
        return SlotMode.motion
    if record_mode == RecordMode.schedule:
        return mode_at(slots, now, zone)
    return SlotMode.off


def tag_for(mode: SlotMode, record_tag: str | None) -> str:
    """The tag a mode's recordings go under: the source's `record_tag`, else the mode's."""
    return record_tag or DEFAULT_TAGS[mode]


def mode_tags(record_mode: str, record_tag: str | None, schedule: list | None) -> set[str]:
    """Every tag a source's mode may record under: its own records are the running ones of
    the source under these tags, whoever of a rollover's files they are (the stops spare
    them: app.recordings.record_stops)."""
    if record_mode == RecordMode.continuous:
        modes = {SlotMode.continuous}
    elif record_mode == RecordMode.motion:
        modes = {SlotMode.motion}
    elif record_mode == RecordMode.schedule:
        try:
            modes = {slot.mode for slot in parse_schedule(schedule or [])} - {SlotMode.off}
        except ValueError:
            modes = set()
    else:
        modes = set()
    return {tag_for(mode, record_tag) for mode in modes}


def local_zone() -> ZoneInfo:
    """The station's time zone: `TZ` if set, else the system's (/etc/localtime), else UTC."""
    names = [os.environ.get("TZ", "").lstrip(":")]
    link = os.path.realpath("/etc/localtime")
    if "zoneinfo/" in link:
        names.append(link.split("zoneinfo/", 1)[1])
    for name in names:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")
