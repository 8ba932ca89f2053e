"""Records the catalog could not take yet: their true state, kept in memory and written back.

A recording ends (stopped, failed, rolled over to its next file) whatever the catalog does:
when the disk is full, SQLite says "database or disk is full"; when another process holds
it, "database is locked". The record must not stay `recording` in the API or the GUI for all
that, nor come back `recording` from a later read. So `RecordingService` hands every record
whose change it could not commit to this overlay:

- reads lay the overlay over what the catalog returns (`true_row`, `lay_over`), so every
  front end sees the true state at once;
- the next write of the service writes the overlay first, in the same transaction
  (`merge_into`), so the catalog never sees a change out of order (a running_key released
  by the old record before the new record takes it);
- a retry thread writes it every `retry_s` seconds until the catalog takes it, then the
  overlay drops the rows it wrote (those not changed again meanwhile).

The overlay holds detached copies of rows (never a session's instances, which a rollback
would expire), one per record id, each with a version so a write that read an older version
does not drop a newer one.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

from app.catalog import CATALOG_ERRORS, Catalog
from app.models import Record

log = logging.getLogger(__name__)

def copy_row(row: Record) -> Record:
    """A detached copy of a record row with every column's value."""
    return Record(**{c.name: getattr(row, c.name) for c in Record.__table__.columns})


class RecordOverlay:
    def __init__(self, catalog: Catalog, *, retry_s: float = 1.0):
        self.catalog = catalog
        self.retry_s = retry_s
        # One writer of records at a time (the service's units and the retry thread), so an
        # older state can never be committed after a newer one.
        self.write_lock = threading.RLock()
        self._rows: dict[str, tuple[int, Record]] = {}  # id -> (version, copy), in write order
        self._version = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._last_error: str | None = None
        self._last_logged = 0.0

    # --- what reads see ----------------------------------------------------------------
    def __bool__(self) -> bool:
        return bool(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._rows)

    def get(self, record_id: str) -> Record | None:
        """A copy of the record's true state if the overlay holds it."""
        with self._lock:
            entry = self._rows.get(record_id)
        return copy_row(entry[1]) if entry else None

    def rows(self) -> list[Record]:
        with self._lock:
            return [copy_row(row) for _v, row in self._rows.values()]

    def lay_over(self, rows: Iterable[Record], keep: Callable[[Record], bool]) -> list[Record]:
        """`rows` as the catalog returned them (matching a query), each replaced by its true
        state where the overlay holds one, then filtered by `keep` (the query's own filter,
        in Python); plus the overlay's rows the catalog does not have or did not return that
        match it."""
        with self._lock:
            pending = {rid: row for rid, (_v, row) in self._rows.items()}
        if not pending:
            return list(rows)
        out, seen = [], set()
        for row in rows:
            seen.add(row.id)
            true = pending.get(row.id, row)
            if keep(true):
                out.append(copy_row(true) if true is not row else row)
        out += [copy_row(row) for rid, row in pending.items() if rid not in seen and keep(row)]
        return out

    # --- keeping and writing ---------------------------------------------------------------
    def keep(self, rows: Iterable[Record], error: BaseException) -> None:
        """The catalog refused these rows' state: hold it, and retry until it is written."""
        rows = list(rows)
        with self._lock:
            for row in rows:
                self._version += 1
                self._rows.pop(row.id, None)  # a newer state goes to the end: written last
                self._rows[row.id] = (self._version, copy_row(row))
            start = self._thread is None or not self._thread.is_alive()
            if start and not self._closed:
                self._thread = threading.Thread(target=self._retry_loop, name="catalog-retry",
                                                daemon=True)
                self._thread.start()
        self._note_failure(error, [r.id for r in rows])
        self._wake.set()

    def snapshot(self) -> dict[str, tuple[int, Record]]:
        with self._lock:
            return {rid: (v, copy_row(row)) for rid, (v, row) in self._rows.items()}

    @contextmanager
    def unit(self, supersedes: Iterable[str] = ()) -> Iterator:
        """A unit of work on records that first writes what the overlay holds, in order
        (except the rows `supersedes` names: the caller writes their newer state itself).
        Committed: the overlay drops what it wrote and what the caller superseded, unless
        changed again meanwhile. Raises what the catalog raises; the caller keeps its rows."""
        skip = set(supersedes)
        with self.write_lock:
            snapshot = self.snapshot()
            with self.catalog.session() as s:
                for rid, (_version, row) in snapshot.items():
                    if rid not in skip:
                        s.merge(row)
                        s.flush()
                yield s
            self._written(snapshot)

    def _written(self, snapshot: dict[str, tuple[int, Record]]) -> None:
        dropped = 0
        with self._lock:
            for rid, (version, _row) in snapshot.items():
                current = self._rows.get(rid)
                if current is not None and current[0] == version:
                    del self._rows[rid]
                    dropped += 1
            empty = not self._rows
            had_error = self._last_error
            if empty:
                self._last_error = None
        if dropped and empty and had_error:
            log.warning("the catalog is writable again: %d record(s) written from memory", dropped)

    def flush(self) -> bool:
        """One attempt to write everything held; True when the overlay is empty."""
        if not self._rows:
            return True
        try:
            with self.unit():
                pass
        except CATALOG_ERRORS as exc:
            self._note_failure(exc, self.ids())
            return False
        return not self._rows

    def _retry_loop(self) -> None:
        while not self._closed:
            self._wake.wait(self.retry_s)
            self._wake.clear()
            if self._closed:
                return
            time.sleep(0)  # let the writer that woke us finish its own attempt
            try:
                if self.flush():
                    with self._lock:
                        if not self._rows:
                            self._thread = None
                            return
            except Exception:  # noqa: BLE001 - the loop must go on whatever happens
                log.exception("writing records held in memory to the catalog failed")

    def _note_failure(self, error: BaseException, ids: list[str]) -> None:
        """Log the first failure, a changed reason, and then at most once a minute."""
        text = str(getattr(error, "orig", None) or error).splitlines()[0][:200]
        now = time.monotonic()
        with self._lock:
            changed = text != self._last_error
            due = changed or now - self._last_logged >= 60.0
            if due:
                self._last_error, self._last_logged = text, now
            held = len(self._rows)
        if due:
            log.error("the catalog cannot be written (%s): %d record(s) kept in memory "
                      "(%s), retrying every %.0f s", text, held, ", ".join(ids[:4]),
                      self.retry_s)

    def close(self, timeout: float = 5.0) -> list[str]:
        """Try to write what is held for up to `timeout` seconds, then stop retrying;
        returns the ids still unwritten (the next start's recovery measures their files)."""
        deadline = time.monotonic() + timeout
        while self._rows and time.monotonic() < deadline:
            if self.flush():
                break
            time.sleep(min(0.5, self.retry_s))
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(2.0)
        left = self.ids()
        if left:
            log.error("the catalog still cannot be written: %d record(s) not saved (%s); the "
                      "next start marks them interrupted from their files", len(left),
                      ", ".join(left))
        return left
