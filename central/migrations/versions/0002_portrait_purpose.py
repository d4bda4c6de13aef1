"""portraits.purpose: referral review or foreign-national record

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("portraits", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=24), nullable=False, server_default="referral")
        )


def downgrade() -> None:
    with op.batch_alter_table("portraits", schema=None) as batch_op:
        batch_op.drop_column("purpose")
