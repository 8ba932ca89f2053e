"""Accounts: create, change a password, disable and enable, list, verify a sign-in.

The one place the rules of an account live (the command line and, later, the API and the GUI
call it): a name is 1-64 characters of [a-z0-9._-], taken lower-case so `Admin` and `admin`
are one name; a role is admin, operator or viewer; a password has at least 8 characters and
is kept only as a scrypt hash (app.accounts.passwords). No answer of this service carries a
hash: `list` and the others return `UserOut`.

`verify` takes as long for an unknown name as for a wrong password (it hashes against a dummy
hash), so timing does not tell which names exist; a disabled or expired account is refused
after the same work.

Roles and scopes are stored here but not yet enforced anywhere (#26 item 2, in progress).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Sequence

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select

from app.accounts.models import ROLES, User, utcnow
from app.accounts.passwords import (DUMMY_HASH, check_new_password, hash_password, new_password,
                                    verify_password)
from app.catalog import Catalog
from app.services.audit import AuditService

log = logging.getLogger(__name__)

NAME = re.compile(r"[a-z0-9._-]{1,64}")
FIRST_ADMIN = "admin"


class AccountError(ValueError):
    """A refused account operation, with a reason fit to show the operator."""


class UserOut(BaseModel):
    """An account as shown: everything but the password hash."""

    id: int
    name: str
    display_name: str | None
    role: str
    scope: list[int] | None
    enabled: bool
    expires_utc: datetime | None
    created_utc: datetime
    updated_utc: datetime


def user_out(row: User) -> UserOut:
    assert row.id is not None
    return UserOut(id=row.id, name=row.name, display_name=row.display_name, role=row.role,
                   scope=row.scope, enabled=row.enabled, expires_utc=_utc(row.expires_utc),
                   created_utc=_utc(row.created_utc), updated_utc=_utc(row.updated_utc))


def _utc(when: datetime | None) -> datetime | None:
    if when is not None and when.tzinfo is None:  # SQLite gives naive datetimes: they are UTC
        return when.replace(tzinfo=timezone.utc)
    return when


def check_name(name: str) -> str:
    """`name` lower-cased, if it is a valid account name; else AccountError."""
    folded = name.strip().lower()
    if not NAME.fullmatch(folded):
        raise AccountError("a user name is 1-64 characters of a-z, 0-9, '.', '_' and '-'")
    return folded


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"a role is one of {', '.join(ROLES)}")
    return role


def check_scope(scope: Sequence[int] | None) -> list[int] | None:
    if scope is None:
        return None
    if isinstance(scope, (str, bytes)) or not all(
            isinstance(g, int) and not isinstance(g, bool) and g > 0 for g in scope):
        raise AccountError("a scope is a list of group ids (or none: every source)")
    return sorted(set(scope))


class AccountService:
    def __init__(self, catalog: Catalog, audit: AuditService | None = None):
        self.catalog, self.audit = catalog, audit

    # --- reading ----------------------------------------------------------------------
    def list(self) -> list[UserOut]:
        with self.catalog.session() as s:
            return [user_out(row) for row in s.exec(select(User).order_by(User.name)).all()]

    def get(self, name: str) -> UserOut | None:
        row = self._row(name)
        return None if row is None else user_out(row)

    def count(self) -> int:
        with self.catalog.session() as s:
            return s.exec(select(func.count()).select_from(User)).one()

    def verify(self, name: str, password: str) -> UserOut | None:
        """The account `name` signs in as with `password`, or None: unknown, wrong password,
        disabled or expired (one answer for all, and the same scrypt work for all)."""
        try:
            row = self._row(check_name(name))
        except AccountError:
            row = None
        ok = verify_password(password[:1024], row.password_hash if row else DUMMY_HASH)
        if row is None or not ok or not row.enabled or row.expired:
            return None
        return user_out(row)

    # --- changing -----------------------------------------------------------------------
    def create(self, name: str, password: str, *, role: str = "viewer",
               display_name: str | None = None, scope: Sequence[int] | None = None,
               expires_utc: datetime | None = None, who: str = "system") -> UserOut:
        name, role = check_name(name), check_role(role)
        scope = check_scope(scope)
        try:
            check_new_password(password)
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        if display_name is not None and (len(display_name) > 255
                                         or not display_name.isprintable()):
            raise AccountError("a display name has at most 255 printable characters")
        row = User(name=name, display_name=display_name, role=role, scope=scope,
                   password_hash=hash_password(password), expires_utc=expires_utc)
        try:
            with self.catalog.session() as s:
                s.add(row)
        except IntegrityError:
            raise AccountError(f"a user named {name!r} exists already") from None
        self._audit(who, "create user", name)
        return user_out(row)

    def set_password(self, name: str, password: str, *, who: str = "system") -> UserOut:
        try:
            check_new_password(password)
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        hashed = hash_password(password)
        out = self._change(name, who, "change password", password_hash=hashed)
        return out

    def disable(self, name: str, *, who: str = "system") -> UserOut:
        return self._change(name, who, "disable user", enabled=False)

    def enable(self, name: str, *, who: str = "system") -> UserOut:
        return self._change(name, who, "enable user", enabled=True)

    def ensure_first_admin(self) -> str | None:
        """On a catalog without any account, create `admin` with a random password and
        return that password (the caller shows it once; it is kept nowhere else); None when
        an account exists. Stations starting together on one catalog: the unique name lets
        only the first one create it."""
        if self.count():
            return None
        password = new_password()
        try:
            self.create(FIRST_ADMIN, password, role="admin", display_name="Administrator",
                        who="first start")
        except AccountError:  # another station of the site made it meanwhile
            return None
        log.info("first start: created the account %r (its password is shown on the console "
                 "once)", FIRST_ADMIN)
        return password

    # --- internals ----------------------------------------------------------------------
    def _row(self, name: str) -> User | None:
        with self.catalog.session() as s:
            return s.exec(select(User).where(User.name == name.lower())).first()

    def _change(self, name: str, who: str, action: str, **values) -> UserOut:
        name = check_name(name)
        with self.catalog.session() as s:
            row = s.exec(select(User).where(User.name == name)).first()
            if row is None:
                raise AccountError(f"no user named {name!r}")
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_utc = utcnow()
            s.add(row)
        self._audit(who, action, name)
        return user_out(row)

    def _audit(self, who: str, action: str, name: str) -> None:
        if self.audit is not None:
            self.audit.record(dialect="local", address="local", who=who, action=action,
                              target=f"user {name}", result="ok")
