"""Credentials encrypted at rest, with the key kept outside the catalog.

A copied catalog file (a backup, a bug report, a stolen disk image of the data folder) must
not hand out every camera password. The columns that hold credentials (`source.uri_rtsp`,
`source.uri_http_picture`, `rtc_job.publish_param`) are written through the column types
below, which encrypt with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) and store
`enc:v1:<token>`. Values without that prefix are plaintext from before this module and are
read as they are; the catalog re-writes them encrypted on open (`Catalog.open`).

The key (32 random bytes) lives, first found wins:
1. in `credentials.key` (mode 0600) in the config folder, when that file exists;
2. in the desktop's keyring (Secret Service, KWallet, macOS Keychain, Windows Credential
   Manager) through the `keyring` package, where one answers;
3. otherwise in a new `credentials.key` in the config folder (0700), or, when that folder
   cannot be written, beside the catalog file.
The key is never logged; losing it makes the stored credentials unreadable, not the rest of
the catalog.

Stations sharing a catalog (a site) must share its key: a station with another key would
write sources no other station can read. So the catalog keeps a check value of its key (an
HMAC-SHA256 of a fixed label keyed by it: it proves a key without revealing it), written by
the first station to open it (`check_site_key`); a station whose key gives another check
value refuses to start, naming where its key is, both keys' fingerprints and the catalog.
A value that still does not open (written by another key before the check existed, or by
whoever writes the catalog) is read as `Unreadable`, never an error: one foreign row must
not turn every list into a failure. Front ends show it as "credentials unreadable on this
station" (`UNREADABLE`).

Each engine carries its own cipher (`bind`), so two catalogs in one process never mix keys.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, String, select, text
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from app import APP_NAME

log = logging.getLogger(__name__)

PREFIX = "enc:v1:"
KEY_FILE = "credentials.key"
KEYRING_SERVICE = f"{APP_NAME} credentials key"
KEYRING_TIMEOUT_S = 10.0
_ATTRIBUTE = "recording_station_cipher"
# What the check value is the HMAC of: fixed, so any station can recompute it from its key.
CHECK_LABEL = b"recording-station credentials key check v1"
# What a front end shows for a source whose stored credentials this station cannot open.
UNREADABLE = "credentials unreadable on this station"


class CredentialKeyError(RuntimeError):
    """The key is missing or does not open what the catalog holds."""


class Cipher:
    """Encrypts and decrypts one credential value; knows where its key came from."""

    def __init__(self, key: bytes, where: str):
        self._fernet = Fernet(key)
        self.where = where
        self.check_value = key_check(key)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.check_value)

    def encrypt(self, text: str) -> str:
        return PREFIX + self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        if not is_encrypted(stored):
            return stored  # plaintext from before encryption: migrated on open
        try:
            return self._fernet.decrypt(stored[len(PREFIX):].encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise CredentialKeyError(
                f"the credentials key ({self.where}) does not open the catalog's stored "
                "credentials: restore the key that encrypted them, or re-enter the sources' "
                "passwords after removing them") from None


def is_encrypted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


class Unreadable(str):
    """A stored credential this station's key does not open, read as this marker (its stored
    text) instead of failing the query. Written back unchanged, it is stored as it was: the
    key that wrote it may still open it one day."""

    __slots__ = ()


def is_unreadable(value: Any) -> bool:
    return isinstance(value, Unreadable)


def key_check(key: bytes) -> str:
    """The check value of a key: HMAC-SHA256 of `CHECK_LABEL` keyed by it, hex. Stored in
    the catalog; it names the key without revealing it."""
    return hmac.new(key, CHECK_LABEL, hashlib.sha256).hexdigest()


def fingerprint(check_value: str) -> str:
    """What an operator compares: the first 16 hex digits of a check value, in fours."""
    head = check_value[:16]
    return ":".join(head[i:i + 4] for i in range(0, len(head), 4))


# --- the key --------------------------------------------------------------------------------
def load_cipher(config_dir: Path, fallback_dir: Path | None = None) -> Cipher:
    """The station's cipher, its key found or created as the module docstring says."""
    for folder in filter(None, (config_dir, fallback_dir)):
        path = folder / KEY_FILE
        if path.is_file():
            return Cipher(_read_key_file(path), str(path))
    account = str(config_dir.expanduser().resolve())
    key = _keyring_key(account)
    if key is not None:
        return Cipher(key, f"the {_keyring_name()} keyring")
    last_error: OSError | None = None
    for folder in filter(None, (config_dir, fallback_dir)):
        try:
            path = _create_key_file(folder)
        except OSError as exc:
            last_error = exc
            log.warning("cannot keep the credentials key in %s: %s", folder, exc)
            continue
        log.info("credentials key created in %s (mode 0600)", path)
        return Cipher(_read_key_file(path), str(path))
    raise CredentialKeyError(f"no place to keep the credentials key: {last_error}")


def _read_key_file(path: Path) -> bytes:
    if os.name == "posix" and path.stat().st_mode & 0o077:
        path.chmod(0o600)
    key = path.read_bytes().strip()
    try:
        Fernet(key)
    except ValueError:
        raise CredentialKeyError(f"{path} is not a credentials key") from None
    return key


def _create_key_file(folder: Path) -> Path:
    """A new random key, written whole before it appears under its name (two stations
    starting at once end up with the same one: the second link fails, the first key wins)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / KEY_FILE
    tmp = folder / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _keyring_backend():
    """The desktop keyring, or None where there is none worth the name (the `fail`/`null`
    backends, or a plaintext file keyring of priority below 1)."""
    try:
        import keyring

        backend = keyring.get_keyring()
        return backend if float(backend.priority) >= 1 else None
    except Exception as exc:  # noqa: BLE001 - a broken keyring set-up means "no keyring"
        log.debug("no keyring: %s", exc)
        return None


def _keyring_name() -> str:
    backend = _keyring_backend()
    return type(backend).__module__.rsplit(".", 1)[-1] if backend else "desktop"


def _keyring_key(account: str) -> bytes | None:
    """The key kept in the keyring under `account` (created there on first use); None when
    no keyring answers within KEYRING_TIMEOUT_S (a locked one may wait for the operator)."""
    backend = _keyring_backend()
    if backend is None:
        return None
    result: list[bytes | None] = [None]

    def work() -> None:
        try:
            stored = backend.get_password(KEYRING_SERVICE, account)
            if not stored:
                backend.set_password(KEYRING_SERVICE, account, Fernet.generate_key().decode())
                stored = backend.get_password(KEYRING_SERVICE, account)
            if stored:
                Fernet(stored.encode())
                result[0] = stored.encode()
        except Exception as exc:  # noqa: BLE001 - any keyring failure falls back to the file
            log.warning("the keyring (%s) did not keep the credentials key: %s",
                        type(backend).__name__, exc)

    thread = threading.Thread(target=work, name="keyring", daemon=True)
    thread.start()
    thread.join(KEYRING_TIMEOUT_S)
    if thread.is_alive():
        log.warning("the keyring did not answer within %.0f s: using a key file", KEYRING_TIMEOUT_S)
        return None
    return result[0]


# --- keys of the stations of a site ---------------------------------------------------------
def station_key(secret: str, station_id: str) -> bytes:
    """The key that opens station `station_id` to the other stations of its site: derived
    from the site's shared secret (the `token`) and that station's id. A request to a station
    is signed with that station's key (app.site.peer_auth), so what a catalog row pointing
    elsewhere captures opens no other station, and the shared secret itself never travels."""
    return hmac.new(secret.encode("utf-8"), b"station:" + station_id.encode("utf-8"),
                    hashlib.sha256).digest()


# --- the site's key, checked in the catalog --------------------------------------------------
class CredentialsKey(SQLModel, table=True):
    """The check value of the key that encrypts this catalog's credentials (one row, id 1):
    written by the first station to open the catalog, compared by every later one."""

    __tablename__ = "credentials_key"
    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    check_value: str = Field(max_length=64)
    created_utc: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)


def check_site_key(engine: Engine, cipher: Cipher, catalog: str) -> None:
    """Refuse (`CredentialKeyError`) a key that is not the catalog's; on a catalog without a
    check value yet, write this key's, unless the catalog holds credentials this key opens
    none of (a catalog from before the check, set up with another key). `catalog` names the
    catalog in the refusal (no password)."""
    select_check = select(CredentialsKey.check_value).where(CredentialsKey.id == 1)
    with engine.begin() as conn:
        stored = conn.execute(select_check).scalar()
        if stored is None:
            opened, foreign = _stored_credentials(conn, cipher)
            if foreign and not opened:
                raise CredentialKeyError(
                    f"the credentials key ({cipher.where}, fingerprint {cipher.fingerprint}) "
                    f"does not open any of the {foreign} credentials stored in the catalog "
                    f"({catalog}): they were encrypted with another key")
            # Two stations writing at once: the first row wins, the other compares with it.
            conn.execute(text("INSERT INTO credentials_key (id, check_value, created_utc) "
                              "VALUES (1, :check, :now) ON CONFLICT (id) DO NOTHING"),
                         {"check": cipher.check_value, "now": datetime.now(timezone.utc)})
            stored = conn.execute(select_check).scalar()
            if stored == cipher.check_value:
                log.info("credentials key (fingerprint %s) recorded as the catalog's",
                         cipher.fingerprint)
    if not hmac.compare_digest(stored, cipher.check_value):
        raise CredentialKeyError(
            f"the credentials key ({cipher.where}, fingerprint {cipher.fingerprint}) does not "
            f"open this catalog's credentials: the catalog ({catalog}) was set up with the key "
            f"of fingerprint {fingerprint(stored)}")


def _stored_credentials(conn: Connection, cipher: Cipher) -> tuple[int, int]:
    """(how many, how many not) of the encrypted values stored in the catalog's credential
    columns open with `cipher`, read as stored (bypassing the column types)."""
    opened = foreign = 0
    for table in SQLModel.metadata.sorted_tables:
        columns = [c.name for c in table.columns
                   if isinstance(c.type, (EncryptedText, EncryptedJSON))]
        if not columns:
            continue
        names = ", ".join(f'"{c}"' for c in columns)
        for row in conn.execute(text(f'SELECT {names} FROM "{table.name}"')):
            for value in row:
                if isinstance(value, str) and value.startswith('"'):
                    value = json.loads(value)  # a JSON column's string, as SQLite hands it
                if not is_encrypted(value):
                    continue
                try:
                    cipher.decrypt(value)
                    opened += 1
                except CredentialKeyError:
                    foreign += 1
    return opened, foreign


# --- engines and column types ---------------------------------------------------------------
def bind(engine: Engine, cipher: Cipher) -> None:
    """Let the credential columns of `engine` encrypt and decrypt with `cipher`."""
    setattr(engine.dialect, _ATTRIBUTE, cipher)


def cipher_of(dialect: Dialect) -> Cipher:
    cipher = getattr(dialect, _ATTRIBUTE, None)
    if cipher is None:
        raise CredentialKeyError("this catalog was not opened with a credentials key "
                                 "(Catalog.open loads it)")
    return cipher


class EncryptedText(TypeDecorator):
    """A text column stored encrypted; legacy plaintext reads as it is."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        # Always encrypted, even a value that looks encrypted: a client sending `enc:v1:...`
        # must not plant a value that fails to decrypt on every read. Only what was read as
        # Unreadable goes back as it was stored.
        if value is None or is_unreadable(value):
            return None if value is None else str(value)
        return cipher_of(dialect).encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if not is_encrypted(value):
            return value
        return _open(cipher_of(dialect), value)


class EncryptedJSON(TypeDecorator):
    """A JSON column whose value is stored as one encrypted JSON string (`"enc:v1:..."`);
    a legacy plaintext object reads as it is."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or is_unreadable(value):
            return None if value is None else str(value)
        return cipher_of(dialect).encrypt(json.dumps(value, separators=(",", ":")))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if not is_encrypted(value):
            return value
        opened = _open(cipher_of(dialect), value)
        return opened if is_unreadable(opened) else json.loads(opened)


def _open(cipher: Cipher, stored: str) -> str:
    """The stored value decrypted, or `Unreadable` when this key does not open it."""
    try:
        return cipher.decrypt(stored)
    except CredentialKeyError:
        return Unreadable(stored)

