"""A hook on the real catalog's unit of work that starts a recording, for tests of what
happens around its commit (a commit that fails, something that changes right after it)."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.models import Record


class CommitHook:
    """SQLAlchemy session events on the real catalog: a unit of work that inserts a new
    `recording` record is noticed at its flush; `at_commit` then runs just before its
    COMMIT, `after_commit` right after it. Each runs once (then the hook disarms)."""

    def __init__(self, at_commit=None, after_commit=None) -> None:
        self.at_commit, self.after_commit = at_commit, after_commit
        self.seen: list[list[str]] = []
        self._armed = True

    def __enter__(self) -> "CommitHook":
        event.listen(Session, "after_flush", self._flushed)
        event.listen(Session, "before_commit", self._before)
        event.listen(Session, "after_commit", self._after)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(Session, "after_flush", self._flushed)
        event.remove(Session, "before_commit", self._before)
        event.remove(Session, "after_commit", self._after)

    def _flushed(self, session, _context) -> None:
        new = [o for o in session.new if isinstance(o, Record) and o.status == "recording"]
        if new and self._armed:
            session.info.setdefault("new_records", []).extend((r.source_id, r.id) for r in new)

    def _before(self, session) -> None:
        records = session.info.get("new_records")
        if records and self._armed and self.at_commit is not None:
            self._armed = False
            self.seen.append([rid for _sid, rid in records])
            self.at_commit(records)

    def _after(self, session) -> None:
        records = session.info.pop("new_records", None)
        if records and self._armed and self.after_commit is not None:
            self._armed = False
            self.seen.append([rid for _sid, rid in records])
            self.after_commit(records)
