"""Records for unattended operation (#12): a `protected` flag retention never deletes,
the recording's `gaps` as data, and when and why retention deleted a record's file.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN on SQLite: a NOT NULL column needs a default for the rows already there.
    op.add_column("record", sa.Column("protected", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.add_column("record", sa.Column("gaps", sa.JSON(), nullable=True))
    op.add_column("record", sa.Column("deleted_utc", sa.DateTime(timezone=True), nullable=True))
    op.add_column("record", sa.Column("deleted_reason", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("record") as batch:
        for name in ("deleted_reason", "deleted_utc", "gaps", "protected"):
            batch.drop_column(name)
