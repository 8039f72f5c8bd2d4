"""PostgreSQL keeps each signed delivery as it is, out of line: no compression.

A delivery (2.6 KB in the samples) is over PostgreSQL's TOAST threshold (about 2 KB a
row), so by default the server compressed every one as it was stored, on the webhook's
path. Stored uncompressed and out of line, a batch of 6 new steps took 0.78 ms against
1.38 ms (p50, the store alone), and the steps row itself stays small for the lists'
scans. Rows stored before keep their form; SQLite has no such setting.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE steps ALTER COLUMN delivery SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE steps ALTER COLUMN delivery SET STORAGE EXTENDED")
