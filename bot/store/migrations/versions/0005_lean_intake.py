"""A webhook writes one row: the step is its own outbox for being posted, its expiry is
swept from an index over open steps, and the indexes over columns a new step leaves empty
hold only the rows that have them.

Until now each step came with a post job and an expire job (two rows and four index
entries), and SQLite and PostgreSQL both index NULLs, so every webhook also wrote entries
for who answered it and when it settled. Waiting post and expire jobs move onto their
steps; a post job already tried keeps its count, so its retry looks for a message an
earlier attempt may have posted.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# name → (columns, the rows it keeps)
_PARTIAL = {
    "ix_steps_answered_by": (["answered_by", "received_at"], "answered_by IS NOT NULL"),
    "ix_steps_settled_at": (["settled_at"], "settled_at IS NOT NULL"),
    "ix_steps_procedure_settled": (["procedure_name", "settled_at"], "settled_at IS NOT NULL"),
}
_NEW = {
    "ix_steps_post_at": (["post_at"], "post_at IS NOT NULL"),
    "ix_steps_open_expiry": (
        ["expires_at"],
        "state IN ('received', 'posted') AND expires_at IS NOT NULL",
    ),
}


def _partial(name: str, columns: list[str], where: str) -> None:
    op.create_index(name, "steps", columns, sqlite_where=text(where), postgresql_where=text(where))


def upgrade() -> None:
    with op.batch_alter_table("steps") as batch:
        batch.add_column(sa.Column("post_at", sa.Float, nullable=True))
        batch.add_column(sa.Column("post_locked_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("post_locked_until", sa.Float, nullable=True))
        batch.add_column(sa.Column("post_attempts", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("post_error", sa.Text, nullable=True))
    for name, (columns, where) in _PARTIAL.items():
        op.drop_index(name, "steps")
        _partial(name, columns, where)
    for name, (columns, where) in _NEW.items():
        _partial(name, columns, where)
    op.execute(
        """
        UPDATE steps SET
            post_at = (SELECT MIN(j.run_at) FROM jobs j
                       WHERE j.step_id = steps.step_id AND j.kind = 'post'),
            post_attempts = (SELECT COALESCE(MAX(j.attempts), 0) FROM jobs j
                             WHERE j.step_id = steps.step_id AND j.kind = 'post')
        WHERE step_id IN (SELECT step_id FROM jobs WHERE kind = 'post')
        """
    )
    op.execute("DELETE FROM jobs WHERE kind IN ('post', 'expire')")


def downgrade() -> None:
    op.execute(
        """
        INSERT INTO jobs (step_id, kind, run_at, attempts, created_at)
        SELECT step_id, 'post', post_at, post_attempts, received_at FROM steps
        WHERE post_at IS NOT NULL
        """
    )
    op.execute(
        """
        INSERT INTO jobs (step_id, kind, run_at, attempts, created_at)
        SELECT step_id, 'expire', expires_at, 0, received_at FROM steps
        WHERE state IN ('received', 'posted') AND expires_at IS NOT NULL
        """
    )
    for name in _NEW:
        op.drop_index(name, "steps")
    for name, (columns, _) in _PARTIAL.items():
        op.drop_index(name, "steps")
        op.create_index(name, "steps", columns)
    with op.batch_alter_table("steps") as batch:
        for column in ("post_error", "post_attempts", "post_locked_until", "post_locked_by"):
            batch.drop_column(column)
        batch.drop_column("post_at")
