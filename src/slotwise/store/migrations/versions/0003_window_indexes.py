"""window indexes: busy time is found by (organisation, resource, end of range)

Revision ID: 0003
Revises: 0002

The busy-time queries ask for the ranges of some resources of one organisation with
``start < window end`` and ``end > window start``. Two things went wrong with the indexes of
0001 (resource, start, end) beside the single-column org_id ones:

- SQLite (no statistics) preferred the equality on ``org_id`` and scanned every allocation,
  block and held row of the organisation; PostgreSQL scanned the table. An index that leads
  with ``org_id`` and then ``resource_id`` serves strictly more of the query, so both choose it.
- Ordered by start, a range scan runs from the resource's very first range up to the
  window's end: it grows with all the history a resource has ever had. Ordered by end, it
  starts at the window's start and runs on over the resource's later ranges only (future
  bookings, bounded by how far ahead one can book), and the start condition is checked in the
  index, so only the window's rows are fetched. The SQLite overlap triggers, which look for
  ranges overlapping a new one on its resource, get the same bound.

The old (resource, start, end) indexes are replaced: nothing reads by start alone. So are the
single-column org_id indexes of these three tables: the new ones lead with org_id and serve
any lookup by it, and PostgreSQL kept choosing the org_id index (every row of the
organisation, filtered) over the window index.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_INDEXES = (
    # table, old index, old columns, new index, new columns
    ("allocations", "ix_allocations_resource_range", ["resource_id", "blocked_start", "blocked_end"],
     "ix_allocations_window", ["org_id", "resource_id", "blocked_end", "blocked_start"]),
    ("blocks", "ix_blocks_resource_range", ["resource_id", "start_at", "end_at"],
     "ix_blocks_window", ["org_id", "resource_id", "end_at", "start_at"]),
    ("held_resources", "ix_held_resources_resource_range",
     ["resource_id", "blocked_start", "blocked_end"],
     "ix_held_resources_window", ["org_id", "resource_id", "blocked_end", "blocked_start"]),
)


def upgrade() -> None:
    for table, old, _old_columns, new, new_columns in _INDEXES:
        op.create_index(new, table, new_columns)
        op.drop_index(old, table_name=table)
        op.drop_index(f"ix_{table}_org_id", table_name=table)


def downgrade() -> None:
    for table, old, old_columns, new, _new_columns in _INDEXES:
        op.create_index(f"ix_{table}_org_id", table, ["org_id"])
        op.create_index(old, table, old_columns)
        op.drop_index(new, table_name=table)
