"""Operator features (#16): a source's optional preview stream (`uri_preview`, a second,
smaller stream of the same camera for the wall) and snapshot URL (`uri_snapshot`, the picture
a tile shows before the first frame), both encrypted at rest like `uri_rtsp`; and bookmarks:
moments an operator marked on a source.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source") as batch:
        batch.add_column(sa.Column("uri_preview", sa.String(), nullable=True))
        batch.add_column(sa.Column("uri_snapshot", sa.String(), nullable=True))
    op.create_table(
        "bookmark",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("source.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("source_name", sa.String(length=255), nullable=False),
        sa.Column("time_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("note", sa.String(), nullable=True),
    )
    op.create_index("ix_bookmark_source_id", "bookmark", ["source_id"])
    op.create_index("ix_bookmark_time_utc", "bookmark", ["time_utc"])


def downgrade() -> None:
    op.drop_index("ix_bookmark_time_utc", table_name="bookmark")
    op.drop_index("ix_bookmark_source_id", table_name="bookmark")
    op.drop_table("bookmark")
    with op.batch_alter_table("source") as batch:
        batch.drop_column("uri_snapshot")
        batch.drop_column("uri_preview")
