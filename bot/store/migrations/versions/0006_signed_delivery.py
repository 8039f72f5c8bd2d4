"""A delivered step keeps Intercom's body exactly as signed; its `Step` is read from it.

Until now the webhook built the whole `Step` (every text field, every message part, the
nested models) before answering, which cost about half of its CPU. Now it checks what
decides a refusal or a verdict, stores the body and the verdict (`unanswerable`), and
the step is built when it is read. `step_json` stays for the steps the bot makes itself
(`/hitl test`) and for steps stored before this revision, so it may now be empty.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("steps") as batch:
        batch.add_column(sa.Column("delivery", sa.LargeBinary, nullable=True))
        batch.add_column(sa.Column("unanswerable", sa.Text, nullable=True))
        batch.alter_column("step_json", existing_type=sa.Text, nullable=True)


def downgrade() -> None:
    # A step stored from its delivery has no step_json an earlier version could read:
    # downgrading needs each rebuilt first, which only this version can do.
    op.execute("DELETE FROM steps WHERE step_json IS NULL")
    with op.batch_alter_table("steps") as batch:
        batch.alter_column("step_json", existing_type=sa.Text, nullable=False)
        batch.drop_column("unanswerable")
        batch.drop_column("delivery")
