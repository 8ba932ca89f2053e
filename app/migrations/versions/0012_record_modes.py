"""Recording modes (#23 items 1 and 2): what a source records by itself (`record_mode`,
`record_schedule`, `record_tag`: app.record_modes) and retention per source and per tag
(`retention_days` on both, over the station's). Existing sources stay `manual`: nothing
records that did not before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("source", sa.Column("record_mode", sa.String(16), nullable=False,
                                      server_default="manual"))
    op.add_column("source", sa.Column("record_schedule", sa.JSON(), nullable=True))
    op.add_column("source", sa.Column("record_tag", sa.String(255), nullable=True))
    op.add_column("source", sa.Column("retention_days", sa.Integer(), nullable=True))
    op.add_column("tag", sa.Column("retention_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tag") as batch:
        batch.drop_column("retention_days")
    with op.batch_alter_table("source") as batch:
        batch.drop_column("retention_days")
        batch.drop_column("record_tag")
        batch.drop_column("record_schedule")
        batch.drop_column("record_mode")
