"""rules: location hours and rules, resource rules, breaks, limits, sequence rules, roles

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _rule_columns(with_location_only: bool) -> list[sa.Column[object]]:
    columns: list[sa.Column[object]] = []
    if with_location_only:
        columns += [
            sa.Column("buffer_before_min", sa.Integer(), nullable=False, server_default="0"),
            sa.Column("buffer_after_min", sa.Integer(), nullable=False, server_default="0"),
            sa.Column("requires_approval", sa.Boolean(), nullable=False,
                      server_default=sa.false()),
        ]
    return [
        *columns,
        sa.Column("min_notice_min", sa.Integer(), nullable=True),
        sa.Column("max_advance_days", sa.Integer(), nullable=True),
        sa.Column("max_per_day", sa.Integer(), nullable=True),
        sa.Column("max_per_week", sa.Integer(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("locations") as batch:
        for column in _rule_columns(with_location_only=True):
            batch.add_column(column)
    with op.batch_alter_table("resources") as batch:
        for column in _rule_columns(with_location_only=False):
            batch.add_column(column)
    with op.batch_alter_table("schedules") as batch:
        batch.add_column(sa.Column("breaks", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("requires_approval", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("max_per_day", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_per_week", sa.Integer(), nullable=True))
    with op.batch_alter_table("service_requirements") as batch:
        batch.add_column(sa.Column("optional", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("mode", sa.String(length=8), nullable=False,
                                   server_default="any"))
        batch.add_column(sa.Column("weights", sa.JSON(), nullable=False, server_default="{}"))

    op.create_table(
        "location_schedules",
        sa.Column("location_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("weekly", sa.JSON(), nullable=False),
        sa.Column("breaks", sa.JSON(), nullable=False),
        sa.Column("overrides", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"],
                                name=op.f("fk_location_schedules_location_id_locations")),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"],
                                name=op.f("fk_location_schedules_org_id_organisations")),
        sa.PrimaryKeyConstraint("location_id", name=op.f("pk_location_schedules")),
    )
    op.create_index(op.f("ix_location_schedules_org_id"), "location_schedules", ["org_id"])

    op.create_table(
        "sequence_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("service_id", sa.String(length=40), nullable=False),
        sa.Column("other_service_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("within_min", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"],
                                name=op.f("fk_sequence_rules_org_id_organisations")),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"],
                                name=op.f("fk_sequence_rules_service_id_services")),
        sa.ForeignKeyConstraint(["other_service_id"], ["services.id"],
                                name=op.f("fk_sequence_rules_other_service_id_services")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sequence_rules")),
    )
    op.create_index(op.f("ix_sequence_rules_org_id"), "sequence_rules", ["org_id"])
    op.create_index(op.f("ix_sequence_rules_service_id"), "sequence_rules", ["service_id"])
    op.create_index(op.f("ix_sequence_rules_other_service_id"), "sequence_rules",
                    ["other_service_id"])


def downgrade() -> None:
    op.drop_table("sequence_rules")
    op.drop_table("location_schedules")
    with op.batch_alter_table("service_requirements") as batch:
        for name in ("weights", "mode", "optional"):
            batch.drop_column(name)
    with op.batch_alter_table("services") as batch:
        for name in ("max_per_week", "max_per_day", "requires_approval"):
            batch.drop_column(name)
    with op.batch_alter_table("schedules") as batch:
        batch.drop_column("breaks")
    with op.batch_alter_table("resources") as batch:
        for name in ("max_per_week", "max_per_day", "max_advance_days", "min_notice_min"):
            batch.drop_column(name)
    with op.batch_alter_table("locations") as batch:
        for name in ("max_per_week", "max_per_day", "max_advance_days", "min_notice_min",
                     "requires_approval", "buffer_after_min", "buffer_before_min"):
            batch.drop_column(name)
