"""The site's credentials key (#22 item 4), on both catalogs: the first station to open a
catalog records a check value of its key (never the key); a station with another key is
refused on open, saying which key and which catalog, even when nothing is stored yet; and a
credential written with another key reads as unreadable, never as an error, so lists, the
row's own page and a restart all still work."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from app.catalog import Catalog
from app.credentials import (
    KEY_FILE,
    PREFIX,
    UNREADABLE,
    CredentialKeyError,
    fingerprint,
    is_unreadable,
    key_check,
)
from app.errors import InvalidInput
from app.models import Source
from app.schemas import GroupIn, SourceIn
from tests.conftest import TESTSRC


def _url(database_url: str | None, tmp_path: Path) -> str:
    return database_url or f"sqlite:///{tmp_path / 'data' / 'catalog.sqlite3'}"


def test_the_first_station_records_its_key_and_another_key_is_refused_on_an_empty_catalog(
        database_url, tmp_path):
    url = _url(database_url, tmp_path)
    first = Catalog(url, key_dir=tmp_path / "k1").open()
    key = (tmp_path / "k1" / KEY_FILE).read_bytes().strip()
    with first.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, check_value FROM credentials_key")).all()
    assert rows == [(1, key_check(key))]
    assert key.decode() not in rows[0][1] and first.cipher.check_value == rows[0][1]
    first.close()

    with pytest.raises(CredentialKeyError) as refused:  # nothing stored: still refused
        Catalog(url, key_dir=tmp_path / "k2").open()
    said = str(refused.value)
    other = Catalog(url, key_dir=tmp_path / "k1")  # (not opened: only its fingerprint needed)
    stray_key = (tmp_path / "k2" / KEY_FILE)
    assert str(stray_key) in said and "does not open" in said
    assert fingerprint(key_check(stray_key.read_bytes().strip())) in said  # the stray key
    assert fingerprint(key_check(key)) in said  # the catalog's
    assert other.engine.url.render_as_string(hide_password=True) in said  # where
    assert "share one credentials key" in said and str(tmp_path / "k2") in said
    assert key.decode() not in said and stray_key.read_text().strip() not in said
    other.close()
    again = Catalog(url, key_dir=tmp_path / "k1").open()  # the right key still opens it
    again.close()


def test_a_catalog_from_before_the_check_takes_the_key_that_opens_it(database_url, tmp_path):
    """A catalog upgraded from before the check (no check row yet): a key that opens none of
    its credentials is refused and writes nothing; the key that opens them becomes the site's."""
    url = _url(database_url, tmp_path)
    catalog = Catalog(url, key_dir=tmp_path / "k1").open()
    with catalog.session() as session:
        session.add(Source(name="cam", uri_rtsp="rtsp://u:pw@10.0.0.1/x"))
    with catalog.engine.begin() as conn:
        conn.execute(text("DELETE FROM credentials_key"))
    catalog.close()
    with pytest.raises(CredentialKeyError, match="does not open any of the 1 credentials"):
        Catalog(url, key_dir=tmp_path / "k2").open()
    reopened = Catalog(url, key_dir=tmp_path / "k1").open()
    with reopened.engine.connect() as conn:
        assert conn.execute(text("SELECT check_value FROM credentials_key")).scalar() == \
            reopened.cipher.check_value
    reopened.close()


def _plant_foreign(station, source_id: int, uri: str) -> str:
    """What a station with another key (or whoever writes the catalog) stores."""
    stored = PREFIX + Fernet(Fernet.generate_key()).encrypt(uri.encode()).decode()
    with station.catalog.engine.begin() as conn:
        conn.execute(text("UPDATE source SET uri_rtsp = :v WHERE id = :id"),
                     {"v": stored, "id": source_id})
    return stored


def test_a_credential_written_with_another_key_is_listed_as_unreadable(station, caplog):
    good = station.sources.create(SourceIn(name="good", uri_rtsp=TESTSRC))
    bad = station.sources.create(SourceIn(name="bad", uri_rtsp=TESTSRC))
    group = station.groups.create(GroupIn(name="both"))
    for source in (good, bad):
        station.groups.add_source(group.id, source.id)
    stored = _plant_foreign(station, bad.id, "rtsp://admin:foreign-secret@10.0.0.9/s")
    caplog.set_level(logging.WARNING, logger="app.services.sources")

    for _ in range(3):  # lists, the source's own answer, a group, the readers' reconcile
        listed = {s.name: s for s in station.sources.list()}
        station.sources.reconcile()
    assert listed["good"].credentials_unreadable is False and listed["good"].uri_rtsp
    shown = listed["bad"]
    assert shown.credentials_unreadable is True and shown.error == UNREADABLE
    assert shown.uri_rtsp is None and "foreign-secret" not in shown.model_dump_json()
    assert station.sources.get(bad.id).credentials_unreadable
    members = {s.name: s for s in station.groups.get(group.id).sources}
    assert members["bad"].credentials_unreadable and not members["good"].credentials_unreadable
    assert station.sources.live_stats(bad.id).error == UNREADABLE  # what its tile says
    warnings = [r for r in caplog.records if UNREADABLE in r.getMessage()]
    assert len(warnings) == 1 and f"source {bad.id} 'bad'" in warnings[0].getMessage()

    # renamed without its address: the stored value is kept as it was (its key may return)
    with pytest.raises(InvalidInput, match=UNREADABLE):
        station.sources.update(bad.id, SourceIn(name="renamed"))
    with station.catalog.session() as session:
        row = session.get(Source, bad.id)
        assert is_unreadable(row.uri_rtsp)
        row.description = "touched"
        session.add(row)
    with station.catalog.engine.connect() as conn:
        assert conn.execute(text("SELECT uri_rtsp FROM source WHERE id = :id"),
                            {"id": bad.id}).scalar() == stored
    # a restart on this catalog is not refused by one foreign row
    Catalog(station.catalog.url, key_dir=station.catalog.key_dir).open().close()
    # entering its address again repairs it
    repaired = station.sources.update(bad.id, SourceIn(uri_rtsp=TESTSRC))
    assert not repaired.credentials_unreadable and repaired.error != UNREADABLE
