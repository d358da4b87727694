"""Webhooks: endpoints that subscribe to an organisation's events, and the log of each event's
delivery to each of them.

A delivery is `pending` until the endpoint answers 2xx (`delivered`) or the attempts run out
or the endpoint cannot be posted to (`failed`). Every attempt is kept in `log`.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from slotwise.domain.events import EVENT_TYPES

ALL_EVENTS = "*"


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """`secret` signs every delivery (shown to its creator once). `events`: the event types
    it receives, or `("*",)` for all of them."""

    id: str
    org_id: str
    url: str
    secret: str
    events: tuple[str, ...]
    created_at: datetime
    description: str | None = None
    active: bool = True

    def wants(self, event_type: str) -> bool:
        return self.active and (event_type in self.events or (
            ALL_EVENTS in self.events and event_type in EVENT_TYPES))


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One POST: the endpoint's status (None when no answer came), how long it took, and
    what went wrong."""

    at: datetime
    status: int | None
    ms: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event to one endpoint. `payload` is the event's; the body posted is built from it
    the same way at every attempt."""

    id: str
    org_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    event_created_at: datetime
    payload: dict[str, Any]
    state: DeliveryState
    created_at: datetime
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = None
    log: tuple[DeliveryAttempt, ...] = field(default=())
    delivered_at: datetime | None = None


class Webhooks(Protocol):
    def add_endpoint(self, endpoint: WebhookEndpoint) -> None: ...

    def endpoint(self, org_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        """An active endpoint of the organisation."""
        ...

    def endpoint_by_id(self, endpoint_id: str) -> WebhookEndpoint | None:
        """Any endpoint, deleted ones too (a delivery job carries only ids)."""
        ...

    def endpoints(self, org_id: str) -> builtins.list[WebhookEndpoint]:
        """The organisation's active endpoints, oldest first."""
        ...

    def deactivate(self, org_id: str, endpoint_id: str) -> bool: ...

    def add_delivery(self, delivery: WebhookDelivery) -> bool:
        """Insert unless this event has a delivery to this endpoint already (then False)."""
        ...

    def delivery(self, delivery_id: str) -> WebhookDelivery | None: ...

    def record_attempt(self, delivery: WebhookDelivery) -> None:
        """Store the delivery's state, counters and log after an attempt."""
        ...

    def deliveries(self, org_id: str, endpoint_id: str, limit: int,
                   before: str | None = None) -> builtins.list[WebhookDelivery]:
        """The endpoint's deliveries, newest first, older than the delivery `before`."""
        ...
