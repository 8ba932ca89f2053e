"""Sessions and personal API tokens: the bearer credentials of user accounts.

A token is `rs_` and 43 characters of 256 random bits, handed out once; the catalog keeps its
SHA-256 only (app.accounts.models.UserToken). Checking one (`identify`) reads the token and its
user in one query and refuses a disabled or expired account or an expired token at once, so a
disabled user's sessions stop working on the next request, on every station of the site.

A session lasts `SESSION_HOURS`; a personal token until its optional expiry. A personal token
may be capped at a lower role than its user's (a viewer's token for a wall script made by an
admin); it never has more than its user, even after the user's role is lowered.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlmodel import select

from app.identity import Identity
from app.accounts.models import User, UserToken, utcnow
from app.accounts.roles import RANK
from app.accounts.service import AccountError, as_utc, check_name
from app.catalog import Catalog

PREFIX = "rs_"
SESSION_HOURS = 12.0
LAST_USED_EVERY = timedelta(minutes=5)  # how stale `last_used_utc` may be (a write per request is not)
MAX_TOKENS_PER_USER = 100
SESSION, PERSONAL = "session", "personal"


class TokenOut(BaseModel):
    """A token as listed: never the secret, nor its hash."""

    id: int
    user_id: int
    kind: str
    name: str
    role: str | None
    created_utc: datetime
    expires_utc: datetime | None
    last_used_utc: datetime | None


class IssuedToken(TokenOut):
    """A token just made: the only answer that carries it."""

    token: str


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _out(row: UserToken) -> TokenOut:
    assert row.id is not None
    return TokenOut(id=row.id, user_id=row.user_id, kind=row.kind, name=row.name, role=row.role,
                    created_utc=as_utc(row.created_utc), expires_utc=as_utc(row.expires_utc),
                    last_used_utc=as_utc(row.last_used_utc))


def _lower(a: str, b: str | None) -> str:
    return a if b is None or RANK[a] <= RANK.get(b, 0) else b


class TokenService:
    def __init__(self, catalog: Catalog, *, session_hours: float = SESSION_HOURS):
        self.catalog, self.session_hours = catalog, session_hours

    def issue(self, user_id: int, *, kind: str = SESSION, name: str = SESSION,
              role: str | None = None, expires_utc: datetime | None = None) -> IssuedToken:
        """A new token for the user; a session expires after `session_hours`."""
        if kind == SESSION:
            expires_utc = utcnow() + timedelta(hours=self.session_hours)
        name = name.strip()
        if not name or len(name) > 64 or not name.isprintable():
            raise AccountError("a token's name has 1-64 printable characters")
        if role is not None and role not in RANK:
            raise AccountError(f"a role is one of {', '.join(RANK)}")
        token = PREFIX + secrets.token_urlsafe(32)
        with self.catalog.session() as s:
            if s.get(User, user_id) is None:
                raise AccountError("no such user")
            mine = s.exec(select(UserToken).where(UserToken.user_id == user_id)
                          .order_by(UserToken.created_utc)).all()
            expired = [t for t in mine if _gone(t)]
            for old in expired:
                s.delete(old)
            live = [t for t in mine if t not in expired]
            if kind == PERSONAL and sum(t.kind == PERSONAL for t in live) >= MAX_TOKENS_PER_USER:
                raise AccountError(f"a user has at most {MAX_TOKENS_PER_USER} personal tokens")
            sessions = [t for t in live if t.kind == SESSION]
            for old in sessions[:max(0, len(sessions) - MAX_TOKENS_PER_USER + 1)]:
                s.delete(old)  # the oldest sessions go first: signing in never fails on count
            row = UserToken(user_id=user_id, kind=kind, name=name, role=role,
                            token_hash=digest(token), expires_utc=expires_utc)
            s.add(row)
            s.flush()
            out = _out(row)
        return IssuedToken(**out.model_dump(), token=token)

    def identify(self, token: str) -> Identity | None:
        """The user a bearer token acts as, or None (unknown, expired, user disabled or
        expired). Not a token of ours (no prefix): None without asking the catalog."""
        if not token.startswith(PREFIX) or len(token) > 128:
            return None
        with self.catalog.session() as s:
            found = s.exec(select(UserToken, User).join(User, User.id == UserToken.user_id)
                           .where(UserToken.token_hash == digest(token))).first()
            if found is None:
                return None
            row, user = found
            if _gone(row) or not user.enabled or user.expired:
                return None
            now = utcnow()
            if row.last_used_utc is None or as_utc(row.last_used_utc) < now - LAST_USED_EVERY:
                row.last_used_utc = now
                s.add(row)
        via = SESSION if row.kind == SESSION else f"token {row.name}"
        return Identity(user_id=user.id, name=user.name, role=_lower(user.role, row.role),
                        groups=None if user.scope is None else tuple(user.scope), via=via,
                        token_id=row.id)

    def identity_of_user(self, user_id: int, via: str) -> Identity | None:
        """The identity another station acts for (app.identity): the user as the
        shared catalog has them now, or None (unknown, disabled, expired)."""
        with self.catalog.session() as s:
            user = s.get(User, user_id)
        if user is None or not user.enabled or user.expired:
            return None
        return Identity(user_id=user_id, name=user.name, role=user.role,
                        groups=None if user.scope is None else tuple(user.scope), via=via)

    def identity_named(self, name: str, via: str) -> Identity | None:
        """The identity of the account `name` (MQTT's `mqtt_user`, Device Connect's
        `dc_user`), or None (unknown, disabled, expired)."""
        try:
            user_id = self.user_id(name)
        except AccountError:
            return None
        return None if user_id is None else self.identity_of_user(user_id, via)

    def list(self, user_id: int) -> list[TokenOut]:
        with self.catalog.session() as s:
            rows = s.exec(select(UserToken).where(UserToken.user_id == user_id)
                          .order_by(UserToken.id)).all()
            return [_out(row) for row in rows if not _gone(row)]

    def revoke(self, user_id: int, token_id: int) -> TokenOut | None:
        with self.catalog.session() as s:
            row = s.get(UserToken, token_id)
            if row is None or row.user_id != user_id:
                return None
            s.delete(row)
            return _out(row)

    def revoke_all(self, user_id: int) -> int:
        """Every session and token of the user (a reset password, a disabled account)."""
        with self.catalog.session() as s:
            rows = s.exec(select(UserToken).where(UserToken.user_id == user_id)).all()
            for row in rows:
                s.delete(row)
            return len(rows)

    def user_id(self, name: str) -> int | None:
        with self.catalog.session() as s:
            row = s.exec(select(User).where(User.name == check_name(name))).first()
            return None if row is None else row.id


def _gone(row: UserToken) -> bool:
    return row.expires_utc is not None and as_utc(row.expires_utc) <= utcnow()
