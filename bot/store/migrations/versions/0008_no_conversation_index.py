"""Drops the index of steps by conversation: no query has ever looked a step up by its
conversation (a step is found by its own id, or listed by state and time), and each new
step wrote an entry into it on the webhook's path, on a page of its own when steps of
many conversations arrive interleaved.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_steps_conversation", "steps")


def downgrade() -> None:
    op.create_index("ix_steps_conversation", "steps", ["conversation_id"])
