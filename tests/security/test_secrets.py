"""Item 8 of #11: secrets never in clear. A real station process is given sources whose URIs
carry every credential form; then every answer, the station's log, every file of its data
folder (the catalog and its WAL read as bytes) and the record snapshots are searched for the
secrets, and the file modes checked. A catalog written in clear by the old schema is opened
and must come out encrypted, the station still reading its camera with the stored password."""

from __future__ import annotations

import json
import secrets
import sqlite3
import stat
import time
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlmodel import select

from app.catalog import MIGRATIONS_DIR, Catalog
from app.credentials import KEY_FILE, PREFIX
from app.models import Source
from tests.conftest import wait_until
from tests.support.snapshot_camera import SnapshotCamera
from tests.support.station_process import StationProcess


def _secret(label: str) -> str:
    return f"{label}-{secrets.token_hex(6)}"


@pytest.fixture
def camera():
    cam = SnapshotCamera(user="admin", password=_secret("campw")).start()
    yield cam
    cam.stop()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leaks(blob: bytes | str, found_in: str, secret_list) -> list[str]:
    data = blob if isinstance(blob, bytes) else blob.encode()
    return [f"{s!r} in {found_in}" for s in secret_list if s.encode() in data]


def files_leaking(folder: Path, secret_list) -> list[str]:
    out = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        out += leaks(path.read_bytes(), str(path.relative_to(folder)), secret_list)
    return out


def test_no_credential_form_comes_back_is_logged_or_lands_in_a_file_in_clear(tmp_path, camera):
    s = {k: _secret(k) for k in ("rtsppw", "httpqpw", "srtpass", "rtmpkey", "picuripw",
                                  "pictoken", "patterntoken")}
    secret_list = [*s.values(), camera.password]
    bodies = {
        "rtsp": {"name": "rtsp", "uri_rtsp": f"rtsp://admin:{s['rtsppw']}@127.0.0.1:9/stream"},
        "http": {"name": "http", "uri_rtsp": f"http://127.0.0.1:9/live.ts?user=op&Password={s['httpqpw']}"},
        "srt": {"name": "srt", "uri_rtsp": f"srt://127.0.0.1:9?mode=caller&passphrase={s['srtpass']}"},
        "rtmp": {"name": "rtmp", "uri_rtsp": f"rtmp://127.0.0.1:9/live/{s['rtmpkey']}"},
        "pattern": {"name": "pattern",
                    "uri_rtsp": f"testsrc://testsrc2?size=320x240&rate=10&gop=1&token={s['patterntoken']}"},
        "pic-creds": {"name": "pic-creds", "model": "PictureSource", "uri_http_picture": {
            "uri": f"http://viewer:{s['picuripw']}@127.0.0.1:9/snap.jpg", "interval": 0.5}},
        "pic": {"name": "pic", "model": "PictureSource", "uri_http_picture": {
            "uri": camera.url("digest") + f"?token={s['pictoken']}", "auth": "digest",
            "user": "admin", "password": camera.password, "interval": 0.2}},
    }
    station = StationProcess(tmp_path, name="secrets", env={"RS_LOG_LEVEL": "DEBUG"})
    try:
        answers: list[tuple[str, bytes]] = []

        def call(method, path, body=None):
            status, payload, _ = station.call(method, path, body)
            raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            answers.append((f"{method} {path}", raw))
            assert status == 200, (method, path, status, payload)
            return payload

        ids = {name: call("POST", "/api/v1/source", body)["id"] for name, body in bodies.items()}
        shown = {item["name"]: item for item in call("GET", "/api/v1/source")}
        # each form masked where it stood, the rest of the address intact
        assert shown["rtsp"]["uri_rtsp"] == "rtsp://admin:******@127.0.0.1:9/stream"
        assert shown["http"]["uri_rtsp"] == "http://127.0.0.1:9/live.ts?user=op&Password=******"
        assert shown["srt"]["uri_rtsp"] == "srt://127.0.0.1:9?mode=caller&passphrase=******"
        assert shown["rtmp"]["uri_rtsp"] == "rtmp://127.0.0.1:9/live/******"
        assert shown["pic-creds"]["uri_http_picture"]["uri"] == "http://viewer:******@127.0.0.1:9/snap.jpg"
        assert shown["pic"]["uri_http_picture"]["password"] == "******"
        assert shown["pic"]["uri_http_picture"]["uri"].endswith("/digest.jpg?token=******")

        # a client sending the masked URIs back keeps the stored secrets ...
        for name in ("srt", "rtmp", "http"):
            call("PUT", f"/api/v1/source/{ids[name]}", {"uri_rtsp": shown[name]["uri_rtsp"],
                                                        "description": "edited"})
        call("PUT", f"/api/v1/source/{ids['pic']}", {"uri_http_picture": shown["pic"]["uri_http_picture"]})
        # ... but a masked password never follows the picture URL to another host
        other = dict(shown["pic-creds"]["uri_http_picture"], uri="http://127.0.0.2:9/snap.jpg",
                     auth="basic", user="viewer", password="******")
        moved = call("PUT", f"/api/v1/source/{ids['pic-creds']}", {"uri_http_picture": other})
        assert moved["uri_http_picture"]["password"] is None

        # record the pattern and the digest-protected snapshot camera under one tag
        gid = call("POST", "/api/v1/group", {"name": "g"})[0]["id"]
        for name in ("pattern", "pic"):
            call("POST", f"/api/v1/group/{gid}/source/{ids[name]}/")
        wait_until(lambda: all(station.call("GET", f"/api/v1/source/{ids[n]}/")[1]["status"] == "online"
                               for n in ("pattern", "pic")), 20,
                   message="the recorded sources online")
        call("POST", "/api/v1/record", {"model": "Source", "tag_name": "t", "group_name": "g"})
        call("POST", "/api/v1/record", {"model": "PictureSource", "tag_name": "t", "group_name": "g"})
        time.sleep(2.5)
        call("PUT", "/api/v1/record", {"model": "Source", "tag_name": "t"})
        records = call("PUT", "/api/v1/record", {"model": "PictureSource", "tag_name": "t"})
        assert records and all(r["status"] == "finished" for r in records), records
        # the unreachable sources have said why (FFmpeg quotes the URL it failed to open)
        wait_until(lambda: all(station.call("GET", f"/api/v1/source/{ids[n]}/")[1]["error"]
                               for n in ("rtsp", "http", "pic-creds")), 20,
                   message="the offline sources' errors")

        for path in ("/api/v1/source", *(f"/api/v1/source/{i}/" for i in ids.values()),
                     "/api/v1/record?tag_name=t", "/api/v1/tag?name=t", f"/api/v1/group/{gid}/",
                     *(f"/api/v1/record/{r['id']}/" for r in records)):
            call("GET", path)
        # a deleted source's records show its snapshot, which has nothing to hide any more
        call("DELETE", f"/api/v1/source/{ids['pattern']}/")
        shown_records = call("GET", "/api/v1/record?tag_name=t")
        record = next(r for r in shown_records if r["source"][0]["name"] == "pattern")
        assert record["source"][0]["status"] == "offline"  # shown from its snapshot
        assert record["source"][0]["uri_rtsp"].endswith("&token=******")

        problems = [leak for what, raw in answers for leak in leaks(raw, what, secret_list)]
        data = station.data_dir
        wal = data / "catalog.sqlite3-wal"
        assert wal.exists()  # the running station's WAL is searched too
        problems += files_leaking(data, secret_list)
        assert mode(data) == 0o700
        for name in ("catalog.sqlite3", "catalog.sqlite3-wal", "catalog.sqlite3-shm"):
            assert mode(data / name) == 0o600, name
    finally:
        station.stop()
    problems += files_leaking(station.data_dir, secret_list)
    problems += leaks(station.log_text(), "the station log", secret_list)
    assert not problems, problems
    assert "******" in station.log_text()  # the errors were logged, masked

    key = tmp_path / KEY_FILE  # beside the config file (RS_CONFIG_FILE)
    assert mode(key) == 0o600
    db = sqlite3.connect(station.data_dir / "catalog.sqlite3")
    stored = db.execute("SELECT uri_rtsp, uri_http_picture FROM source").fetchall()
    snapshots = [json.loads(r[0]) for r in db.execute("SELECT source_snapshot FROM record")]
    db.close()
    assert stored and all((u or "").startswith(PREFIX) or json.loads(p).startswith(PREFIX)
                          for u, p in stored)
    assert {snap["name"] for snap in snapshots} == {"pattern", "pic"}
    for snap in snapshots:
        assert snap.get("uri_rtsp") in (None, "testsrc://testsrc2?size=320x240&rate=10&gop=1&token=******")
    # the station itself still has every secret, masked answers sent back included
    catalog = Catalog(f"sqlite:///{station.data_dir / 'catalog.sqlite3'}", key_dir=tmp_path).open()
    with catalog.session() as session:
        rows = {row.name: row for row in session.exec(select(Source)).all()}
    catalog.close()
    assert s["srtpass"] in rows["srt"].uri_rtsp and s["rtmpkey"] in rows["rtmp"].uri_rtsp
    assert s["httpqpw"] in rows["http"].uri_rtsp
    assert rows["pic"].uri_http_picture["password"] == camera.password
    assert s["pictoken"] in rows["pic"].uri_http_picture["uri"]


def _old_plaintext_catalog(path: Path, camera: SnapshotCamera, pic_token: str, pattern_token: str,
                           sync_token: str) -> dict:
    """A catalog as the station wrote it before encryption: schema 0003, JSON and URIs in
    clear, a record snapshot with the password, 0644 files in a 0755 folder."""
    path.parent.mkdir(parents=True)
    path.parent.chmod(0o755)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    engine.dispose()
    picture = {"uri": camera.url("digest") + f"?token={pic_token}", "auth": "digest",
               "user": "admin", "password": camera.password, "interval": 0.2}
    pattern = f"testsrc://testsrc2?size=320x240&rate=10&gop=1&key={pattern_token}"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    now = "2026-01-01 00:00:00.000000"
    db.execute("INSERT INTO source (id, created_utc, name, model, uri_rtsp, uri_http_picture, enabled) "
               "VALUES (1, ?, 'old-pic', 'PictureSource', NULL, ?, 1)", (now, json.dumps(picture)))
    db.execute("INSERT INTO source (id, created_utc, name, model, uri_rtsp, uri_http_picture, enabled) "
               "VALUES (2, ?, 'old-pattern', 'Source', ?, NULL, 1)", (now, pattern))
    db.execute("INSERT INTO tag (id, created_utc, name) VALUES (1, ?, 'old-tag')", (now,))
    snapshot = {"id": 1, "name": "old-pic", "model": "PictureSource", "uri_rtsp": None,
                "uri_http_picture": picture, "created_utc": "2026-01-01T00:00:00.000Z"}
    db.execute("INSERT INTO record (id, created_utc, status, source_id, tag_id, model, error, "
               "source_snapshot) VALUES ('r1', ?, 'failed', NULL, 1, 'PictureSource', ?, ?)",
               (now, f"cannot open {pattern}", json.dumps(snapshot)))
    db.execute("INSERT INTO rtc_job (job_id, app_id, room_id, user_id, stream_name, is_record_audio, "
               "video_type, select_stream_type, max_idle_time, publish_param, state, create_time, "
               "update_time) VALUES ('j1', 'a', 'r', 'u', 's', 1, 'CAMERASTREAM', 'FHD', 30, ?, "
               "'STOPPED', ?, ?)", (json.dumps({"rtmp_urls": [f"rtmp://127.0.0.1:9/live/{pattern_token}x"]}),
                                    now, now))
    db.commit()
    db.close()
    for name in ("catalog.sqlite3", "catalog.sqlite3-wal", "catalog.sqlite3-shm"):
        if (path.parent / name).exists():
            (path.parent / name).chmod(0o644)
    tokens = path.parent / "sync-tokens.json"
    tokens.write_text(json.dumps({"job-1": sync_token}))
    tokens.chmod(0o644)
    return picture


def test_a_plaintext_catalog_of_the_old_schema_is_encrypted_on_start(tmp_path, camera):
    pic_token, pattern_token, sync_token = _secret("pictoken"), _secret("patkey"), _secret("synctok")
    secret_list = [camera.password, pic_token, pattern_token, sync_token]
    data = tmp_path / "legacy"
    _old_plaintext_catalog(data / "catalog.sqlite3", camera, pic_token, pattern_token, sync_token)
    assert files_leaking(data, secret_list)  # the attack: every secret readable in the files

    assert camera.served == 0
    station = StationProcess(tmp_path, name="legacy")
    try:
        # the camera is still read, with the password now stored encrypted (a picture is
        # served only to a request with the right digest)
        wait_until(lambda: station.call("GET", "/api/v1/source/1/")[1]["status"] == "online",
                   20, message="the old picture source online")
        assert camera.served >= 1
        wait_until(lambda: station.call("GET", "/api/v1/source/2/")[1]["status"] == "online",
                   20, message="the old pattern source online")
        answers = [station.call("GET", p)[1] for p in ("/api/v1/source", "/api/v1/record?tag_name=old-tag",
                                                        "/api/v1/tag?name=old-tag")]
        record = answers[1][0]
        assert record["source"][0]["uri_http_picture"]["password"] == "******"
        problems = [leak for a in answers for leak in leaks(json.dumps(a), "an answer", secret_list)]
        problems += files_leaking(data, secret_list)
        assert mode(data) == 0o700
        for name in ("catalog.sqlite3", "catalog.sqlite3-wal", "catalog.sqlite3-shm", "sync-tokens.json"):
            assert mode(data / name) == 0o600, name
    finally:
        station.stop()
    problems += files_leaking(data, secret_list) + leaks(station.log_text(), "the log", secret_list)
    assert not problems, problems
    db = sqlite3.connect(data / "catalog.sqlite3")
    assert json.loads(db.execute("SELECT uri_http_picture FROM source WHERE id = 1").fetchone()[0]
                      ).startswith(PREFIX)
    assert db.execute("SELECT uri_rtsp FROM source WHERE id = 2").fetchone()[0].startswith(PREFIX)
    assert json.loads(db.execute("SELECT publish_param FROM rtc_job").fetchone()[0]).startswith(PREFIX)
    db.close()
    assert json.loads((data / "sync-tokens.json").read_text())["job-1"].startswith(PREFIX)
    assert mode(tmp_path / KEY_FILE) == 0o600
