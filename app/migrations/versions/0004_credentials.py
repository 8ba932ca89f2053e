"""Credentials encrypted at rest: no schema change.

The secret-bearing columns (source.uri_rtsp, source.uri_http_picture) keep their SQL types;
their values become Fernet tokens written through app.credentials' column types. Rows written
before this revision are plaintext: the catalog re-writes them encrypted on open (it holds the
key, which Alembic does not), and record snapshots are re-written masked the same way.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
