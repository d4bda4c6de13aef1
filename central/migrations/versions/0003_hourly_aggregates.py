"""hourly_stats and hourly_lane: what the statistics keep once the purge deleted the rows

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hourly_stats",
        sa.Column("hour", sa.Double(), nullable=False),
        sa.Column("lane_id", sa.String(length=64), nullable=False),
        sa.Column("port", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("passages", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("durations", sa.Text(), nullable=False),
        sa.Column("face_counts", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "lane_id", "port", "direction", "decision"),
    )
    op.create_table(
        "hourly_lane",
        sa.Column("hour", sa.Double(), nullable=False),
        sa.Column("lane_id", sa.String(length=64), nullable=False),
        sa.Column("faults", sa.Text(), nullable=False),
        sa.Column("down_seconds", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "lane_id"),
    )


def downgrade() -> None:
    op.drop_table("hourly_lane")
    op.drop_table("hourly_stats")
