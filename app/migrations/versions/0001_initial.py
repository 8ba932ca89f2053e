"""Initial catalog: sources, groups and membership, tags, records.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("model", sa.String(32), nullable=False),
        sa.Column("uri_rtsp", sa.String(), nullable=True),
        sa.Column("uri_http_picture", sa.JSON(), nullable=True),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("ffmpeg_cmd", sa.String(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_source_name", "source", ["name"], unique=True)
    op.create_table(
        "group",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
    )
    op.create_index("ix_group_name", "group", ["name"], unique=True)
    op.create_table(
        "group_source",
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("group.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("source.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "tag",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
    )
    op.create_index("ix_tag_name", "tag", ["name"], unique=True)
    op.create_table(
        "record",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("begin_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("source.id", ondelete="SET NULL"), nullable=True),
        sa.Column("tag_id", sa.Integer(), sa.ForeignKey("tag.id"), nullable=False),
        sa.Column("model", sa.String(32), nullable=False),
        sa.Column("hash_md5", sa.String(32), nullable=True),
        sa.Column("location", sa.String(), nullable=True),
        sa.Column("sync_location", sa.String(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("source_snapshot", sa.JSON(), nullable=True),
        sa.Column("running_key", sa.String(64), nullable=True),
        sa.UniqueConstraint("running_key", name="uq_record_running_key"),
    )
    op.create_index("ix_record_status", "record", ["status"])
    op.create_index("ix_record_source_id", "record", ["source_id"])
    op.create_index("ix_record_tag_id", "record", ["tag_id"])


def downgrade() -> None:
    op.drop_table("record")
    op.drop_table("tag")
    op.drop_table("group_source")
    op.drop_table("group")
    op.drop_table("source")
