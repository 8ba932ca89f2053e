"""Motion grids (#28): one row per source and busy minute (`motion_minute`), the seconds with
motion as a bitmap and their grids zlib-compressed (app.motion_search.grids). Quiet minutes
have no row. Goes with its source.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "motion_minute",
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("source.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("minute_s", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("station_id", sa.String(64), nullable=True),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
        sa.Column("cells", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("motion_minute")
