"""Conflicts: bookings something landed on."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, RowMapping

from slotwise.domain.conflicts import (
    Conflict,
    ConflictCause,
    ConflictFilter,
    ConflictStatus,
)
from slotwise.store.tables import conflicts
from slotwise.store.types import one_of

_c = conflicts.c
_OPEN = ConflictStatus.OPEN.value


class SqlConflicts:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def open(self, conflict: Conflict) -> tuple[Conflict, bool]:
        dialect_insert = pg_insert if self._c.dialect.name == "postgresql" else sqlite_insert
        # ON CONFLICT on the partial unique index: a concurrent detector's row wins quietly
        # and this transaction stays usable.
        query = dialect_insert(conflicts).values(_values(conflict)).on_conflict_do_nothing(
            index_elements=[_c.booking_id, _c.resource_id, _c.cause_ref],
            index_where=text("status = 'open'")).returning(_c.id)
        if self._c.execute(query).first() is not None:
            return conflict, True
        found = self._select(_c.org_id == conflict.org_id, _c.booking_id == conflict.booking_id,
                             _c.resource_id == conflict.resource_id,
                             _c.cause_ref == conflict.cause_ref, _c.status == _OPEN)
        return found[0], False

    def get(self, org_id: str, conflict_id: str) -> Conflict | None:
        found = self._select(_c.org_id == org_id, _c.id == conflict_id)
        return found[0] if found else None

    def update(self, conflict: Conflict) -> None:
        self._c.execute(update(conflicts)
                        .where(_c.org_id == conflict.org_id, _c.id == conflict.id)
                        .values(status=conflict.status.value, resolution=conflict.resolution,
                                updated_at=conflict.updated_at, closed_at=conflict.closed_at))

    def list(self, org_id: str, query: ConflictFilter) -> builtins.list[Conflict]:
        where: list[Any] = [_c.org_id == org_id]
        if query.status is not None:
            where.append(_c.status == query.status.value)
        if query.resource_id is not None:
            where.append(_c.resource_id == query.resource_id)
        if query.booking_id is not None:
            where.append(_c.booking_id == query.booking_id)
        if query.after is not None:
            start, last_id = query.after
            where.append(or_(_c.start_at > start,
                             and_(_c.start_at == start, _c.id > last_id)))
        return self._select(*where, limit=query.limit)

    def open_on(self, org_id: str, resource_ids: Sequence[str]) -> builtins.list[Conflict]:
        if not resource_ids:
            return []
        return self._select(_c.org_id == org_id, one_of(self._c, _c.resource_id, resource_ids),
                            _c.status == _OPEN)

    def open_of_booking(self, org_id: str, booking_id: str) -> builtins.list[Conflict]:
        return self._select(_c.org_id == org_id, _c.booking_id == booking_id,
                            _c.status == _OPEN)

    def _select(self, *where: Any, limit: int | None = None) -> builtins.list[Conflict]:
        query = select(conflicts).where(*where).order_by(_c.start_at, _c.id)
        if limit is not None:
            query = query.limit(limit)
        return [_conflict(row) for row in self._c.execute(query).mappings()]


def _values(c: Conflict) -> dict[str, object]:
    return {"id": c.id, "org_id": c.org_id, "booking_id": c.booking_id,
            "resource_id": c.resource_id, "cause": c.cause.value, "cause_ref": c.cause_ref,
            "start_at": c.start, "end_at": c.end, "status": c.status.value,
            "resolution": c.resolution, "created_at": c.created_at,
            "updated_at": c.updated_at, "closed_at": c.closed_at}


def _conflict(row: RowMapping) -> Conflict:
    return Conflict(
        id=row["id"], org_id=row["org_id"], booking_id=row["booking_id"],
        resource_id=row["resource_id"], cause=ConflictCause(row["cause"]),
        cause_ref=row["cause_ref"], start=row["start_at"], end=row["end_at"],
        status=ConflictStatus(row["status"]), created_at=row["created_at"],
        updated_at=row["updated_at"], closed_at=row["closed_at"],
        resolution=row["resolution"])
