"""conflicts: bookings an external event, a block or a schedule change landed on

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conflicts",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("org_id", sa.String(length=40), sa.ForeignKey("organisations.id"),
                  nullable=False),
        sa.Column("booking_id", sa.String(length=40), sa.ForeignKey("bookings.id"),
                  nullable=False),
        sa.Column("resource_id", sa.String(length=40), sa.ForeignKey("resources.id"),
                  nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("cause_ref", sa.String(length=64), nullable=False),
        sa.Column("start_at", sa.BigInteger(), nullable=False),
        sa.Column("end_at", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_conflicts_list", "conflicts", ["org_id", "status", "start_at", "id"])
    op.create_index("ix_conflicts_booking", "conflicts", ["org_id", "booking_id"])
    op.create_index("ix_conflicts_resource", "conflicts", ["org_id", "resource_id", "status"])
    # One open conflict per (booking, resource, cause reference); closed ones are history.
    op.create_index("uq_conflicts_open", "conflicts", ["booking_id", "resource_id", "cause_ref"],
                    unique=True, sqlite_where=sa.text("status = 'open'"),
                    postgresql_where=sa.text("status = 'open'"))


def downgrade() -> None:
    op.drop_table("conflicts")
