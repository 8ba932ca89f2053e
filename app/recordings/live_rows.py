"""This station's running records, in memory: what a rollover, a recorder's failure or an
operator's Stop needs to know of a record when the catalog's server is away.

With a SQLite catalog a full disk still lets the station read; a PostgreSQL server that is
down answers nothing at all. Without this, the first rollover during an outage would find no
record to continue and the recording would end. With it, the service reads the catalog
first (what it holds is the truth), then what waits in the overlay, and only when the
catalog cannot be reached, the row as this station last knew it (`RecordStore.current`).
"""

from __future__ import annotations

import threading

from app.models import Record
from app.recordings.record_overlay import copy_row


class LiveRows:
    def __init__(self) -> None:
        self._rows: dict[str, tuple[Record, str]] = {}  # record id -> (copy, tag name)
        self._lock = threading.Lock()

    def remember(self, row: Record, tag_name: str) -> None:
        with self._lock:
            self._rows[row.id] = (copy_row(row), tag_name)

    def forget(self, record_id: str) -> None:
        with self._lock:
            self._rows.pop(record_id, None)

    def get(self, record_id: str) -> tuple[Record, str] | None:
        with self._lock:
            entry = self._rows.get(record_id)
        return (copy_row(entry[0]), entry[1]) if entry else None

    def tag_of(self, record_id: str) -> str:
        with self._lock:
            entry = self._rows.get(record_id)
        return entry[1] if entry else ""

    def all(self) -> list[tuple[Record, str]]:
        with self._lock:
            return [(copy_row(row), tag) for row, tag in self._rows.values()]

    def keys(self) -> dict[tuple[int, str], str]:
        """(source id, tag name) -> record id of each running record, without copying rows:
        what the mode keeper compares twice a second (reading the catalog for it cost as
        much CPU as 16 cameras' readers at 32 recordings, docs/benchmarks.md)."""
        with self._lock:
            return {(row.source_id, tag): record_id for record_id, (row, tag)
                    in self._rows.items() if row.source_id is not None and tag}

    def of_tag(self, tag_name: str) -> list[Record]:
        with self._lock:
            return [copy_row(row) for row, tag in self._rows.values() if tag == tag_name]
