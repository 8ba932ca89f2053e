"""One audit vocabulary: each entry's action is a name (`start recording`, `create source` ...)
whatever the door, and the API's entries keep what was asked, the method and route pattern,
in a new `detail` column (app.services.audit).

Entries written before are renamed in place: an API entry's `METHOD /route` moves to
`detail` and its action becomes the route's name (the table below, frozen as the routes were
at this revision); a route that named no single action (Huawei Live's START/STOP, Device
Connect's one dispatcher, no route at all) becomes `unnamed request`. GUI entries already
spoke the vocabulary and stay as they are.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

NAMED = {
    "POST /api/v1/source": "create source",
    "PUT /api/v1/source/{source_id}": "update source",
    "DELETE /api/v1/source/{source_id}": "delete source",
    "POST /api/v1/group": "create group",
    "DELETE /api/v1/group/{group_id}": "delete group",
    "POST /api/v1/group/{group_id}/source/{source_id}": "add source to group",
    "DELETE /api/v1/group/{group_id}/source/{source_id}": "remove source from group",
    "POST /api/v1/record": "start recording",
    "POST /api/v1/record/sources": "start recording",
    "PUT /api/v1/record": "stop recording",
    "DELETE /api/v1/record/{record_id}/file": "delete file",
    "POST /api/v1/sync": "start sync",
    "PUT /api/v1/upload/{upload_id}": "receive upload",
    "POST /api/v1/upload/{upload_id}/finish": "finish upload",
    "POST /api/v1/bookmark": "create bookmark",
    "PUT /api/v1/bookmark/{bookmark_id}": "update bookmark",
    "DELETE /api/v1/bookmark/{bookmark_id}": "delete bookmark",
    "POST /api/v1/discovery": "discover cameras",
    "POST /api/v1/discovery/profiles": "read camera profiles",
    "POST /v2/apps/{app_id}/individual-stream-jobs": "start recording",
    "PUT /v2/apps/{app_id}/individual-stream-jobs/{job_id}": "update recording job",
    "DELETE /v2/apps/{app_id}/individual-stream-jobs/{job_id}": "stop recording",
}
METHODS = ("POST ", "PUT ", "PATCH ", "DELETE ")


def upgrade() -> None:
    op.add_column("audit_entry", sa.Column("detail", sa.String(255), nullable=True))
    entry = sa.table("audit_entry", sa.column("action", sa.String), sa.column("detail", sa.String))
    asked = sa.or_(*(entry.c.action.startswith(m) for m in METHODS))
    for old, name in NAMED.items():
        op.execute(entry.update().where(entry.c.action == old)
                   .values(detail=entry.c.action, action=name))
    op.execute(entry.update().where(asked, entry.c.detail.is_(None))
               .values(detail=entry.c.action, action="unnamed request"))


def downgrade() -> None:
    entry = sa.table("audit_entry", sa.column("action", sa.String), sa.column("detail", sa.String))
    op.execute(entry.update().where(entry.c.detail.is_not(None)).values(action=entry.c.detail))
    with op.batch_alter_table("audit_entry") as batch:
        batch.drop_column("detail")
