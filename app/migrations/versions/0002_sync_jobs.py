"""Sync jobs and their files (`POST /api/v1/sync`), persisted so interrupted jobs resume.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_job",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tag_id", sa.Integer(), sa.ForeignKey("tag.id", ondelete="CASCADE"), nullable=False),
        sa.Column("location", sa.String(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("started_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_utc", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_sync_job_tag_id", "sync_job", ["tag_id"])
    op.create_index("ix_sync_job_status", "sync_job", ["status"])
    op.create_table(
        "sync_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("job_id", sa.String(32), sa.ForeignKey("sync_job.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("record_id", sa.String(32), sa.ForeignKey("record.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("file_name", sa.String(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("hash_md5", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("bytes_done", sa.BigInteger(), nullable=False),
        sa.Column("bytes_sent", sa.BigInteger(), nullable=False),
        sa.Column("sync_location", sa.String(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
    )
    op.create_index("ix_sync_item_job_id", "sync_item", ["job_id"])
    op.create_index("ix_sync_item_record_id", "sync_item", ["record_id"])


def downgrade() -> None:
    op.drop_table("sync_item")
    op.drop_table("sync_job")
