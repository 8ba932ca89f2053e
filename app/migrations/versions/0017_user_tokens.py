"""Sessions and personal API tokens of user accounts (#26 item 3): only a token's SHA-256 is
stored; a user's tokens go with the user (ON DELETE CASCADE).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_token",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user_account.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_utc", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_user_token_user_id", "user_token", ["user_id"])
    op.create_index("ix_user_token_token_hash", "user_token", ["token_hash"], unique=True)


def downgrade() -> None:
    op.drop_table("user_token")
