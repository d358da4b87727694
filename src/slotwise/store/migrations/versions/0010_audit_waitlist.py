"""audit and waitlist: the append-only, hash-chained audit log; waitlist entries

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("chain", sa.String(length=48), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=80), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("undo", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.UniqueConstraint("chain", "seq", name="uq_audit_log_chain_seq"),
    )
    op.create_index("ix_audit_log_org_id", "audit_log", ["org_id"])
    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("org_id", sa.String(length=40), sa.ForeignKey("organisations.id"),
                  nullable=False),
        sa.Column("service_id", sa.String(length=40), sa.ForeignKey("services.id"),
                  nullable=False),
        sa.Column("customer_id", sa.String(length=40), sa.ForeignKey("customers.id"),
                  nullable=False),
        sa.Column("range_start", sa.BigInteger(), nullable=False),
        sa.Column("range_end", sa.BigInteger(), nullable=False),
        sa.Column("resource_ids", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("offer_start", sa.BigInteger(), nullable=True),
        sa.Column("offer_hold_id", sa.String(length=40), nullable=True),
        sa.Column("offer_token_hash", sa.String(length=64), nullable=True),
        sa.Column("offer_expires_at", sa.BigInteger(), nullable=True),
        sa.Column("booking_id", sa.String(length=40), nullable=True),
        sa.Column("line", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_waitlist_entries_service", "waitlist_entries",
                    ["org_id", "service_id", "state", "line"])


def downgrade() -> None:
    op.drop_table("waitlist_entries")
    op.drop_table("audit_log")
