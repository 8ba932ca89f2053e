"""The site's credentials key, checked: one row holding a check value of the key that
encrypts the catalog's credentials (an HMAC of a fixed label keyed by it, never the key).

The first station to open the catalog with this revision writes the row
(`app.credentials.check_site_key`); every station opening it later must hold a key with the
same check value, or it refuses to start, saying which key it has and where the site's is
named. Nothing is written here: a migration does not know the key.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credentials_key",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("check_value", sa.String(length=64), nullable=False),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("credentials_key")
