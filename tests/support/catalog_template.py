"""A migrated SQLite catalog to start test stations from.

Migrating a new catalog through its 17 revisions costs ~0.13 s of CPU, about 90 % of
building a station in a test; the suite builds hundreds. Each test process migrates one
template once and every new SQLite station of a test starts from a copy of it (the station
then opens it as it would any catalog at the newest revision: the site key check, the file
modes, the rest). Tests of the migrations themselves, and stations on a shared or
PostgreSQL catalog, still migrate for real."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

from app.catalog import make_engine, make_private_dir, migrate

CATALOG_FILE = "catalog.sqlite3"  # the file a station's data folder holds (app.settings)
_template: Path | None = None


def template() -> Path:
    global _template
    if _template is None or not _template.is_file():
        path = Path(tempfile.mkdtemp(prefix="rs-catalog-template-")) / CATALOG_FILE
        engine = make_engine(f"sqlite:///{path}")
        migrate(engine)
        engine.dispose()
        with sqlite3.connect(path) as connection:  # everything in the main file, no WAL left
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _template = path
    return _template


def seed_catalog(data_dir: Path) -> None:
    """Put a migrated empty catalog in `data_dir`, unless it holds one already."""
    target = data_dir / CATALOG_FILE
    if target.exists():
        return
    make_private_dir(data_dir)
    shutil.copyfile(template(), target)
    target.chmod(0o600)
