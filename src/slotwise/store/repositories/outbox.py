"""The transactional outbox: events written in the same transaction as the change."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from slotwise.domain.model import OutboxEvent
from slotwise.store.tables import outbox


class SqlOutbox:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, event: OutboxEvent) -> None:
        self._c.execute(insert(outbox).values(
            id=event.id, org_id=event.org_id, type=event.type, aggregate_id=event.aggregate_id,
            payload=event.payload, created_at=event.created_at,
        ))

    def for_aggregate(self, org_id: str, aggregate_id: str) -> list[OutboxEvent]:
        query = (select(outbox)
                 .where(outbox.c.org_id == org_id, outbox.c.aggregate_id == aggregate_id)
                 .order_by(outbox.c.seq))
        return [
            OutboxEvent(id=row["id"], org_id=row["org_id"], type=row["type"],
                        aggregate_id=row["aggregate_id"], payload=row["payload"],
                        created_at=row["created_at"])
            for row in self._c.execute(query).mappings()
        ]
