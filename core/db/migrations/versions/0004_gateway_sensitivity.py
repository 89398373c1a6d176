"""Gateways say how weak a signal they still report (`sensitivity_dbm`, their receiver sensitivity).

Positioning models the loud-biased means of gateways that hear a tag near that level. Nullable: a gateway
without one uses the site-wide `ASSET_TAG_GATEWAY_SENSITIVITY_DBM`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("gateways", sa.Column("sensitivity_dbm", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gateways") as batch:  # SQLite drops columns by copying the table
        batch.drop_column("sensitivity_dbm")
