"""The unacknowledged events by severity (#23 item 4): the window's status bar counts the
unacknowledged alarms after every change of an event (`EventService.count`). Without an index
that count reads the whole event table (408 ms at a million events, most of them info and
motion events nobody acknowledges); with this partial index it reads only the unacknowledged
alarms (1.3 ms).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_event_unacknowledged", "event", ["severity"],
                    sqlite_where=sa.text("acknowledged_at IS NULL"),
                    postgresql_where=sa.text("acknowledged_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_event_unacknowledged", table_name="event")
