"""lifecycle: what a pending booking waits for and until when, its meeting link, its
iCalendar sequence and failure reason; customers' locale and no-show count; a service's
meeting provider

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bookings") as batch:
        batch.add_column(sa.Column("awaiting", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("pending_until", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("meeting", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("sequence", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("failure_reason", sa.Text(), nullable=True))
    # The fixer looks for faults among recently changed bookings (app/fixer.py).
    op.create_index("ix_bookings_updated_at", "bookings", ["updated_at"])
    op.create_index("ix_bookings_pending_until", "bookings", ["pending_until"],
                    sqlite_where=sa.text("pending_until IS NOT NULL"),
                    postgresql_where=sa.text("pending_until IS NOT NULL"))
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("locale", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("no_shows", sa.Integer(), nullable=False,
                                   server_default="0"))
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("meeting_provider", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("approval_after_no_shows", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.drop_column("approval_after_no_shows")
        batch.drop_column("meeting_provider")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("no_shows")
        batch.drop_column("locale")
    op.drop_index("ix_bookings_pending_until", "bookings")
    op.drop_index("ix_bookings_updated_at", "bookings")
    with op.batch_alter_table("bookings") as batch:
        for column in ("failure_reason", "sequence", "meeting", "pending_until", "awaiting"):
            batch.drop_column(column)
