"""The `user_account` table (migration 0016). Named so rather than `user`, a reserved word in
PostgreSQL. A name is stored lower-case and may only hold [a-z0-9._-], so its unique index
makes names unique whatever their case (`Admin` is `admin`)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.credentials import EncryptedText

ROLES = ("admin", "operator", "viewer")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class User(SQLModel, table=True):
    """A person (or a script) who signs in. `scope` None: every source; else the ids of the
    groups whose sources the user may see (stored, not yet enforced: #26 item 2)."""

    __tablename__ = "user_account"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    display_name: str | None = Field(default=None, max_length=255)
    role: str = Field(default="viewer", max_length=16, nullable=False)
    scope: list[int] | None = Field(default=None, sa_column=Column(JSON))
    password_hash: str = Field(max_length=255, nullable=False)
    enabled: bool = Field(default=True, nullable=False)
    expires_utc: datetime | None = None
    created_utc: datetime = Field(default_factory=utcnow, nullable=False)
    updated_utc: datetime = Field(default_factory=utcnow, nullable=False)

    @property
    def expired(self) -> bool:
        if self.expires_utc is None:
            return False
        expires = self.expires_utc
        if expires.tzinfo is None:  # SQLite hands naive datetimes back: they are UTC
            expires = expires.replace(tzinfo=timezone.utc)
        return expires <= utcnow()


class UserToken(SQLModel, table=True):
    """A bearer credential of a user (migration 0017): a `session` from signing in with a
    password, or a `personal` token an admin or the user made for a script (named, optionally
    capped at a lower `role`, shown once). Only its SHA-256 is kept: a token is 256 random bits,
    so a fast hash cannot be searched, and a stolen catalog gives nobody a way in. Revoking
    deletes the row; deleting the user deletes its tokens."""

    __tablename__ = "user_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=16, nullable=False)
    name: str = Field(max_length=64, nullable=False)
    role: str | None = Field(default=None, max_length=16)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    created_utc: datetime = Field(default_factory=utcnow, nullable=False)
    expires_utc: datetime | None = None
    last_used_utc: datetime | None = None


class UserAkSk(SQLModel, table=True):
    """A Huawei AK/SK pair of a user (migration 0018), for the Huawei Live and RTC dialects'
    `SDK-HMAC-SHA256` signatures. Unlike a token, the secret key cannot be kept as a hash:
    checking a signature means computing the HMAC with the SK itself. So it is stored
    encrypted with the station's credentials key (`EncryptedText`, like a source's password):
    a copied catalog without the key gives nobody a pair. The user's pairs go with the user."""

    __tablename__ = "user_aksk"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    access_key: str = Field(index=True, unique=True, max_length=64)
    secret_key: str = Field(sa_column=Column(EncryptedText, nullable=False))
    name: str = Field(max_length=64, nullable=False)
    created_utc: datetime = Field(default_factory=utcnow, nullable=False)
    last_used_utc: datetime | None = None
