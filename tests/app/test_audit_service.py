"""The audit service on a real SQLite catalog: entries recorded, listed newest first and
paged, purged after 90 days (a moved clock), and a catalog that cannot be written never
reaches the caller of `record()`."""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.catalog import Catalog
from app.events import AuditWritten, EventBus
from app.services.audit import AuditService, describe_target
from tests.conftest import wait_until

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def catalog(tmp_path: Path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite3'}").open()
    yield catalog
    catalog.close()


@pytest.fixture
def audit(catalog):
    bus = EventBus()
    service = AuditService(catalog, bus)
    service.heard = []
    bus.subscribe(service.heard.append)
    service.start()
    yield service
    service.stop()


def _entry(i: int, dialect: str = "native", **extra) -> dict:
    entry = {"dialect": dialect, "address": "127.0.0.1", "who": "station-token",
             "action": "POST /api/v1/source", "target": f"source {i}", "result": "200"}
    entry.update(extra)
    return entry


def test_recorded_entries_are_listed_newest_first_in_pages(audit):
    for i in range(7):
        audit.record(**_entry(i, dialect="gui" if i % 3 == 0 else "native"))
    audit.record(**_entry(7, action="DELETE /api/v1/source/{source_id}", result="404"))
    first = audit.list(page=1, page_size=3)
    assert first.total == 8 and first.page == 1 and first.page_size == 3
    assert [e.target for e in first.items] == ["source 7", "source 6", "source 5"]
    ids = [e.id for e in first.items]
    assert ids == sorted(ids, reverse=True)
    newest = first.items[0]
    assert (newest.dialect, newest.address, newest.who, newest.action, newest.result) == (
        "native", "127.0.0.1", "station-token", "DELETE /api/v1/source/{source_id}", "404")
    assert ISO.match(newest.time)
    assert abs(datetime.fromisoformat(newest.time.replace("Z", "+00:00"))
               - datetime.now(timezone.utc)) < timedelta(seconds=30)

    third = audit.list(page=3, page_size=3)
    assert [e.target for e in third.items] == ["source 1", "source 0"]
    assert audit.list(page=4, page_size=3).items == []
    # a cursor below an id already seen stays put while new entries arrive
    audit.record(**_entry(8))
    below = audit.list(before_id=ids[-1], page_size=3)
    assert [e.target for e in below.items] == ["source 4", "source 3", "source 2"]
    assert below.total == 5

    assert [e.target for e in audit.list(dialect="gui").items] == ["source 6", "source 3", "source 0"]
    assert [e.target for e in audit.list(action="DELETE").items] == ["source 7"]
    assert audit.list(action="DELETE /api/v1/source/%").total == 0  # a prefix, not a pattern
    assert [e.id for e in audit.list(target="source 2").items] == [ids[-1] - 3]
    assert audit.list(page_size=10_000).page_size == 500
    assert sum(e.count for e in audit.heard if isinstance(e, AuditWritten)) == 9


def test_values_are_bounded_printable_and_junk_never_raises(audit):
    audit.record(dialect="native", address="::1", who="x" * 1000, action="PUT\r\n/forged",
                 target=None, result="200")
    audit.record(dialect=None, address=object(), who=3, action=b"raw", target=[1],  # type: ignore[arg-type]
                 result=None)  # type: ignore[arg-type]
    items = audit.list().items
    assert items[0].dialect == "None" and items[0].result == "None"
    forged = items[1]
    assert forged.action == "PUT??/forged" and forged.target is None
    assert len(forged.who) == 128 and forged.who.endswith("…")


def test_describe_target_names_ids_and_never_a_uri():
    assert describe_target({"source_id": "3"}) == "source 3"
    assert describe_target({"group_id": "2", "source_id": "5"}) == "group 2, source 5"
    assert describe_target({}, b'{"tag_name": "lobby", "group_name": "demo"}') == \
        'tag "lobby", group "demo"'
    record = "0123456789abcdef0123456789abcdef"
    assert describe_target({"record_id": record}, {"location": "/x", "password": "p"}) == \
        f"record {record}"
    assert describe_target({"record_id": "abc"}) == "record (not an id)"
    body = b'{"name": "cam", "uri_rtsp": "rtsp://u:secret@h/s"}'
    assert describe_target(None, body) == 'name "cam"'
    assert describe_target(None, b"not json") is None
    assert describe_target(None, b"[1, 2]") is None
    assert describe_target({"source_id": "9"}, {"source_id": 1}) == "source 9"


def test_entries_older_than_90_days_are_purged(catalog):
    now = [datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)]
    service = AuditService(catalog, clock=lambda: now[0])
    service.start()
    try:
        now[0] -= timedelta(days=91)
        service.record(**_entry(1))
        now[0] += timedelta(days=2)      # 89 days before
        service.record(**_entry(2))
        now[0] += timedelta(days=89)     # back to "now"
        service.record(**_entry(3))
        assert service.list().total == 3
        assert service.purge() == 1
        assert [e.target for e in service.list().items] == ["source 3", "source 2"]
        now[0] += timedelta(days=2)      # the 89-day-old one is now 91 days old
    finally:
        service.stop()
    # a restart purges at once (and daily after)
    restarted = AuditService(catalog, clock=lambda: now[0])
    restarted.start()
    try:
        wait_until(lambda: restarted.list().total == 1, 10, message="purge at start")
        assert restarted.list().items[0].target == "source 3"
    finally:
        restarted.stop()


def test_a_catalog_without_the_table_does_not_reach_the_caller(tmp_path, caplog):
    """Writes fail (no table yet): record() still returns at once; the entries wait, and
    reach the catalog once it can take them."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'late.sqlite3'}")  # not migrated yet
    service = AuditService(catalog)
    service.start()
    try:
        with caplog.at_level(logging.WARNING, logger="app.services.audit"):
            service.record(**_entry(1))
            assert service.flush(timeout=1.0) is False
        assert service.failures >= 1 and service.waiting == 1
        assert "not written yet" in caplog.text
        catalog.open()  # the table appears: the next attempt goes through
        assert service.flush(timeout=15.0)
        assert [e.target for e in service.list().items] == ["source 1"]
    finally:
        service.stop()
        catalog.close()


def test_a_locked_catalog_never_blocks_record_and_drops_the_oldest(tmp_path, caplog):
    path = tmp_path / "locked.sqlite3"
    catalog = Catalog(f"sqlite:///{path}").open()
    service = AuditService(catalog, max_queue=100)
    service.start()
    holder = sqlite3.connect(path, timeout=1)
    holder.execute("BEGIN EXCLUSIVE")  # someone else holds the write lock
    try:
        slowest = 0.0
        with caplog.at_level(logging.WARNING, logger="app.services.audit"):
            for i in range(1000):
                began = time.perf_counter()
                service.record(**_entry(i))
                slowest = max(slowest, time.perf_counter() - began)
        assert slowest < 0.05, f"record() took {slowest * 1000:.0f} ms"
        assert service.dropped >= 800 and service.waiting <= 100
        assert "oldest entries dropped" in caplog.text
    finally:
        holder.rollback()
        holder.close()
    assert service.flush(timeout=30.0)
    listed = service.list(page_size=500)
    service.stop()
    catalog.close()
    assert listed.items[0].target == "source 999"  # the newest survived
    assert 100 <= listed.total <= 200
