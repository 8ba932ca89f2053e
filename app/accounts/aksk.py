"""Huawei AK/SK pairs of user accounts (#26): the credentials of the Huawei Live and RTC
dialects, each pair belonging to a user, so an SDK call acts as that user (their role, their
scope, their name in the audit trail) instead of as the whole site.

An access key (AK) is 20 upper-case letters and digits, like Huawei Cloud's; it names the pair
and travels in clear in every signed request. The secret key (SK), 40 letters and digits
(~238 random bits), is shown once, when the pair is made. The catalog keeps it encrypted with
the station's credentials key (`app.credentials.EncryptedText`, the column type of a source's
password), not hashed: checking an `SDK-HMAC-SHA256` signature means computing the HMAC with
the SK itself. A copied catalog without the key gives nobody a pair.

`secret_for` answers the SK and the identity only while the user is enabled and not expired,
so disabling a user stops their pairs on the next request, on every station of the site.

The settings' single pair (`huawei_ak`/`huawei_sk`) stays the site's service credential
(admin-equivalent, like the station token). `adopt_configured` files it under the first admin
(name `configured pair`) so it shows in that admin's list and the requests signed with it are
audited as `admin (ak <AK>)` while that admin is enabled; see api.huawei.common.authenticate.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select

from app.identity import Identity
from app.accounts.models import User, UserAkSk, utcnow
from app.accounts.roles import ADMIN
from app.accounts.service import FIRST_ADMIN, AccountError, as_utc
from app.catalog import Catalog
from app.credentials import is_unreadable

AK_LENGTH, SK_LENGTH = 20, 40
MAX_AK_LENGTH = 64  # longer is no key of ours (a configured pair may be any Huawei AK)
MAX_KEYS_PER_USER = 10
CONFIGURED_NAME = "configured pair"
LAST_USED_EVERY_S = 300.0  # how stale `last_used_utc` may be (a write per request is not)
_AK_ALPHABET = string.ascii_uppercase + string.digits
_SK_ALPHABET = string.ascii_letters + string.digits


class AkSkOut(BaseModel):
    """A pair as listed: the access key, never the secret."""

    access_key: str
    name: str
    created_utc: datetime
    last_used_utc: datetime | None


class IssuedAkSk(AkSkOut):
    """A pair just made: the only answer that carries its secret key."""

    secret_key: str


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _out(row: UserAkSk) -> AkSkOut:
    return AkSkOut(access_key=row.access_key, name=row.name,
                   created_utc=as_utc(row.created_utc),
                   last_used_utc=as_utc(row.last_used_utc))


def check_key_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64 or not name.isprintable():
        raise AccountError("an access key's name has 1-64 printable characters")
    return name


class AkSkService:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self._touched: dict[str, float] = {}  # AK -> monotonic time its last use was written
        self._lock = threading.Lock()

    def create(self, user_id: int, name: str) -> IssuedAkSk:
        """A new pair for the user; its secret key is in this answer only."""
        name = check_key_name(name)
        for _ in range(3):  # 20 characters of 36: a clash is not expected, only tolerated
            access_key = _random(_AK_ALPHABET, AK_LENGTH)
            secret_key = _random(_SK_ALPHABET, SK_LENGTH)
            try:
                with self.catalog.session() as s:
                    if s.get(User, user_id) is None:
                        raise AccountError("no such user")
                    count = s.exec(select(func.count()).select_from(UserAkSk)
                                   .where(UserAkSk.user_id == user_id)).one()
                    if count >= MAX_KEYS_PER_USER:
                        raise AccountError(f"a user has at most {MAX_KEYS_PER_USER} access keys")
                    row = UserAkSk(user_id=user_id, access_key=access_key,
                                   secret_key=secret_key, name=name)
                    s.add(row)
                    s.flush()
                    out = _out(row)
            except IntegrityError:
                continue
            return IssuedAkSk(**out.model_dump(), secret_key=secret_key)
        raise AccountError("could not make a unique access key: try again")

    def list(self, user_id: int) -> list[AkSkOut]:
        with self.catalog.session() as s:
            rows = s.exec(select(UserAkSk).where(UserAkSk.user_id == user_id)
                          .order_by(UserAkSk.id)).all()
            return [_out(row) for row in rows]

    def revoke(self, user_id: int, access_key: str) -> AkSkOut | None:
        """Remove the user's pair; None when the user has no such AK."""
        if len(access_key) > MAX_AK_LENGTH:
            return None
        with self.catalog.session() as s:
            row = s.exec(select(UserAkSk).where(UserAkSk.access_key == access_key,
                                                UserAkSk.user_id == user_id)).first()
            if row is None:
                return None
            out = _out(row)
            s.delete(row)
        with self._lock:
            self._touched.pop(access_key, None)
        return out

    def secret_for(self, access_key: str) -> tuple[str, Identity] | None:
        """The secret key of `access_key` and who signs with it; None for an unknown AK, a
        disabled or expired user, or an SK this station's credentials key cannot open."""
        if not access_key or len(access_key) > MAX_AK_LENGTH:
            return None
        with self.catalog.session() as s:
            found = s.exec(select(UserAkSk, User).join(User, User.id == UserAkSk.user_id)
                           .where(UserAkSk.access_key == access_key)).first()
            if found is None:
                return None
            row, user = found
            if not user.enabled or user.expired or is_unreadable(row.secret_key):
                return None
            assert user.id is not None
            identity = Identity(user_id=user.id, name=user.name, role=user.role,
                                groups=None if user.scope is None else tuple(user.scope),
                                via=f"ak {row.access_key}")
            return row.secret_key, identity

    def mark_used(self, access_key: str) -> None:
        """Note that a request signed with `access_key` was accepted (at most one write per
        pair every LAST_USED_EVERY_S by this station)."""
        now = time.monotonic()
        with self._lock:
            last = self._touched.get(access_key)
            if last is not None and now - last < LAST_USED_EVERY_S:
                return
            self._touched[access_key] = now
        with self.catalog.session() as s:
            row = s.exec(select(UserAkSk).where(UserAkSk.access_key == access_key)).first()
            if row is not None:
                row.last_used_utc = utcnow()
                s.add(row)

    def adopt_configured(self, access_key: str | None, secret_key: str | None) -> bool:
        """File the settings' pair under the first admin (`admin`, else the enabled admin made
        first) unless a pair with that AK exists already; True when it was filed now. The
        settings keep the pair: it works as before whatever happens to this row."""
        if not (access_key and secret_key) or len(access_key) > MAX_AK_LENGTH:
            return False
        try:
            with self.catalog.session() as s:
                if s.exec(select(UserAkSk.id).where(UserAkSk.access_key == access_key)).first():
                    return False
                admin = s.exec(select(User).where(User.name == FIRST_ADMIN,
                                                  User.role == ADMIN)).first() \
                    or s.exec(select(User).where(User.role == ADMIN,
                                                 User.enabled == True)  # noqa: E712
                              .order_by(User.id)).first()
                if admin is None or admin.id is None:
                    return False
                s.add(UserAkSk(user_id=admin.id, access_key=access_key, secret_key=secret_key,
                               name=CONFIGURED_NAME))
        except IntegrityError:  # another station of the site filed it meanwhile
            return False
        return True
