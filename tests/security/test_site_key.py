"""The site's credentials key (#22 item 4) on real station processes sharing one SQLite
catalog (as stations of one machine share it; PostgreSQL works the same way, see
tests/app/test_site_key.py):

- a station started with another key than the site's is refused, even before any source
  exists, saying which key (its file and fingerprint, never the key) and which catalog;
- a source whose credentials were written with another key is listed by every station as
  "credentials unreadable on this station", never a 500, logged once; the rest of the site
  (lists, a start forwarded to the owner) works on.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app.credentials import KEY_FILE, PREFIX, UNREADABLE, fingerprint, key_check
from tests.conftest import wait_until
from tests.support.station_process import StationProcess

TOKEN = "site-key-token-0123456789"
TESTSRC = "testsrc://testsrc2?size=320x240&rate=10&gop=1"
WAIT_S = 20


def env(catalog: Path, name: str, config: Path | None = None) -> dict[str, str]:
    extra = {"RS_CONFIG_FILE": str(config)} if config else {}
    return {"RS_DATABASE_URL": f"sqlite:///{catalog}", "RS_TOKEN": TOKEN,
            "RS_STATION_NAME": name, **extra}


def call(station: StationProcess, method: str, path: str, body=None, expect: int = 200):
    return station.expect(method, path, body, token=TOKEN, expect=expect)


def wait_for(check, what: str, timeout: float = WAIT_S):
    return wait_until(check, timeout, interval=0.1, message=what)


def test_a_station_with_another_key_is_refused_on_an_empty_site(tmp_path):
    catalog = tmp_path / "catalog.sqlite3"
    north = StationProcess(tmp_path, name="north", env=env(catalog, "north"))
    try:
        assert call(north, "GET", "/api/v1/source") == []  # nothing stored on the site
        site_key = (tmp_path / KEY_FILE).read_bytes().strip()
        stray_config = tmp_path / "stray-config" / "config.toml"
        stray_config.parent.mkdir(mode=0o700)
        with pytest.raises(RuntimeError) as refused:
            StationProcess(tmp_path, name="stray", env=env(catalog, "stray", stray_config),
                           start_timeout=30)
        said = str(refused.value)
        stray_key = (stray_config.parent / KEY_FILE).read_bytes().strip()
        assert str(stray_config.parent / KEY_FILE) in said  # which key
        assert fingerprint(key_check(stray_key)) in said
        assert fingerprint(key_check(site_key)) in said  # the site's, to compare
        assert str(catalog) in said  # where
        assert "share one credentials key" in said and "Traceback" not in said
        assert site_key.decode() not in said and stray_key.decode() not in said
        # the catalog holds the check value, never the key; the stray left no station row
        with sqlite3.connect(catalog) as db:
            assert db.execute("SELECT check_value FROM credentials_key").fetchall() == [
                (key_check(site_key),)]
            assert [r[0] for r in db.execute("SELECT name FROM station")] == ["north"]
        assert site_key not in catalog.read_bytes()
        call(north, "GET", "/api/v1/source")  # north untouched
    finally:
        north.stop()


def test_a_source_written_with_another_key_is_unreadable_never_a_500(tmp_path):
    catalog = tmp_path / "catalog.sqlite3"
    # one config folder (tmp_path): both stations hold the site's key
    north = StationProcess(tmp_path, name="north", env=env(catalog, "north"))
    south = StationProcess(tmp_path, name="south", env=env(catalog, "south"))
    try:
        ids = {name: next(s["id"] for s in call(st, "GET", "/api/v1/station") if s["this"])
               for name, st in (("north", north), ("south", south))}
        cam = call(south, "POST", "/api/v1/source", {"name": "south-cam", "uri_rtsp": TESTSRC})
        door = call(north, "POST", "/api/v1/source", {"name": "door", "uri_rtsp": TESTSRC})
        # what a station with another key (an older version let it start) stored for "door"
        foreign = PREFIX + Fernet(Fernet.generate_key()).encrypt(
            b"rtsp://admin:door-secret@10.0.0.7/live").decode()
        with sqlite3.connect(catalog, timeout=30) as db:
            db.execute("UPDATE source SET uri_rtsp = ? WHERE id = ?", (foreign, door["id"]))

        for station in (north, south):
            def shown(station=station):
                listed = {s["name"]: s for s in call(station, "GET", "/api/v1/source")}
                return listed if listed["door"]["credentials_unreadable"] else None

            listed = wait_for(shown, "the door listed as unreadable")
            assert listed["door"]["error"] == UNREADABLE and listed["door"]["uri_rtsp"] is None
            assert listed["south-cam"]["credentials_unreadable"] is False
            one = call(station, "GET", f"/api/v1/source/{door['id']}")
            assert one["credentials_unreadable"] is True
            assert "door-secret" not in str(listed) and foreign not in str(listed)
        # a start asked of north for south's camera is forwarded to south and records
        wait_for(lambda: call(north, "GET", f"/api/v1/source/{cam['id']}")["status"] == "online",
                 "south's camera online")
        (record,) = call(north, "POST", "/api/v1/record/sources",
                         {"tag_name": "still-works", "source_ids": [cam["id"]]})
        assert record["status"] == "recording" and record["station"] == ids["south"]
        call(north, "PUT", "/api/v1/record", {"tag_name": "still-works"})
        # logged once by its owner, however often it was listed (every beat reconciles)
        for _ in range(3):
            call(north, "GET", "/api/v1/source")
        assert north.log_text().count(UNREADABLE) == 1
        assert "door-secret" not in north.log_text() + south.log_text()
    finally:
        north.stop()
        south.stop()
