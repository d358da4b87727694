"""Webhook endpoints and their deliveries (one per endpoint and event, with its attempt log)."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, RowMapping

from slotwise.domain.webhooks import (
    DeliveryAttempt,
    DeliveryState,
    WebhookDelivery,
    WebhookEndpoint,
)
from slotwise.store.tables import webhook_deliveries, webhook_endpoints
from slotwise.store.types import epoch, from_epoch

_e = webhook_endpoints.c
_d = webhook_deliveries.c


class SqlWebhooks:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        self._c.execute(insert(webhook_endpoints).values(
            id=endpoint.id, org_id=endpoint.org_id, url=endpoint.url, secret=endpoint.secret,
            events=list(endpoint.events), description=endpoint.description,
            active=endpoint.active, created_at=endpoint.created_at))

    def endpoint(self, org_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        found = self._endpoints(_e.org_id == org_id, _e.id == endpoint_id, _e.active)
        return found[0] if found else None

    def endpoint_by_id(self, endpoint_id: str) -> WebhookEndpoint | None:
        found = self._endpoints(_e.id == endpoint_id)
        return found[0] if found else None

    def endpoints(self, org_id: str) -> builtins.list[WebhookEndpoint]:
        return self._endpoints(_e.org_id == org_id, _e.active)

    def deactivate(self, org_id: str, endpoint_id: str) -> bool:
        done = self._c.execute(update(webhook_endpoints)
                               .where(_e.org_id == org_id, _e.id == endpoint_id, _e.active)
                               .values(active=False))
        return done.rowcount == 1

    def add_delivery(self, delivery: WebhookDelivery) -> bool:
        dialect_insert: Any = (pg_insert if self._c.dialect.name == "postgresql"
                               else sqlite_insert)
        done = self._c.execute(dialect_insert(webhook_deliveries).values(
            id=delivery.id, org_id=delivery.org_id, endpoint_id=delivery.endpoint_id,
            event_id=delivery.event_id, event_type=delivery.event_type,
            event_created_at=delivery.event_created_at, payload=delivery.payload,
            created_at=delivery.created_at, **_progress(delivery),
        ).on_conflict_do_nothing(index_elements=[_d.endpoint_id, _d.event_id])
            .returning(_d.id))
        return done.first() is not None

    def delivery(self, delivery_id: str) -> WebhookDelivery | None:
        row = self._c.execute(select(webhook_deliveries)
                              .where(_d.id == delivery_id)).mappings().first()
        return None if row is None else _delivery(row)

    def record_attempt(self, delivery: WebhookDelivery) -> None:
        self._c.execute(update(webhook_deliveries).where(_d.id == delivery.id)
                        .values(**_progress(delivery)))

    def deliveries(self, org_id: str, endpoint_id: str, limit: int,
                   before: str | None = None) -> builtins.list[WebhookDelivery]:
        query = select(webhook_deliveries).where(_d.org_id == org_id,
                                                 _d.endpoint_id == endpoint_id)
        if before is not None:
            mark = self._c.execute(select(_d.seq).where(
                _d.org_id == org_id, _d.id == before)).scalar()
            if mark is None:
                return []
            query = query.where(_d.seq < mark)
        rows = self._c.execute(query.order_by(_d.seq.desc()).limit(limit)).mappings()
        return [_delivery(row) for row in rows]

    def _endpoints(self, *where: Any) -> builtins.list[WebhookEndpoint]:
        rows = self._c.execute(select(webhook_endpoints).where(*where)
                               .order_by(_e.created_at, _e.id)).mappings()
        return [_endpoint(row) for row in rows]


def _progress(d: WebhookDelivery) -> dict[str, object]:
    return {"state": d.state.value, "attempts": d.attempts, "last_status": d.last_status,
            "last_error": d.last_error[:4000] if d.last_error else None,
            "delivered_at": d.delivered_at,
            "log": [{"at": epoch(a.at), "status": a.status, "ms": a.ms, "error": a.error}
                    for a in d.log]}


def _endpoint(row: RowMapping) -> WebhookEndpoint:
    return WebhookEndpoint(id=row["id"], org_id=row["org_id"], url=row["url"],
                           secret=row["secret"], events=tuple(row["events"]),
                           created_at=row["created_at"], description=row["description"],
                           active=bool(row["active"]))


def _delivery(row: RowMapping) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"], org_id=row["org_id"], endpoint_id=row["endpoint_id"],
        event_id=row["event_id"], event_type=row["event_type"],
        event_created_at=row["event_created_at"], payload=row["payload"],
        state=DeliveryState(row["state"]), created_at=row["created_at"],
        attempts=row["attempts"], last_status=row["last_status"],
        last_error=row["last_error"], delivered_at=row["delivered_at"],
        log=tuple(DeliveryAttempt(at=from_epoch(a["at"]), status=a["status"], ms=a["ms"],
                                  error=a["error"]) for a in row["log"] or ()))
