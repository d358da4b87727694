"""The transactional outbox: events written in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from slotwise.domain.model import OutboxEvent
from slotwise.store.tables import outbox


class SqlOutbox:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, event: OutboxEvent) -> None:
        self._c.execute(_INSERT, {
            "id": event.id, "org_id": event.org_id, "type": event.type,
            "aggregate_id": event.aggregate_id, "payload": event.payload,
            "created_at": event.created_at})

    def for_aggregate(self, org_id: str, aggregate_id: str) -> list[OutboxEvent]:
        query = (select(outbox)
                 .where(outbox.c.org_id == org_id, outbox.c.aggregate_id == aggregate_id)
                 .order_by(outbox.c.seq))
        return [_event(row) for row in self._c.execute(query).mappings()]

    def unpublished(self, limit: int) -> list[OutboxEvent]:
        query = (select(outbox).where(outbox.c.published_at.is_(None))
                 .order_by(outbox.c.seq).limit(limit))
        if self._c.dialect.name == "postgresql":
            # Relays in several workers take disjoint batches instead of waiting on each other.
            query = query.with_for_update(skip_locked=True)
        return [_event(row) for row in self._c.execute(query).mappings()]

    def mark_published(self, event_ids: Sequence[str], at: datetime) -> None:
        if event_ids:
            self._c.execute(update(outbox).where(outbox.c.id.in_(list(event_ids)))
                            .values(published_at=at))

    def backlog(self) -> tuple[int, datetime | None]:
        """How many events wait for the relay, and when the oldest was written."""
        count, oldest = self._c.execute(
            select(func.count(), func.min(outbox.c.created_at))
            .where(outbox.c.published_at.is_(None))).one()
        return int(count), oldest


def _event(row: Any) -> OutboxEvent:
    return OutboxEvent(id=row["id"], org_id=row["org_id"], type=row["type"],
                       aggregate_id=row["aggregate_id"], payload=row["payload"],
                       created_at=row["created_at"])


_INSERT = insert(outbox)  # built once: the values come as parameters
