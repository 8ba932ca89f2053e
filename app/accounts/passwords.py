"""Password hashes with the standard library's scrypt: memory-hard, so a stolen catalog costs
an attacker memory as well as time for every guess, and no extra dependency to vet.

Parameters (docs/security.md, "Accounts"): N = 2**15, r = 8, p = 1 — about 32 MiB of memory
(128 · r · N bytes) and some 50-100 ms of one core per hash here — a 16-byte random salt per
password and a 32-byte key. A hash is stored self-describing,

    scrypt$32768$8$1$<salt, base64>$<key, base64>

so stronger parameters later verify old hashes with their own. Verification compares with
`hmac.compare_digest` (no early exit on the first differing byte) and refuses parameters
outside sane bounds (a forged row must not make the station allocate gigabytes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P = 2 ** 15, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
MAX_N = 2 ** 20  # what verify accepts from a stored hash: at most 1 GiB at r=8
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # hashing a megabyte of "password" is work for nothing


def _maxmem(n: int, r: int, p: int) -> int:
    """OpenSSL's limit must exceed scrypt's need (128·r·N, plus 128·r·p); twice it is room."""
    return 2 * 128 * r * (n + p) + (1 << 20)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=_maxmem(n, r, p), dklen=length)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """A new salted hash of `password`, in the stored form above."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, N, R, P, KEY_BYTES)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored`; False (never an exception) for a malformed hash."""
    try:
        scheme, n_s, r_s, p_s, salt_s, key_s = stored.split("$")
        n, r, p = int(n_s), int(r_s), int(p_s)
        salt, key = base64.b64decode(salt_s, validate=True), base64.b64decode(key_s, validate=True)
    except (ValueError, AttributeError):
        return False
    if scheme != "scrypt" or not (2 <= n <= MAX_N and n & (n - 1) == 0) \
            or not (1 <= r <= 32 and 1 <= p <= 16) or not (16 <= len(key) <= 64) or not salt:
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(key)), key)


# Verified against when a name is unknown, so an unknown name takes as long as a wrong password.
DUMMY_HASH = "scrypt$32768$8$1$" + _b64(b"\0" * SALT_BYTES) + "$" + _b64(b"\0" * KEY_BYTES)


def check_new_password(password: str) -> str:
    """`password` if acceptable as a new one, else ValueError with the reason."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise ValueError(f"a password has at most {MAX_PASSWORD} characters")
    return password


def new_password() -> str:
    """A random password for a new account (the first start's `admin`): 16 characters."""
    return secrets.token_urlsafe(12)
