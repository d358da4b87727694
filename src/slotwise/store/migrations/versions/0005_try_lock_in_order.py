"""try locks in order: a function that takes advisory locks in the given order, stopping at
the first one another transaction holds

Revision ID: 0005
Revises: 0004

Writers lock their resources in one global (sorted) order, so they never deadlock. A writer
that first *tries* its locks, to learn without waiting whether anyone else is writing there,
must keep that order too: had it taken a later key while an earlier one was busy, it could
then wait for the earlier key's holder while that holder waits for the later key. This
function takes keys in the given order and stops at the first one it cannot get, so what a
writer holds is always a prefix of its sorted keys. PostgreSQL only: SQLite serialises writers.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION slotwise_try_locks_in_order(ns integer, keys integer[])
        RETURNS boolean AS $$
        DECLARE
            key integer;
        BEGIN
            FOREACH key IN ARRAY keys LOOP
                IF NOT pg_try_advisory_xact_lock(ns, key) THEN
                    RETURN false;
                END IF;
            END LOOP;
            RETURN true;
        END $$ LANGUAGE plpgsql VOLATILE
    """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION slotwise_try_locks_in_order(integer, integer[])")
