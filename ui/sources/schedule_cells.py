"""The week grid's cells and a source's `record_schedule`, one into the other (no Qt here).

The grid is 7 days × 48 half-hours, each cell `off`, `continuous` or `motion`. The schedule
is what the service stores: slots `{days, from, to, mode}` (app.record_modes). Going from
cells to slots, the week is read as one ring of 336 cells, so a run of cells of one mode
that crosses midnight (Tuesday 22:00 to Wednesday 02:00) is one slot `tue 22:00-02:00`, as an
operator would write it, and Sunday night runs on into Monday morning. A run longer than a
day is cut at midnight (a slot lasts at most a day, and `from` may not equal `to`); slots
alike but for their day are then merged into one with several days (Mon-Fri 08:00-18:00), so
a painted week stays far below the service's slot limit. The service still checks the result:
the grid never decides what a valid schedule is.
"""

from __future__ import annotations

from app.record_modes import DAY_S, DAYS, SlotMode, seconds_of

CELL_S = 1800  # half an hour
PER_DAY = DAY_S // CELL_S  # 48
WEEK = 7 * PER_DAY
OFF = SlotMode.off.value

Cells = list[list[str]]  # [day][half-hour] -> "off" | "continuous" | "motion"


def empty_cells() -> Cells:
    return [[OFF] * PER_DAY for _ in DAYS]


def cells_from_schedule(slots: list[dict] | None) -> tuple[Cells, bool]:
    """The grid of a stored schedule, and whether it shows it exactly (False when a bound is
    not on a half-hour: that slot is widened to the half-hours it touches)."""
    cells, exact = empty_cells(), True
    for slot in slots or []:
        begin, end = seconds_of(slot["from"]), seconds_of(slot["to"])
        length = (end - begin) % DAY_S or DAY_S
        exact = exact and begin % CELL_S == 0 and end % CELL_S == 0
        first = begin // CELL_S
        count = -(-(begin + length) // CELL_S) - first  # up to the half-hour the end touches
        for day in slot["days"]:
            start = DAYS.index(day) * PER_DAY + first
            for i in range(start, start + count):
                cells[(i // PER_DAY) % 7][i % PER_DAY] = slot["mode"]
    return cells, exact


def schedule_from_cells(cells: Cells) -> list[dict]:
    """The slots of a painted grid: runs of one mode, merged over midnight, cut at a day's
    length, alike slots of several days merged; in week order."""
    ring = [cells[i // PER_DAY][i % PER_DAY] for i in range(WEEK)]
    if all(mode == ring[0] for mode in ring):
        if ring[0] == OFF:
            return []
        return [{"days": list(DAYS), "from": "00:00", "to": "24:00", "mode": ring[0]}]
    # Start reading the ring where a mode changes, so no run is split by where we began.
    origin = next(i for i in range(WEEK) if ring[i] != ring[i - 1])
    pieces: list[tuple[int, int, str]] = []  # (first cell in the week, length in cells, mode)
    i = 0
    while i < WEEK:
        mode = ring[(origin + i) % WEEK]
        length = 1
        while i + length < WEEK and ring[(origin + i + length) % WEEK] == mode:
            length += 1
        if mode != OFF:
            pieces.extend(_day_pieces((origin + i) % WEEK, length, mode))
        i += length
    merged: dict[tuple[int, int, str], list[int]] = {}
    for start, length, mode in sorted(pieces):
        day, first = divmod(start, PER_DAY)
        merged.setdefault((first, length, mode), []).append(day)
    slots = [(days, first, length, mode) for (first, length, mode), days in merged.items()]
    slots.sort(key=lambda s: (s[0][0], s[1]))
    return [{"days": [DAYS[d] for d in days], "from": _text(first),
             "to": _text(first + length if first + length <= PER_DAY else first + length - PER_DAY),
             "mode": mode} for days, first, length, mode in slots]


def _day_pieces(start: int, length: int, mode: str):
    """A run cut into slots of at most a day: one that fits in less than a day stays whole
    (even across midnight); a longer one is cut at each midnight."""
    while length > 0:
        first = start % PER_DAY
        piece = length if length < PER_DAY else PER_DAY - first
        yield start % WEEK, piece, mode
        start, length = start + piece, length - piece


def _text(cell: int) -> str:
    hours, half = divmod(cell, 2)
    return f"{hours:02d}:{30 * half:02d}"
