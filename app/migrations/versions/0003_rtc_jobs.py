"""Huawei SparkRTC individual stream jobs, persisted so a job outlives a restart.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rtc_job",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("app_id", sa.String(255), nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("source.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("record_id", sa.String(32), sa.ForeignKey("record.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("stream_name", sa.String(1024), nullable=False),
        sa.Column("is_record_audio", sa.Boolean(), nullable=False),
        sa.Column("video_type", sa.String(16), nullable=False),
        sa.Column("select_stream_type", sa.String(8), nullable=False),
        sa.Column("max_idle_time", sa.Integer(), nullable=False),
        sa.Column("publish_param", sa.JSON(), nullable=True),
        sa.Column("record_param", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("stop_reason", sa.String(32), nullable=True),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_time", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_rtc_job_app_id", "rtc_job", ["app_id"])
    op.create_index("ix_rtc_job_record_id", "rtc_job", ["record_id"])
    op.create_index("ix_rtc_job_state", "rtc_job", ["state"])


def downgrade() -> None:
    op.drop_table("rtc_job")
