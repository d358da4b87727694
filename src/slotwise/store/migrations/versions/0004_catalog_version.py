"""catalog version: a counter per organisation that every change to its catalog raises

Revision ID: 0004
Revises: 0003

Processes cache an organisation's catalog (services, requirements, sequence rules, resources,
locations, schedules) keyed by this counter, which readers get with the organisation's row.
Triggers raise it, so no write path (the API, a migration, an operator's SQL) can change the
catalog behind a cache's back.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CATALOG_TABLES = ("locations", "location_schedules", "resources", "schedules",
                  "schedule_overrides", "services", "service_requirements", "sequence_rules")
_OPERATIONS = {"INSERT": "NEW", "UPDATE": "NEW", "DELETE": "OLD"}


def upgrade() -> None:
    op.add_column("organisations", sa.Column("catalog_version", sa.BigInteger(),
                                             nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION slotwise_bump_catalog() RETURNS trigger AS $$
            BEGIN
                UPDATE organisations SET catalog_version = catalog_version + 1
                WHERE id = (CASE WHEN TG_OP = 'DELETE' THEN OLD.org_id ELSE NEW.org_id END);
                RETURN NULL;
            END $$ LANGUAGE plpgsql
        """)
        for table in CATALOG_TABLES:
            op.execute(f"CREATE TRIGGER {table}_bump_catalog "
                       f"AFTER INSERT OR UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION slotwise_bump_catalog()")
        return
    for table in CATALOG_TABLES:
        for operation, row in _OPERATIONS.items():
            op.execute(f"CREATE TRIGGER {table}_bump_catalog_{operation.lower()} "
                       f"AFTER {operation} ON {table} BEGIN "
                       f"UPDATE organisations SET catalog_version = catalog_version + 1 "
                       f"WHERE id = {row}.org_id; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in CATALOG_TABLES:
            op.execute(f"DROP TRIGGER {table}_bump_catalog ON {table}")
        op.execute("DROP FUNCTION slotwise_bump_catalog()")
    else:
        for table in CATALOG_TABLES:
            for operation in _OPERATIONS:
                op.execute(f"DROP TRIGGER {table}_bump_catalog_{operation.lower()}")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("catalog_version")
