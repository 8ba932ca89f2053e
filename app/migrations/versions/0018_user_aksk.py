"""Huawei AK/SK pairs of user accounts (#26, the Huawei Live and RTC dialects): the secret key
is stored encrypted with the station's credentials key (a signature check needs the SK itself,
so it cannot be a hash); a user's pairs go with the user (ON DELETE CASCADE). The single pair
of the settings (`huawei_ak`/`huawei_sk`) is copied to `admin` on start, not here: a migration
does not read the settings (app.accounts.aksk.AkSkService.adopt_configured).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_aksk",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user_account.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("access_key", sa.String(64), nullable=False),
        sa.Column("secret_key", sa.String(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_utc", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_user_aksk_user_id", "user_aksk", ["user_id"])
    op.create_index("ix_user_aksk_access_key", "user_aksk", ["access_key"], unique=True)


def downgrade() -> None:
    op.drop_table("user_aksk")
