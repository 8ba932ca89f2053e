"""User accounts (#26 item 1): people with a name, a role, a scope and a password hash,
shared by every station of the catalog. Names are stored lower-case ([a-z0-9._-]), so the
unique index makes them unique whatever their case. No row is written here: the first start
of a station creates `admin` (app.accounts.service.AccountService.ensure_first_admin).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("expires_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_utc", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_user_account_name", "user_account", ["name"], unique=True)


def downgrade() -> None:
    op.drop_table("user_account")
