"""The parts `RecordingService` is built from, each on its own over a real SQLite catalog:
the record store (its save, its overlay of what the catalog refused, its retry), the query
part given a store, and the keeping part writing through one. The catalog sits on a small
tmpfs of its own that the test really fills (needs root; skipped elsewhere)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.catalog import Catalog
from app.errors import StorageFull
from app.events import EventBus, RecordChanged
from app.models import Record, Tag, utcnow
from app.recordings.record_keeping import RecordKeeping
from app.recordings.record_overlay import copy_row
from app.recordings.record_queries import RecordQueries
from app.recordings.record_store import RecordStore
from app.schemas import RecordStatus
from tests.conftest import wait_until
from tests.support.small_disk import fill_up, small_tmpfs

HERE, THERE = "station-here", "station-there"


def offline(_source_id: int) -> tuple[str, str | None]:
    return "offline", None


@pytest.fixture
def catalog_dir(tmp_path: Path):
    with small_tmpfs(tmp_path / "catalog", "4m") as mount:
        yield mount


@pytest.fixture
def store(tmp_path: Path, catalog_dir: Path):
    catalog = Catalog(f"sqlite:///{catalog_dir / 'catalog.sqlite3'}", data_dir=catalog_dir,
                      key_dir=tmp_path / "keys").open()
    store = RecordStore(catalog, status_of=offline, station_id=HERE, retry_s=0.1)
    yield store
    store.close(timeout=1.0)
    catalog.engine.dispose()


def running(store: RecordStore, tag_name: str, stations: list[str],
            folder: Path | None = None) -> list[Record]:
    """Records `recording` under a new tag, one per station given, committed."""
    with store.catalog.session() as s:
        tag = Tag(name=tag_name)
        s.add(tag)
        s.flush()
        rows = [Record(tag_id=tag.id, status=RecordStatus.recording, station_id=station,
                       running_key=f"{n}:{tag.id}", begin_utc=utcnow(),
                       location=str(folder / f"{tag_name}{n}.mp4") if folder else None)
                for n, station in enumerate(stations)]
        s.add_all(rows)
    return [copy_row(r) for r in rows]


def in_file(store: RecordStore) -> dict[str, str]:
    """What the catalog file itself holds: record id -> status."""
    with sqlite3.connect(f"file:{store.catalog.path}?mode=ro", uri=True) as conn:
        return dict(conn.execute("SELECT id, status FROM record"))


def test_the_store_keeps_what_a_full_catalog_refuses_shows_it_and_writes_it_back(
        store: RecordStore, catalog_dir: Path):
    rows = running(store, "t", [HERE, HERE])
    ids = {r.id for r in rows}
    assert store.save([]) is True and store.pending_ids() == []

    filler = fill_up(catalog_dir)
    for row in rows:
        row.status, row.end_utc, row.running_key = RecordStatus.finished, utcnow(), None
    assert store.save(rows) is False
    assert set(store.pending_ids()) == ids and store.has_pending()
    assert set(in_file(store).values()) == {"recording"}  # the catalog really refused it
    # Every way of reading through the store shows the true state.
    assert {store.current(rid)[0].status for rid in ids} == {"finished"}
    assert store.current(rows[0].id)[1] == "t"
    with store.catalog.session() as s:
        assert store.running_rows(s) == []
        assert store.row(s, rows[0].id).status == "finished"
    # An operator's change is refused outright (507), and leaves the kept state alone.
    changed = copy_row(rows[0])
    changed.protected = True
    with pytest.raises(StorageFull, match="nothing changed"):
        store.commit([changed])
    assert store.current(rows[0].id)[0].protected is False

    filler.unlink()
    wait_until(lambda: not store.pending_ids(), 10, message="the retry thread to write")
    assert in_file(store) == {rid: "finished" for rid in ids}


def test_the_query_part_reads_through_the_store_its_overlay_and_its_station(
        store: RecordStore, catalog_dir: Path):
    queries = RecordQueries(store)
    mine, theirs = running(store, "t", [HERE, THERE])
    assert queries.is_running("t") and queries.running_tags() == ["t"]
    assert queries.running_ids() == {mine.id}  # this station's own only
    assert {r.id for r in queries.list("t", status="recording")} == {mine.id, theirs.id}

    filler = fill_up(catalog_dir)
    mine.status, mine.running_key = RecordStatus.failed, None
    assert store.save([mine]) is False
    assert queries.running_ids() == set()
    assert [r.id for r in queries.list("t", status="recording")] == [theirs.id]
    assert [r.id for r in queries.find(tag_name="t", status="failed")] == [mine.id]
    assert {r.id: r.status.value for r in queries.tag("t").records} == \
        {mine.id: "failed", theirs.id: "recording"}
    assert queries.get(mine.id).status.value == "failed"
    assert queries.is_running("t")  # the other station still records under it
    filler.unlink()
    wait_until(lambda: not store.pending_ids(), 10, message="the retry thread to write")
    assert in_file(store)[mine.id] == "failed"


def test_the_keeping_part_deletes_a_file_even_when_the_catalog_cannot_say_so_yet(
        store: RecordStore, catalog_dir: Path, tmp_path: Path):
    storage = tmp_path / "rec"
    storage.mkdir()
    bus, events = EventBus(), []
    bus.subscribe(events.append)
    copying: set[str] = set()
    queries = RecordQueries(store)
    keeping = RecordKeeping(store, queries, bus, storage_dir=storage, busy=lambda: copying)
    old, busy_one = running(store, "t", [HERE, HERE], folder=storage)
    for row in (old, busy_one):
        Path(row.location).write_bytes(b"footage")
        row.status, row.running_key = RecordStatus.finished, None
    assert store.save([old, busy_one])

    copying.add(busy_one.id)
    assert not keeping.expire(busy_one.id, "retention: test")  # a sync copies it now
    filler = fill_up(catalog_dir)
    with pytest.raises(StorageFull):
        keeping.set_protected(old.id, True)
    assert keeping.expire(old.id, "retention: test")
    assert not Path(old.location).exists() and Path(busy_one.location).exists()
    assert queries.get(old.id).status.value == "deleted"
    assert queries.get(old.id).deleted_reason == "retention: test"
    assert in_file(store)[old.id] == "finished"  # not written yet, but shown
    assert [(e.record_id, e.action) for e in events if isinstance(e, RecordChanged)] == \
        [(old.id, "deleted")]
    filler.unlink()
    wait_until(lambda: not store.pending_ids(), 10, message="the retry thread to write")
    assert in_file(store)[old.id] == "deleted"
