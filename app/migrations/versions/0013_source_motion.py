"""Motion detection settings per source (#24): `source_motion`, one row per source that has
settings of its own (app.motion: vision.settings.MotionSettings as JSON). A source without a
row runs with the defaults, so existing sources need no row.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_motion",
        sa.Column("source_id", sa.Integer(),
                  sa.ForeignKey("source.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("settings", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("source_motion")
