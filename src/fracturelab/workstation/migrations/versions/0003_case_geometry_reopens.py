"""Levels and image size of a case (to check answers against), and reopens of a reading.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``cases.levels``, ``cases.width_px``, ``cases.height_px``, ``readings.reopen_count``."""
    op.add_column("cases", sa.Column("levels", sa.JSON(), nullable=True))
    op.add_column("cases", sa.Column("width_px", sa.Integer(), nullable=True))
    op.add_column("cases", sa.Column("height_px", sa.Integer(), nullable=True))
    op.add_column(
        "readings",
        sa.Column("reopen_count", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    """Drop the four columns."""
    with op.batch_alter_table("readings") as batch:
        batch.drop_column("reopen_count")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("height_px")
        batch.drop_column("width_px")
        batch.drop_column("levels")
