"""Masking of every credential form, the masked-URI round trip, and the credentials key:
files, modes, a foreign key, the keyring path (real files and a real SQLite catalog)."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from sqlmodel import select

from app import credentials
from app.catalog import Catalog
from app.credentials import KEY_FILE, PREFIX, CredentialKeyError, load_cipher
from app.models import Source
from app.schemas import MASK, mask_picture, unmask_picture, unmask_uri
from app.settings import write_config
from app.site.sync import TokenStore
from recorder.redact import mask_uri, redact


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("uri, shown", [
    ("rtsp://admin:pw@10.0.0.1:554/s#udp", "rtsp://admin:******@10.0.0.1:554/s#udp"),
    ("rtsp://admin:p%40ss/w@rd@10.0.0.1/s", "rtsp://admin:******@10.0.0.1/s"),
    ("rtsp://admin@10.0.0.1/s", "rtsp://admin@10.0.0.1/s"),
    ("http://h/a.jpg?user=u&PASSWORD=x&size=1", "http://h/a.jpg?user=u&PASSWORD=******&size=1"),
    ("http://h/a?pwd=1&pass=2&Token=3&key=4&secret=5", "http://h/a?pwd=******&pass=******&Token=******&key=******&secret=******"),
    ("srt://h:9000?mode=caller&passphrase=abcdefghij", "srt://h:9000?mode=caller&passphrase=******"),
    ("udp://h:1?stream_key=k&StreamKey=k2", "udp://h:1?stream_key=******&StreamKey=******"),
    ("rtmp://h/live/abc123", "rtmp://h/live/******"),
    ("RTMPS://h:443/app/inst/k?x=1", "RTMPS://h:443/app/******?x=1"),
    ("rtmp://h/live", "rtmp://h/live"),
    ("testsrc://testsrc2?size=320x240&rate=25", "testsrc://testsrc2?size=320x240&rate=25"),
    ("/dev/video0", "/dev/video0"),
    ("", ""),
])
def test_every_credential_form_is_masked_and_masking_is_stable(uri, shown):
    assert mask_uri(uri) == shown
    assert mask_uri(shown) == shown


def test_redact_masks_uris_inside_text_and_the_given_uris_where_they_stand():
    text = "open 'rtsp://a:pw1@h/x' failed; then srt://h?passphrase=zz99zz99zz; 'rtsp://b:p w@h/'"
    out = redact(text, ("rtsp://a:pw1@h/x", "rtsp://b:p w@h/"))
    assert "pw1" not in out and "zz99zz99zz" not in out and "p w" not in out
    assert "rtsp://a:******@h/x" in out and "passphrase=******" in out
    assert "rtsp://b:******@h/" in out
    # a one-letter password is masked where it stands, never searched for in the words
    said = "cannot open the input (unreachable, refused or not a video stream): rtsp://u:p@h/"
    assert redact(said, ("rtsp://u:p@h/",)) == said.replace("u:p@", "u:******@")


def test_a_masked_uri_sent_back_keeps_the_secret_only_for_the_same_address():
    stored = "srt://h:9000?mode=caller&passphrase=abcdefghij"
    assert unmask_uri(mask_uri(stored), stored) == stored
    assert unmask_uri(mask_uri(stored) + "#x", stored) == stored + "#x"
    moved = "srt://evil:9000?mode=caller&passphrase=" + MASK
    assert unmask_uri(moved, stored) == moved  # the secret never follows a new host
    rtmp = "rtmp://h/live/key1"
    assert unmask_uri("rtmp://h/other/" + MASK, rtmp) == "rtmp://h/other/" + MASK


def test_a_masked_picture_keeps_its_password_only_for_the_same_origin_and_user():
    stored = {"uri": "http://cam:80/snap.jpg?token=t1", "auth": "digest", "user": "u", "password": "pw"}
    shown = mask_picture(stored)
    assert shown["password"] == MASK and shown["uri"] == "http://cam:80/snap.jpg?token=" + MASK
    assert unmask_picture(shown, stored) == stored
    assert unmask_picture(dict(shown, uri="http://evil/snap.jpg"), stored)["password"] is None
    assert unmask_picture(dict(shown, user="other"), stored)["password"] is None


def test_the_key_file_is_created_once_0600_and_shared_by_concurrent_openers(tmp_path):
    folder = tmp_path / "config"
    ciphers = []
    threads = [threading.Thread(target=lambda: ciphers.append(load_cipher(folder))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    token = ciphers[0].encrypt("x")
    assert all(c.decrypt(token) == "x" for c in ciphers)
    assert mode(folder / KEY_FILE) == 0o600 and mode(folder) == 0o700
    assert [p.name for p in folder.iterdir()] == [KEY_FILE]  # no temporary file left
    (folder / KEY_FILE).chmod(0o644)
    load_cipher(folder)
    assert mode(folder / KEY_FILE) == 0o600  # tightened when found loose


def test_an_unwritable_config_folder_falls_back_beside_the_catalog(tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    cipher = load_cipher(blocked / "config", tmp_path / "data")
    assert (tmp_path / "data" / KEY_FILE).is_file() and "data" in cipher.where


def test_a_catalog_opened_with_another_key_says_so(tmp_path):
    url = f"sqlite:///{tmp_path / 'data' / 'c.sqlite3'}"
    catalog = Catalog(url, key_dir=tmp_path / "k1").open()
    with catalog.session() as session:
        session.add(Source(name="cam", uri_rtsp="rtsp://u:pw@h/x"))
    catalog.close()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "data").iterdir())
    assert b"pw@h" not in raw and PREFIX.encode() in raw
    with pytest.raises(CredentialKeyError, match="does not open"):
        Catalog(url, key_dir=tmp_path / "k2").open()
    catalog = Catalog(url, key_dir=tmp_path / "k1").open()  # the right key still reads it
    with catalog.session() as session:
        assert session.exec(select(Source)).one().uri_rtsp == "rtsp://u:pw@h/x"
    catalog.close()


def test_a_value_that_looks_encrypted_is_stored_as_text_not_trusted(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.sqlite3'}", key_dir=tmp_path).open()
    with catalog.session() as session:
        session.add(Source(name="cam", uri_rtsp=PREFIX + "garbage"))
    with catalog.session() as session:  # read back as sent, not a decryption error
        assert session.exec(select(Source)).one().uri_rtsp == PREFIX + "garbage"
    catalog.close()


class MemoryKeyring(KeyringBackend):
    """A keyring backend of keyring's own plug-in API that keeps entries in memory: this
    machine has no desktop keyring (Secret Service needs a D-Bus session)."""

    priority = 5

    def __init__(self):
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        self.entries.pop((service, username), None)


def test_a_desktop_keyring_keeps_the_key_and_no_key_file_is_written(tmp_path):
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    try:
        first = load_cipher(tmp_path / "config", tmp_path / "data")
        again = load_cipher(tmp_path / "config", tmp_path / "data")
    finally:
        keyring.set_keyring(previous)
    assert again.decrypt(first.encrypt("pw")) == "pw"
    assert "keyring" in first.where and len(ring.entries) == 1
    assert not (tmp_path / "config" / KEY_FILE).exists() and not (tmp_path / "data").exists()


def test_the_config_file_is_written_0600_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_config({"token": "s3cret-token"}, tmp_path / "cfg" / "config.toml")
        path.chmod(0o644)  # an older version's file
        write_config({"huawei_sk": "sk"}, path)
    finally:
        os.umask(old)
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


def test_the_sync_token_file_is_0600_and_encrypted(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.sqlite3'}", key_dir=tmp_path).open()
    path = tmp_path / "sync-tokens.json"
    path.write_text(json.dumps({"old": "plain-token"}))
    path.chmod(0o644)
    store = TokenStore(path, catalog)  # an older version's file: re-written at once
    assert mode(path) == 0o600 and "plain-token" not in path.read_text()
    store.put("new", "new-token")
    assert "new-token" not in path.read_text()
    assert (store.get("old"), store.get("new")) == ("plain-token", "new-token")
    catalog.close()


def test_credentials_module_never_logs_the_key(tmp_path, caplog):
    caplog.set_level("DEBUG")
    load_cipher(tmp_path / "cfg")
    key = (tmp_path / "cfg" / KEY_FILE).read_text().strip()
    assert key not in caplog.text and credentials.KEY_FILE in caplog.text
