"""One event model (#23 item 3): the `event` table of app.alarms, written by each station for
its own sources and listed by every station of the site.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source_id", sa.Integer(),
                  sa.ForeignKey("source.id", ondelete="SET NULL"), nullable=True),
        sa.Column("station_id", sa.String(64), nullable=True),
        sa.Column("begin", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("text", sa.String(1024), nullable=False),
        sa.Column("caused_by", sa.String(128), nullable=True),
        sa.Column("acknowledged_by", sa.String(128), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
    )
    op.create_index("ix_event_kind", "event", ["kind"])
    op.create_index("ix_event_source_begin", "event", ["source_id", "begin"])
    # The open events: what the watchers close and the GUI counts.
    op.create_index("ix_event_open", "event", ["end"], sqlite_where=sa.text('"end" IS NULL'),
                    postgresql_where=sa.text('"end" IS NULL'))


def downgrade() -> None:
    op.drop_table("event")
