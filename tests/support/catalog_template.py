"""A migrated SQLite catalog to start test stations from.

Migrating a new catalog through its 17 revisions costs ~0.13 s of CPU, about 90 % of
building a station in a test; the suite builds hundreds. Each test process migrates one
template once and every new SQLite station of a test starts from a copy of it (the station
then opens it as it would any catalog at the newest revision: the site key check, the file
modes, the rest). Tests of the migrations themselves, and stations on a shared or
PostgreSQL catalog, still migrate for real.

A station process's copy also holds the `admin` account (`ADMIN_PASSWORD`): its first start
then hashes no password (0.1 s of CPU a start, with scrypt's 32 MiB), and a test can sign in
as admin. The first start's own account is tested where it is the subject
(tests/test_user_accounts_cli.py, tests/app/test_accounts.py)."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

from sqlmodel import Session

from app.accounts.models import User
from app.accounts.passwords import hash_password
from app.catalog import make_engine, make_private_dir, migrate

CATALOG_FILE = "catalog.sqlite3"  # the file a station's data folder holds (app.settings)
ADMIN_PASSWORD = "the test admin's password"
_templates: dict[bool, Path] = {}


def template(with_admin: bool = False) -> Path:
    path = _templates.get(with_admin)
    if path is None or not path.is_file():
        path = Path(tempfile.mkdtemp(prefix="rs-catalog-template-")) / CATALOG_FILE
        engine = make_engine(f"sqlite:///{path}")
        migrate(engine)
        if with_admin:
            with Session(engine) as session:
                session.add(User(name="admin", display_name="Administrator", role="admin",
                                 password_hash=hash_password(ADMIN_PASSWORD)))
                session.commit()
        engine.dispose()
        with sqlite3.connect(path) as connection:  # everything in the main file, no WAL left
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _templates[with_admin] = path
    return path


def seed_catalog(data_dir: Path, with_admin: bool = False) -> None:
    """Put a migrated catalog in `data_dir` (empty, or with `admin`), unless it holds one."""
    target = data_dir / CATALOG_FILE
    if target.exists():
        return
    make_private_dir(data_dir)
    shutil.copyfile(template(with_admin), target)
    target.chmod(0o600)
