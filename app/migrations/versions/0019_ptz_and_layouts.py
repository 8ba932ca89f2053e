"""The operator's wall (#27): a source's ONVIF control endpoint (`source.onvif`: the device's
PTZ and media service addresses, its profile token, what it can do, its login; encrypted like
the other addresses, since it holds a password) and named layouts of the wall (`layout`),
shared by the stations of a site.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source") as batch:
        batch.add_column(sa.Column("onvif", sa.JSON(), nullable=True))
    op.create_table(
        "layout",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("shape", sa.String(16), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_utc", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_layout_name", "layout", ["name"], unique=True)


def downgrade() -> None:
    op.drop_table("layout")
    with op.batch_alter_table("source") as batch:
        batch.drop_column("onvif")
