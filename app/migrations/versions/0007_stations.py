"""Several stations on one catalog (#15): the `station` registry, and which station owns
each source (reads and records it), holds each record's file and runs each sync job.

Rows from before have no owner (NULL): the first station to start on the catalog adopts them
(`StationRegistry.register`), which is what a single station expects.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "station",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("started_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("source_status", sa.JSON(), nullable=True),
        sa.Column("disk", sa.JSON(), nullable=True),
    )
    with op.batch_alter_table("source") as batch:
        batch.add_column(sa.Column("station_id", sa.String(length=64), nullable=True))
        batch.create_index("ix_source_station_id", ["station_id"])
    with op.batch_alter_table("record") as batch:
        batch.add_column(sa.Column("station_id", sa.String(length=64), nullable=True))
        batch.create_index("ix_record_station_id", ["station_id"])
    with op.batch_alter_table("sync_job") as batch:
        batch.add_column(sa.Column("station_id", sa.String(length=64), nullable=True))
        batch.create_index("ix_sync_job_station_id", ["station_id"])


def downgrade() -> None:
    with op.batch_alter_table("sync_job") as batch:
        batch.drop_index("ix_sync_job_station_id")
        batch.drop_column("station_id")
    with op.batch_alter_table("record") as batch:
        batch.drop_index("ix_record_station_id")
        batch.drop_column("station_id")
    with op.batch_alter_table("source") as batch:
        batch.drop_index("ix_source_station_id")
        batch.drop_column("station_id")
    op.drop_table("station")
