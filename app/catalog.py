"""The catalog: one SQLAlchemy engine, schema migrated by Alembic on open.

SQLite (the default) runs in WAL mode with a busy timeout so the GUI, the API threads and
the recorder's finalizers can write concurrently, and `synchronous=FULL` so a committed
change survives a power loss; any other SQLAlchemy URL (PostgreSQL
included) works unchanged. Sessions are short-lived, one per unit of work, never shared
across threads.

The catalog holds camera credentials, so on open it also: makes its SQLite file (and the
`-wal`/`-shm` beside it) 0600 and the data folder 0700, whatever the umask and for files
that already exist; loads the credentials key (`app.credentials`) that its credential columns
encrypt with and checks it is the catalog's (`check_site_key`: a station with another key
refuses to start); and re-writes anything an older version stored in clear
(`protect_legacy_rows`).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import event, select, text, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, create_engine

from app import credentials
from app.credentials import is_encrypted
from app.settings import default_config_file

log = logging.getLogger(__name__)
# What a catalog that cannot be reached or written raises (a database server down, a full disk).
CATALOG_DOWN: tuple[type[BaseException], ...] = (SQLAlchemyError, sqlite3.Error)
# What a catalog that cannot be written raises: the driver's errors wrapped by SQLAlchemy
# (OperationalError: disk full, locked, I/O error, the file gone), or raw ones. The records'
# overlay (app.recordings.record_overlay) keeps what they refused.
CATALOG_ERRORS: tuple[type[BaseException], ...] = (*CATALOG_DOWN, OSError)
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
FILE_MODE, DIR_MODE = 0o600, 0o700


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: each commit is fsynced to the WAL before it returns, so a record's state change
    # survives a power loss (NORMAL may lose the last commits); docs/reliability.md has its cost.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def sqlite_path(url: str) -> Path | None:
    """The file of a file-backed SQLite URL; None for memory databases and other servers."""
    parsed = make_url(url)
    if not parsed.get_backend_name() == "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):
        return None  # a URI filename: whoever wrote it chose its own options
    return Path(parsed.database).expanduser().resolve()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            if not path.parent.exists():  # an existing folder is the operator's: Catalog(data_dir=)
                make_private_dir(path.parent)
            _create_private_file(path)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def make_private_dir(folder: Path) -> None:
    """`folder` (and missing parents) with the owner alone allowed in, even if it existed."""
    folder.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if os.name == "posix" and folder.stat().st_mode & 0o777 != DIR_MODE:
        folder.chmod(DIR_MODE)


def _create_private_file(path: Path) -> None:
    """The catalog file exists 0600 before SQLite opens it: SQLite gives the `-wal` and
    `-shm` files the database file's mode, so they are born private too."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)
    secure_files(path)


def secure_files(path: Path) -> None:
    """0600 on the catalog file and the journal files beside it that exist."""
    if os.name != "posix":
        return
    for candidate in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        try:
            if candidate.stat().st_mode & 0o777 != FILE_MODE:
                candidate.chmod(FILE_MODE)
        except FileNotFoundError:
            continue


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (creates it on an empty database)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


class Catalog:
    """Owns the engine; hands out sessions.

    `data_dir` is the station's data folder, made 0700 (default: the SQLite file's folder
    only when the catalog creates it); `key_dir` is where the credentials key file may live
    (default: the config file's folder), `data_dir` being the fallback."""

    def __init__(self, url: str, *, data_dir: Path | None = None, key_dir: Path | None = None):
        self.url = url
        self.path = sqlite_path(url)
        self.data_dir = data_dir
        if data_dir is not None:
            make_private_dir(data_dir)
        self.key_dir = key_dir if key_dir is not None else default_config_file().parent
        self.engine = make_engine(url)

    def open(self) -> "Catalog":
        fallback = self.data_dir or (self.path.parent if self.path else None)
        self.cipher = credentials.load_cipher(self.key_dir, fallback)
        credentials.bind(self.engine, self.cipher)
        migrate(self.engine)
        try:  # before anything is written with the key: is it the catalog's?
            credentials.check_site_key(self.engine, self.cipher,
                                       self.engine.url.render_as_string(hide_password=True))
        except credentials.CredentialKeyError as exc:
            raise credentials.CredentialKeyError(
                f"{exc}. Stations sharing a catalog share one credentials key: copy "
                f"{credentials.KEY_FILE} from a station of the site into "
                f"{self.key_dir} (mode 0600) and start again; a station alone: restore "
                "the key that encrypted them") from None
        protect_legacy_rows(self.engine)
        if self.path is not None:
            secure_files(self.path)
        log.info("catalog ready at %s", self.engine.url.render_as_string(hide_password=True))
        return self

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any exception."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @property
    def is_server(self) -> bool:
        """A database server (PostgreSQL), shared by stations and able to go away, rather
        than this station's own SQLite file."""
        return not self.url.startswith("sqlite")

    def close(self) -> None:
        self.engine.dispose()


# --- credentials stored in clear by older versions ------------------------------------------
def _raw(value: Any) -> Any:
    """A JSON column's stored value as Python (SQLite hands back its text)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def protect_legacy_rows(engine: Engine) -> int:
    """Encrypt every credential column still in clear, mask the credentials inside record
    snapshots and error texts, then (SQLite) rebuild the file and empty the WAL so the old
    plaintext is not left in free pages. Returns how many rows were re-written. (That the
    key is the catalog's was checked before: `credentials.check_site_key`.)"""
    from app.models import Record, RtcJob, Source
    from app.schemas import mask_picture, mask_uri
    from recorder.redact import redact

    source, record, rtc = Source.__table__, Record.__table__, RtcJob.__table__
    changed = 0
    with engine.begin() as conn:
        raw = _raw_rows(conn, source, "id", "uri_rtsp", "uri_http_picture")
        for row_id, uri, picture in raw:
            picture = _raw(picture)
            values = {}
            if uri is not None and not is_encrypted(uri):
                values["uri_rtsp"] = uri
            if isinstance(picture, dict):
                values["uri_http_picture"] = picture
            if values:
                conn.execute(update(source).where(source.c.id == row_id).values(**values))
                changed += 1
        for row_id, params in _raw_rows(conn, rtc, "job_id", "publish_param"):
            params = _raw(params)
            if isinstance(params, dict):
                conn.execute(update(rtc).where(rtc.c.job_id == row_id).values(publish_param=params))
                changed += 1
        for row_id, snapshot, error in conn.execute(
                select(record.c.id, record.c.source_snapshot, record.c.error)).all():
            values = {}
            if isinstance(snapshot, dict):
                masked = dict(snapshot, uri_rtsp=mask_uri(snapshot.get("uri_rtsp")),
                              uri_http_picture=mask_picture(snapshot.get("uri_http_picture")))
                if masked != snapshot:
                    values["source_snapshot"] = masked
            if error and redact(error) != error:
                values["error"] = redact(error)
            if values:
                conn.execute(update(record).where(record.c.id == row_id).values(**values))
                changed += 1
    if changed:
        log.info("catalog: %d rows written in clear by an older version now protected", changed)
        if engine.dialect.name == "sqlite":
            _rebuild_sqlite(engine)
    return changed


def _raw_rows(conn: Connection, table, key: str, *columns: str) -> list[tuple]:
    """Rows as stored, bypassing the decrypting column types."""
    names = ", ".join(f'"{c}"' for c in (key, *columns))
    return [tuple(r) for r in conn.execute(text(f'SELECT {names} FROM "{table.name}"')).all()]


def _rebuild_sqlite(engine: Engine) -> None:
    """VACUUM copies only live rows into a new file; the TRUNCATE checkpoint then empties the
    WAL, which held the pages written in clear and the rows just re-written."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("VACUUM"))
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
