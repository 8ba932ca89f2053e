"""The audit trail: one row per state change asked of the station (app.services.audit).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("time_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dialect", sa.String(32), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("who", sa.String(128), nullable=False),
        sa.Column("action", sa.String(255), nullable=False),
        sa.Column("target", sa.String(512), nullable=True),
        sa.Column("result", sa.String(64), nullable=False),
    )
    # The purge deletes by time; listings go by id (the primary key), newest first.
    op.create_index("ix_audit_entry_time_utc", "audit_entry", ["time_utc"])


def downgrade() -> None:
    op.drop_table("audit_entry")
