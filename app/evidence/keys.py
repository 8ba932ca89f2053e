"""The station's evidence signing key: Ed25519, made once, kept like the credentials key.

The private key lives in `evidence-signing.key` (PEM, PKCS#8, mode 0600) in the config folder
beside `credentials.key` (app.credentials), or, when that folder cannot be written, in the data
folder. Not in the catalog and not in the data folder first: a copied catalog or data folder
must not let anyone sign a forged package in the station's name. Unlike the credentials key,
it is never shared by the stations of a site: each station signs as itself, and its public key
(shown in Settings and at `GET /api/v1/station`) is what an examiner compares a package's key
with. It is written whole under a temporary name, then linked into place, so two stations
starting at once on one config folder end up with the same key.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

log = logging.getLogger(__name__)

KEY_FILE = "evidence-signing.key"


class SigningKeyError(RuntimeError):
    """The key file exists but is not an Ed25519 private key, or there is nowhere to keep one."""


def public_key_text(public: Ed25519PublicKey) -> str:
    """The public key as a manifest and the API state it: base64 of its 32 raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def key_fingerprint(public_text: str) -> str:
    """What an operator reads aloud: the first 16 hex digits of SHA-256 of the raw key, in
    fours (the credentials key's fingerprint looks the same)."""
    digest = hashlib.sha256(base64.b64decode(public_text)).hexdigest()[:16]
    return ":".join(digest[i:i + 4] for i in range(0, 16, 4))


class SigningKey:
    """Signs manifests; tells its public key. `where`: the file it came from."""

    def __init__(self, private: Ed25519PrivateKey, where: str):
        self._private = private
        self.where = where
        self.public_text = public_key_text(private.public_key())
        self.fingerprint = key_fingerprint(self.public_text)

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)


def load_signing_key(config_dir: Path, fallback_dir: Path | None = None) -> SigningKey:
    """The station's key, found (first folder holding one wins) or made in the first folder
    that can be written."""
    folders = [f for f in (config_dir, fallback_dir) if f is not None]
    for folder in folders:
        path = folder / KEY_FILE
        if path.is_file():
            return SigningKey(_read(path), str(path))
    last: OSError | None = None
    for folder in folders:
        try:
            path = _create(folder)
        except OSError as exc:
            last = exc
            log.warning("cannot keep the evidence signing key in %s: %s", folder, exc)
            continue
        key = SigningKey(_read(path), str(path))
        log.info("evidence signing key created in %s (fingerprint %s)", path, key.fingerprint)
        return key
    raise SigningKeyError(f"no place to keep the evidence signing key: {last}")


def _read(path: Path) -> Ed25519PrivateKey:
    if os.name == "posix" and path.stat().st_mode & 0o077:
        path.chmod(0o600)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise SigningKeyError(f"{path} is not an evidence signing key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 key")
    return key


def _create(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / KEY_FILE
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    tmp = folder / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another station made it first: theirs is the key
    finally:
        tmp.unlink(missing_ok=True)
    return path
