"""payments: bookings' payments, refunds, fees and the webhook events applied; a service's
payment mode; deposits on services and resources; cancellation policies on services,
resources and locations

Revision ID: 0008
Revises: 0007

Deposits and policies are JSON in `engine.policies`' forms (a policy always in its full form,
so a stored policy never changes when a preset is redefined).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _org() -> sa.Column[str]:
    return sa.Column("org_id", sa.String(length=40), sa.ForeignKey("organisations.id"),
                     nullable=False)


def upgrade() -> None:
    # Plain ADD COLUMNs (no table copy on SQLite), so the catalog triggers of 0004 stay.
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("payment", sa.String(length=16), nullable=False,
                                   server_default="none"))
        batch.add_column(sa.Column("deposit", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("cancellation_policy", sa.JSON(), nullable=True))
    with op.batch_alter_table("resources") as batch:
        batch.add_column(sa.Column("deposit", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("cancellation_policy", sa.JSON(), nullable=True))
    with op.batch_alter_table("locations") as batch:
        batch.add_column(sa.Column("cancellation_policy", sa.JSON(), nullable=True))

    op.create_table(
        "payments",
        sa.Column("id", sa.String(length=40), primary_key=True),
        _org(),
        sa.Column("booking_id", sa.String(length=40), sa.ForeignKey("bookings.id"),
                  nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("client_secret", sa.String(length=255), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("last_event_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("booking_id", name="uq_payments_booking_id"),
        # Several NULL external ids (payments not yet started) never clash, on both dialects.
        sa.UniqueConstraint("gateway", "external_id", name="uq_payments_gateway_external_id"),
    )
    op.create_index("ix_payments_org_id", "payments", ["org_id"])

    op.create_table(
        "refunds",
        sa.Column("id", sa.String(length=40), primary_key=True),
        _org(),
        sa.Column("payment_id", sa.String(length=40), sa.ForeignKey("payments.id"),
                  nullable=False),
        sa.Column("booking_id", sa.String(length=40), sa.ForeignKey("bookings.id"),
                  nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("key", name="uq_refunds_key"),
    )
    op.create_index("ix_refunds_org_id", "refunds", ["org_id"])
    op.create_index("ix_refunds_payment_id", "refunds", ["payment_id"])

    op.create_table(
        "payment_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _org(),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("gateway", "event_id", name="uq_payment_events_gateway_event_id"),
    )
    op.create_index("ix_payment_events_org_id", "payment_events", ["org_id"])

    op.create_table(
        "fees",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _org(),
        sa.Column("booking_id", sa.String(length=40), sa.ForeignKey("bookings.id"),
                  nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("due_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("booking_id", "kind", name="uq_fees_booking_id"),
    )
    op.create_index("ix_fees_org_id", "fees", ["org_id"])


def downgrade() -> None:
    for table in ("fees", "payment_events", "refunds", "payments"):
        op.drop_table(table)
    with op.batch_alter_table("locations") as batch:
        batch.drop_column("cancellation_policy")
    with op.batch_alter_table("resources") as batch:
        batch.drop_column("cancellation_policy")
        batch.drop_column("deposit")
    with op.batch_alter_table("services") as batch:
        for column in ("cancellation_policy", "deposit", "payment"):
            batch.drop_column(column)
