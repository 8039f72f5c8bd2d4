"""Count of thread reminders posted per step; indexes for the Home tab and `/hitl stats`.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "steps",
        sa.Column("reminders_sent", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_steps_answered_by", "steps", ["answered_by", "received_at"])
    op.create_index("ix_steps_settled_at", "steps", ["settled_at"])


def downgrade() -> None:
    op.drop_index("ix_steps_settled_at", "steps")
    op.drop_index("ix_steps_answered_by", "steps")
    with op.batch_alter_table("steps") as batch:
        batch.drop_column("reminders_sent")
