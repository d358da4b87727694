"""calendars: connections to external calendars, busy time imported as blocks, exported
events, and private per-resource ICS feeds

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_connections",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("org_id", sa.String(length=40), sa.ForeignKey("organisations.id"),
                  nullable=False),
        sa.Column("resource_id", sa.String(length=40), sa.ForeignKey("resources.id"),
                  nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("calendar_id", sa.String(length=2048), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("credentials", sa.JSON(), nullable=False),
        sa.Column("import_busy", sa.Boolean(), nullable=False),
        sa.Column("export_bookings", sa.Boolean(), nullable=False),
        sa.Column("poll_s", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sync_token", sa.Text(), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_sync_at", sa.BigInteger(), nullable=True),
        sa.Column("last_success_at", sa.BigInteger(), nullable=True),
        sa.Column("last_full_at", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("last_error_at", sa.BigInteger(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("sync_due_at", sa.BigInteger(), nullable=True),
        sa.Column("channel_id", sa.String(length=200), nullable=True, unique=True),
        sa.Column("channel", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_calendar_connections_org_id", "calendar_connections", ["org_id"])
    op.add_column("blocks", sa.Column("connection_id", sa.String(length=40), nullable=True))
    op.add_column("blocks", sa.Column("external_key", sa.String(length=1024), nullable=True))
    op.create_index("uq_blocks_external", "blocks", ["connection_id", "external_key"],
                    unique=True)
    op.create_table(
        "calendar_exports",
        sa.Column("connection_id", sa.String(length=40),
                  sa.ForeignKey("calendar_connections.id"), primary_key=True),
        sa.Column("booking_id", sa.String(length=40), sa.ForeignKey("bookings.id"),
                  primary_key=True),
        sa.Column("org_id", sa.String(length=40), sa.ForeignKey("organisations.id"),
                  nullable=False),
        sa.Column("external_id", sa.String(length=2048), nullable=False),
        sa.Column("etag", sa.String(length=500), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_calendar_exports_booking", "calendar_exports",
                    ["org_id", "booking_id"])
    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("org_id", sa.String(length=40), sa.ForeignKey("organisations.id"),
                  nullable=False),
        sa.Column("resource_id", sa.String(length=40), sa.ForeignKey("resources.id"),
                  nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_calendar_feeds_resource", "calendar_feeds", ["org_id", "resource_id"])


def downgrade() -> None:
    op.drop_table("calendar_feeds")
    op.drop_table("calendar_exports")
    op.drop_index("uq_blocks_external", "blocks")
    with op.batch_alter_table("blocks") as batch:
        batch.drop_column("external_key")
        batch.drop_column("connection_id")
    op.drop_table("calendar_connections")
