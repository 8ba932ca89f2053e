"""The audit trail speaks names (#25 item 6): each entry keeps the ids of the sources it
touched in `source_ids` (`,6,9,`: a filter by source matches `,6,` whatever the target's
wording — a source, a record of it, a bookmark on it), and `detail` grows to 1024 characters
for each dialect's own terms (a Huawei Live `action=START app=… stream=…`, a Device Connect
`profile=… attribute=… serviceId=…`). Entries written before have no source ids: the text
of their targets still matches the search box.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_entry") as batch:
        batch.add_column(sa.Column("source_ids", sa.String(255), nullable=True))
        batch.alter_column("detail", type_=sa.String(1024), existing_type=sa.String(255),
                           existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("audit_entry") as batch:
        batch.alter_column("detail", type_=sa.String(255), existing_type=sa.String(1024),
                           existing_nullable=True)
        batch.drop_column("source_ids")
