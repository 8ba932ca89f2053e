"""Accounts (#26 item 1): the scrypt hashes, and the account service on SQLite and PostgreSQL
(tests/app/conftest.py) — create, list without hashes, names unique whatever their case,
disable, expiry, verify refusing an unknown name, and the first start's `admin` once."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.accounts.passwords import DUMMY_HASH, hash_password, verify_password
from app.accounts.service import AccountError, AccountService
from app.catalog import Catalog
from app.services.audit import AuditService


def test_a_hash_is_self_describing_scrypt_with_the_documented_parameters():
    stored = hash_password("correct horse")
    scheme, n, r, p, salt, key = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2 ** 15), "8", "1")
    salt, key = base64.b64decode(salt), base64.b64decode(key)
    assert len(salt) == 16 and len(key) == 32
    # the key is scrypt's own with those parameters: nothing else mixed in
    assert key == hashlib.scrypt(b"correct horse", salt=salt, n=2 ** 15, r=8, p=1,
                                 maxmem=64 << 20, dklen=32)
    assert "correct horse" not in stored
    assert hash_password("correct horse") != stored  # a new salt each time


def test_verify_accepts_the_password_and_refuses_others():
    stored = hash_password("correct horse")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)
    assert not verify_password("", stored)
    assert not verify_password("correct horse", DUMMY_HASH)


@pytest.mark.parametrize("stored", [
    "", "plain", "scrypt$32768$8$1$AAAA", "bcrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44,
    "scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 43 + "=",  # 1 TiB: refused
    "scrypt$30000$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 43 + "=",  # N not a power of two
    "scrypt$32768$8$1$!!!$" + "A" * 43 + "="])
def test_a_malformed_or_monstrous_stored_hash_verifies_nothing(stored):
    assert verify_password("anything", stored) is False


@pytest.fixture
def catalog(tmp_path: Path, database_url):
    catalog = Catalog(database_url or f"sqlite:///{tmp_path / 'catalog.sqlite3'}",
                      data_dir=tmp_path / "data").open()
    yield catalog
    catalog.close()


@pytest.fixture
def audit(catalog):
    audit = AuditService(catalog)
    audit.start()
    yield audit
    audit.stop()


def test_create_list_verify_disable_enable(catalog, audit):
    accounts = AccountService(catalog, audit)
    created = accounts.create("Alice", "s3cret-pass", role="operator", display_name="Alice A.",
                              scope=[3, 1, 3], who="tester")
    assert (created.name, created.role, created.scope) == ("alice", "operator", [1, 3])
    listed = accounts.list()
    assert [u.name for u in listed] == ["alice"]
    assert "password_hash" not in listed[0].model_dump()
    assert "s3cret" not in listed[0].model_dump_json()
    with pytest.raises(AccountError, match="exists"):
        accounts.create("ALICE", "another-pass", role="viewer")  # names ignore case
    assert accounts.verify("alice", "s3cret-pass").name == "alice"
    assert accounts.verify("ALICE", "wrong-pass") is None
    accounts.disable("alice")
    assert accounts.verify("alice", "s3cret-pass") is None  # disabled: refused
    assert accounts.list()[0].enabled is False
    accounts.enable("alice")
    accounts.set_password("alice", "n3w-password")
    assert accounts.verify("alice", "s3cret-pass") is None
    assert accounts.verify("alice", "n3w-password") is not None
    actions = [e.action for e in audit.list(page_size=20).items]
    assert actions == ["change password", "enable user", "disable user", "create user"]


BAD = [("", "long-enough", "viewer", "user name"),
       ("a" * 65, "long-enough", "viewer", "user name"),
       ("bob smith", "long-enough", "viewer", "user name"),
       ("bob/../x", "long-enough", "viewer", "user name"),
       ("bob", "short", "viewer", "at least 8"),
       ("bob", "long-enough", "root", "role")]


def test_create_refuses_bad_names_passwords_and_roles(catalog):
    accounts = AccountService(catalog)
    for name, password, role, reason in BAD:  # one catalog for all: a new one costs 0.5 s
        with pytest.raises(AccountError, match=reason):
            accounts.create(name, password, role=role)
    with pytest.raises(AccountError, match="printable"):
        accounts.create("eve", "long-enough", display_name="Eve\x1b[2J\tx")
    assert accounts.list() == []


def test_an_expired_account_and_an_unknown_name_verify_as_none(catalog):
    accounts = AccountService(catalog)
    past = datetime.now(timezone.utc) - timedelta(minutes=1)
    accounts.create("temp", "temp-password", expires_utc=past)
    assert accounts.get("temp").expires_utc == past
    assert accounts.verify("temp", "temp-password") is None
    # an unknown name costs a scrypt hash like a wrong password: no fast path telling it apart
    started = time.perf_counter()
    assert accounts.verify("nobody", "whatever-pass") is None
    assert accounts.verify("../bad name", "whatever-pass") is None
    assert time.perf_counter() - started > 0.02 * 2


def test_the_first_admin_is_created_once_and_its_password_kept_only_hashed(catalog, tmp_path):
    accounts, other_station = AccountService(catalog), AccountService(catalog)
    password = accounts.ensure_first_admin()
    assert password and len(password) >= 16
    assert other_station.ensure_first_admin() is None  # a second station of the catalog
    assert accounts.ensure_first_admin() is None  # and the next start
    admin = accounts.verify("admin", password)
    assert admin is not None and admin.role == "admin" and admin.scope is None
    if catalog.path is not None:  # the SQLite file: the password in no byte of it
        catalog.close()
        data = b"".join(p.read_bytes() for p in catalog.path.parent.glob("catalog.sqlite3*"))
        assert b"scrypt$" in data and password.encode() not in data



def test_stations_starting_together_create_one_admin(catalog):
    """Two stations of one catalog at their first start at the same moment: the unique name
    lets one create `admin`; the other finds it made and prints nothing."""
    barrier = threading.Barrier(2)
    results: list[str | None] = []

    def first_start() -> None:
        barrier.wait()
        results.append(AccountService(catalog).ensure_first_admin())

    threads = [threading.Thread(target=first_start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and [r is None for r in results].count(False) == 1, results
    assert [u.name for u in AccountService(catalog).list()] == ["admin"]
