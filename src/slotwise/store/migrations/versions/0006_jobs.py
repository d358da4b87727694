"""jobs: the embedded job queue, job errors, procrastinate's schema on PostgreSQL, and an
index for the outbox relay

Revision ID: 0006
Revises: 0005

Procrastinate's `apply_schema` is not idempotent, so its schema is applied here, once, and
versioned with ours. A later procrastinate release that changes its schema ships migration
files (procrastinate/sql/migrations); apply them in a migration of ours like this one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_unpublished", "outbox", ["seq"],
                    sqlite_where=sa.text("published_at IS NULL"),
                    postgresql_where=sa.text("published_at IS NULL"))
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.String(length=40), nullable=True),
        sa.Column("task", sa.String(length=100), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("scheduled_at", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_jobs_org_id", "jobs", ["org_id"])
    op.create_index("ix_jobs_due", "jobs", ["state", "scheduled_at"])
    op.create_table(
        "job_errors",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
    )
    op.create_index("ix_job_errors_job_id", "job_errors", ["job_id"])
    if op.get_bind().dialect.name == "postgresql":
        from procrastinate.schema import SchemaManager

        # The raw driver: the schema's '%' and ':' are SQL, not parameter markers.
        driver = op.get_bind().connection.dbapi_connection
        assert driver is not None
        driver.cursor().execute(SchemaManager.get_schema())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        raise NotImplementedError("procrastinate's schema has no downgrade")
    op.drop_table("job_errors")
    op.drop_table("jobs")
    op.drop_index("ix_outbox_unpublished", "outbox")
