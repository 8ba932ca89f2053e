"""The audit service on a real SQLite catalog: entries recorded, listed newest first and
paged, filtered by an action name of the vocabulary, purged after 90 days (a moved clock), a
catalog that cannot be written never reaches the caller of `record()`, and entries written
before actions had names renamed by migration 0010."""

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
from app.services.audit import ACTIONS, UNNAMED, AuditService, OneOf, action_name, describe_target
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
             "action": "create source", "target": f"source {i}", "result": "200",
             "detail": "POST /api/v1/source"}
    entry.update(extra)
    return entry


def test_recorded_entries_are_listed_newest_first_in_pages(audit):
    for i in range(7):
        audit.record(**_entry(i, dialect="gui" if i % 3 == 0 else "native"))
    audit.record(**_entry(7, action="delete source", result="404",
                          detail="DELETE /api/v1/source/{source_id}"))
    first = audit.list(page=1, page_size=3)
    assert first.total == 8 and first.page == 1 and first.page_size == 3
    assert [e.target for e in first.items] == ["source 7", "source 6", "source 5"]
    ids = [e.id for e in first.items]
    assert ids == sorted(ids, reverse=True)
    newest = first.items[0]
    assert (newest.dialect, newest.address, newest.who, newest.action, newest.result,
            newest.detail) == ("native", "127.0.0.1", "station-token", "delete source", "404",
                               "DELETE /api/v1/source/{source_id}")
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
    assert [e.target for e in audit.list(action="delete source").items] == ["source 7"]
    assert audit.list(action="delete").total == 0  # the whole name, not a prefix
    assert audit.list(action="create source").total == 8
    assert [e.id for e in audit.list(target="source 2").items] == [ids[-1] - 3]
    assert audit.list(page_size=10_000).page_size == 500
    assert sum(e.count for e in audit.heard if isinstance(e, AuditWritten)) == 9


def test_values_are_bounded_printable_and_junk_never_raises(audit):
    audit.record(dialect="native", address="::1", who="x" * 1000, action="PUT\r\n/forged",
                 target=None, result="200")
    audit.record(dialect=None, address=object(), who=3, action=b"raw", target=[1],  # type: ignore[arg-type]
                 result=None, detail="d" * 1100)  # type: ignore[arg-type]
    items = audit.list().items
    assert items[0].dialect == "None" and items[0].result == "None"
    assert len(items[0].detail) == 1024 and items[0].detail.endswith("…")  # 0015 widened it
    forged = items[1]
    assert forged.action == "PUT??/forged" and forged.target is None and forged.detail is None
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


def test_the_vocabulary_refuses_unknown_names_and_one_of_picks_by_a_field():
    assert action_name("start recording") == "start recording"
    with pytest.raises(ValueError, match="not an audit action"):
        action_name("POST /api/v1/record")
    with pytest.raises(ValueError, match="not an audit action"):
        OneOf("protected", {False: "release record"}, "protect record")
    protect = OneOf("protected", {False: "unprotect record"}, "protect record")
    assert protect.choices == {"protect record", "unprotect record"} <= set(ACTIONS)
    assert protect.pick({"protected": False}) == "unprotect record"
    assert protect.pick({"protected": True}) == protect.pick({}) == "protect record"
    assert protect.pick({"protected": ["unhashable"]}) == "protect record"
    assert UNNAMED in ACTIONS and all(ACTIONS.values())


OLD_ROWS = [  # (dialect, action) as entries were written before migration 0010
    ("native", "POST /api/v1/record"), ("native", "DELETE /api/v1/source/{source_id}"),
    ("huawei_rtc", "DELETE /v2/apps/{app_id}/individual-stream-jobs/{job_id}"),
    ("huawei_live", "POST /v1/{project_id}/record/control"),
    ("device-connect", "PUT /gotapi/{tail}"), ("native", "POST (no such route)"),
    ("gui", "start recording"), ("gui", "protect record"),
]


def test_migration_0010_renames_the_entries_written_before_names(tmp_path):
    from sqlalchemy import text

    from app.catalog import make_engine
    from tests.app.test_migrations import _upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        _upgrade(engine, "0009")
        with engine.begin() as c:
            for dialect, action in OLD_ROWS:
                c.execute(text("INSERT INTO audit_entry (time_utc, dialect, address, who, action, "
                               "result) VALUES ('2026-12-01 10:00:00', :d, 'local', 'x', :a, "
                               "'200')"), {"d": dialect, "a": action})
        _upgrade(engine, "0010")
        with engine.connect() as c:
            rows = c.execute(text("SELECT action, detail FROM audit_entry ORDER BY id")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("start recording", "POST /api/v1/record"),
        ("delete source", "DELETE /api/v1/source/{source_id}"),
        ("stop recording", "DELETE /v2/apps/{app_id}/individual-stream-jobs/{job_id}"),
        (UNNAMED, "POST /v1/{project_id}/record/control"),
        (UNNAMED, "PUT /gotapi/{tail}"), (UNNAMED, "POST (no such route)"),
        ("start recording", None), ("protect record", None)]
    assert all(action in ACTIONS for action, _ in rows)
