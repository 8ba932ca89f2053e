"""Names beside ids in the audit trail: `group 2, source 6` becomes `group Entrances (2),
source Front door (6)`, `record 1712eed8…` becomes `record of Front door 2026-12-07
10:17:22–10:18:15 (1712eed8)`.

WHY here, on the audit writer's thread: the front ends write an entry without waiting (the
API's event loop, the GUI's workers never touch the catalog for the trail), and the writer
already holds the catalog. The name is resolved when the entry is written and stored in its
text: an investigator reads the name the thing had then, and a later rename does not rewrite
history.

WHY a book of names rather than a lookup per id: the entry of a deletion is written after
the row is gone. The writer reads every source's and group's name once per batch (a few
hundred rows at most) and keeps the last name it saw of each id, so `delete source 6` still
reads `source Front door (6)`. A record carries its source's name in its own snapshot.

The ids of the sources an entry touched (a source, a record of it, a bookmark on it) are
kept beside the text (`source_ids`), so the trail can be filtered by source whatever the
wording.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlmodel import Session, select

from app.models import Bookmark, Group, Record, Source

MAX_NAME = 64  # characters of a name shown in a target
SOURCE_IDS_WIDTH = 255
# A name shown as it is: letters, digits, spaces and a few marks; anything else (a comma, a
# parenthesis, a quote) could imitate another part of the target, so it is quoted.
PLAIN_NAME = re.compile(r"^[\w][\w .'/&:#+-]*$")
# An id of a kind the trail names, at the start of the target or after ", " (never inside a
# quoted name: quoted strings are matched first and left alone).
TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"'
    r"|(?:^|(?<=, ))(?P<kind>group|sources?|bookmark) (?P<ids>[0-9]{1,19}(?:,[0-9]{1,19})*)\b"
    r"|(?:^|(?<=, ))record (?P<record>[0-9a-f]{32})\b")


def shown_name(name: str) -> str:
    """A name as a target shows it: bare when it is plain words, else quoted (JSON) so a
    comma or a parenthesis inside it cannot imitate another part."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(name))
    if len(text) > MAX_NAME:
        text = text[:MAX_NAME - 1] + "…"
    if PLAIN_NAME.match(text) and not text.endswith(" "):
        return text
    return json.dumps(text, ensure_ascii=False)


def local_clock(when: datetime | None, date: bool) -> str:
    """The station's local time of `when` (what the Recordings list shows)."""
    if when is None:
        return "…"
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")


@dataclass
class Named:
    """A target with names, and the ids of the sources it touched."""

    target: str | None
    source_ids: set[int] = field(default_factory=set)

    @property
    def source_ids_text(self) -> str | None:
        """`,6,9,` (every id between commas, so `,6,` matches exactly), cut to the column."""
        if not self.source_ids:
            return None
        text = ","
        for sid in sorted(self.source_ids):
            if len(text) + len(str(sid)) + 1 > SOURCE_IDS_WIDTH:
                break
            text += f"{sid},"
        return text


class NameBook:
    """The last name seen of every source and group (never forgetting a deleted one), read on
    the audit writer's thread."""

    def __init__(self) -> None:
        self.sources: dict[int, str] = {}
        self.groups: dict[int, str] = {}

    def refresh(self, s: Session) -> None:
        """Every current name (a rename or a new row replaces; a deleted row's name stays)."""
        self.sources.update({i: n for i, n in s.exec(select(Source.id, Source.name)).all()})
        self.groups.update({i: n for i, n in s.exec(select(Group.id, Group.name)).all()})

    @staticmethod
    def mentions_ids(target: str | None) -> bool:
        """Does `target` name an id this book resolves (so the catalog need not be read for
        an entry that names none: `tag lobby`, `settings token`)?"""
        return bool(target) and any(m["kind"] or m["record"] for m in TOKEN.finditer(target))

    def name(self, s: Session, target: str | None) -> Named:
        """`target` with a name beside each id it can resolve; an id it cannot stays as it
        was. Never raises on a text it does not understand (the text is kept)."""
        named = Named(target)
        if not target:
            return named

        def replace(m: re.Match) -> str:
            if m["record"]:
                return self._record(s, m["record"], named.source_ids)
            kind = m["kind"]
            if kind is None:
                return m[0]  # a quoted name: left alone
            ids = [int(i) for i in m["ids"].split(",")]
            if kind == "group":
                return f"group {self._one(self.groups, ids[0])}"
            if kind == "bookmark":
                return self._bookmark(s, ids[0], named.source_ids)
            named.source_ids.update(ids)
            return f"{kind} " + ", ".join(self._one(self.sources, i) for i in ids)

        named.target = TOKEN.sub(replace, target)
        return named

    @staticmethod
    def _one(book: dict[int, str], id_: int) -> str:
        name = book.get(id_)
        return f"{shown_name(name)} ({id_})" if name else str(id_)

    def _source_name(self, source_id: int | None, snapshot: dict | None) -> str | None:
        if source_id is not None and source_id in self.sources:
            return self.sources[source_id]
        return (snapshot or {}).get("name") if isinstance(snapshot, dict) else None

    def _record(self, s: Session, record_id: str, source_ids: set[int]) -> str:
        row = s.get(Record, record_id)
        if row is None:
            return f"record {record_id}"
        if row.source_id is not None:
            source_ids.add(row.source_id)
        name = self._source_name(row.source_id, row.source_snapshot)
        begin, end = row.begin_utc, row.end_utc
        same_day = begin is not None and end is not None and \
            local_clock(begin, True)[:10] == local_clock(end, True)[:10]
        span = f"{local_clock(begin, True)}–{local_clock(end, not same_day)}"
        of = f" of {shown_name(name)}" if name else ""
        return f"record{of} {span} ({record_id[:8]})"

    def _bookmark(self, s: Session, bookmark_id: int, source_ids: set[int]) -> str:
        row = s.get(Bookmark, bookmark_id)
        if row is None:
            return f"bookmark {bookmark_id}"
        if row.source_id is not None:
            source_ids.add(row.source_id)
        name = self._source_name(row.source_id, {"name": row.source_name})
        on = f" on {shown_name(name)} {local_clock(row.time_utc, True)}" if name else ""
        return f"bookmark {shown_name(row.title)} ({bookmark_id}){on}"
