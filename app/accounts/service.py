"""Accounts: create, change a password, disable and enable, list, verify a sign-in.

The one place the rules of an account live (the command line and, later, the API and the GUI
call it): a name is 1-64 characters of [a-z0-9._-], taken lower-case so `Admin` and `admin`
are one name; a role is admin, operator or viewer; a password has at least 8 characters and
is kept only as a scrypt hash (app.accounts.passwords). No answer of this service carries a
hash: `list` and the others return `UserOut`.

`verify` takes as long for an unknown name as for a wrong password (it hashes against a dummy
hash), so timing does not tell which names exist; a disabled or expired account is refused
after the same work.

Roles are applied by every door through `app.accounts.roles`, scopes through
`app.accounts.scope`; sessions and personal tokens are `app.accounts.tokens`.

`who` names the caller for the audit trail; None when the door that called writes the entry
itself (the API's guard audits every state change it serves).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Sequence

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select

from app.accounts.models import ROLES, User, UserToken, utcnow
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
                   scope=row.scope, enabled=row.enabled, expires_utc=as_utc(row.expires_utc),
                   created_utc=as_utc(row.created_utc), updated_utc=as_utc(row.updated_utc))


def as_utc(when: datetime | None) -> datetime | None:
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


def check_display_name(display_name: str) -> str:
    if len(display_name) > 255 or not display_name.isprintable():
        raise AccountError("a display name has at most 255 printable characters")
    return display_name


class AccountService:
    def __init__(self, catalog: Catalog, audit: AuditService | None = None):
        self.catalog, self.audit = catalog, audit

    # --- reading ----------------------------------------------------------------------
    def list(self) -> list[UserOut]:
        with self.catalog.session() as s:
            return [user_out(row) for row in s.exec(select(User).order_by(User.name)).all()]

    def by_id(self, user_id: int) -> UserOut | None:
        with self.catalog.session() as s:
            row = s.get(User, user_id)
            return None if row is None else user_out(row)

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
               expires_utc: datetime | None = None, who: str | None = "system") -> UserOut:
        name, role = check_name(name), check_role(role)
        scope = check_scope(scope)
        try:
            check_new_password(password)
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        if display_name is not None:
            check_display_name(display_name)
        row = User(name=name, display_name=display_name, role=role, scope=scope,
                   password_hash=hash_password(password), expires_utc=expires_utc)
        try:
            with self.catalog.session() as s:
                s.add(row)
        except IntegrityError:
            raise AccountError(f"a user named {name!r} exists already") from None
        self._audit(who, "create user", name)
        return user_out(row)

    def set_password(self, name: str, password: str, *, who: str | None = "system") -> UserOut:
        try:
            check_new_password(password)
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        hashed = hash_password(password)
        out = self._change(name, who, "change password", password_hash=hashed)
        self._end_sessions(out.id)  # whoever knew the old password is signed out everywhere
        return out

    def disable(self, name: str, *, who: str | None = "system") -> UserOut:
        self._keep_an_admin(name)
        out = self._change(name, who, "disable user", enabled=False)
        self._end_sessions(out.id)
        return out

    def enable(self, name: str, *, who: str | None = "system") -> UserOut:
        return self._change(name, who, "enable user", enabled=True)

    def update(self, name: str, *, who: str | None = "system", **changes) -> UserOut:
        """Change `display_name`, `role`, `scope` or `expires_utc` (only those given). The
        last enabled admin cannot be made less than admin (nobody could manage accounts)."""
        allowed = {"display_name", "role", "scope", "expires_utc"}
        if set(changes) - allowed:
            raise AccountError(f"only {', '.join(sorted(allowed))} can change here")
        if "role" in changes:
            changes["role"] = check_role(changes["role"])
            if changes["role"] != "admin":
                self._keep_an_admin(name)
        if "scope" in changes:
            changes["scope"] = check_scope(changes["scope"])
        if changes.get("display_name") is not None:
            check_display_name(changes["display_name"])
        return self._change(name, who, "update user", **changes)

    def delete(self, name: str, *, who: str | None = "system") -> UserOut:
        """Remove an account with its sessions and tokens (its audit entries keep its name).
        The last enabled admin cannot be removed."""
        name = check_name(name)
        self._keep_an_admin(name)
        with self.catalog.session() as s:
            row = s.exec(select(User).where(User.name == name)).first()
            if row is None:
                raise AccountError(f"no user named {name!r}")
            out = user_out(row)
            for token in s.exec(select(UserToken).where(UserToken.user_id == row.id)).all():
                s.delete(token)
            s.delete(row)
        self._audit(who, "delete user", name)
        return out

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
    def _keep_an_admin(self, name: str) -> None:
        """Refuse to take away the last enabled admin (by role change, disable or delete)."""
        with self.catalog.session() as s:
            admins = s.exec(select(User.name).where(User.role == "admin",
                                                    User.enabled == True)).all()  # noqa: E712
        if list(admins) == [check_name(name)]:
            raise AccountError("the last enabled admin cannot be removed, disabled or demoted")

    def _end_sessions(self, user_id: int) -> None:
        with self.catalog.session() as s:
            for token in s.exec(select(UserToken).where(UserToken.user_id == user_id,
                                                        UserToken.kind == "session")).all():
                s.delete(token)

    def _row(self, name: str) -> User | None:
        with self.catalog.session() as s:
            return s.exec(select(User).where(User.name == name.lower())).first()

    def _change(self, name: str, who: str | None, action: str, **values) -> UserOut:
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

    def _audit(self, who: str | None, action: str, name: str) -> None:
        if self.audit is not None and who is not None:
            self.audit.record(dialect="local", address="local", who=who, action=action,
                              target=f"user {name}", result="ok")
