"""Zone events say why: the rule that decided (`reason`) and its evidence (depth, accuracy, margin).

A person checking a surprising enter or exit against the floor plan needs to know whether the tag was clearly
inside, lingered by a wall or was moved by entering the next room, and how far inside its fix was. All four
columns are nullable: events stored before this revision have no explanation.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("reason", "depth_m", "accuracy_m", "margin_m")


def upgrade() -> None:
    op.add_column("zone_events", sa.Column("reason", sa.String(length=16), nullable=True))
    for name in COLUMNS[1:]:
        op.add_column("zone_events", sa.Column(name, sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("zone_events") as batch:  # SQLite drops columns by copying the table
        for name in reversed(COLUMNS):
            batch.drop_column(name)
