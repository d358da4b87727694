"""Webhooks: organisations subscribe URLs to their events; every event is POSTed, signed, to
each endpoint that wants it, retried with backoff until it is answered 2xx, every attempt kept.

`WebhookReactor` (in the relay's transaction) writes one delivery per matching endpoint and
event — unique per (endpoint, event), so an event is never queued twice for an endpoint — and
defers its `webhooks.deliver` job. `OperateWebhooks.deliver` POSTs
`{"id", "type", "created_at", "data"}` (the event's id, type, time and payload) with the
`Slotwise-Signature` header the poster adds (scheme: `integrations/webhooks.py`,
docs/api-extensions.md). Delivery is at least once: a worker killed after the endpoint
answered and before the answer was recorded posts the event again, with the same `id`,
which is what subscribers deduplicate on.
"""

from __future__ import annotations

import builtins
import json
import time
from dataclasses import replace
from datetime import datetime

from slotwise.app.accounts import require_admin
from slotwise.domain import events
from slotwise.domain.errors import InvalidInput, NotFound
from slotwise.domain.ids import new_id, new_secret
from slotwise.domain.jobs import JobSpec
from slotwise.domain.model import OutboxEvent, Principal
from slotwise.domain.notifications import DeliveryRejected, DeliveryUnavailable, WebhookPoster
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from slotwise.domain.webhooks import (
    ALL_EVENTS,
    DeliveryAttempt,
    DeliveryState,
    WebhookDelivery,
    WebhookEndpoint,
)

DELIVER_TASK = "webhooks.deliver"
SECRET_PREFIX = "whsec"


class NotDelivered(Exception):
    """The endpoint did not take the event this time; the job engine retries it later."""


def body(delivery: WebhookDelivery) -> bytes:
    """The JSON posted for a delivery: the same bytes at every attempt."""
    return json.dumps({"id": delivery.event_id, "type": delivery.event_type,
                       "created_at": events.iso(delivery.event_created_at),
                       "data": delivery.payload}, separators=(",", ":")).encode()


def check_events(wanted: list[str]) -> tuple[str, ...]:
    """The subscribed event types, duplicates dropped; `["*"]` is every type."""
    for i, kind in enumerate(wanted):
        if kind != ALL_EVENTS and kind not in events.EVENT_TYPES:
            raise InvalidInput(f"unknown event type {kind!r}; one of "
                               f"{', '.join(events.EVENT_TYPES)} or \"*\"", ("body", "events", i))
    unique = tuple(dict.fromkeys(wanted))
    if not unique:
        raise InvalidInput('name at least one event type, or "*"', ("body", "events"))
    if ALL_EVENTS in unique and len(unique) > 1:
        raise InvalidInput('"*" already means every event type', ("body", "events"))
    return unique


class OperateWebhooks:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, poster: WebhookPoster, *,
                 max_attempts: int = 8) -> None:
        self._uow = uow
        self._clock = clock
        self._poster = poster
        self._max_attempts = max_attempts

    def create(self, principal: Principal, url: str, wanted: list[str],
               description: str | None = None) -> WebhookEndpoint:
        """A new endpoint (owner or admin); its `secret` is shown only in this answer."""
        require_admin(principal)
        endpoint = WebhookEndpoint(
            id=new_id("webhook"), org_id=principal.org_id, url=url,
            secret=new_secret(SECRET_PREFIX), events=check_events(wanted),
            created_at=self._clock.now(), description=description)
        with self._uow(write=True) as uow:
            uow.webhooks.add_endpoint(endpoint)
            uow.commit()
        return endpoint

    def list(self, principal: Principal) -> list[WebhookEndpoint]:
        with self._uow() as uow:
            return uow.webhooks.endpoints(principal.org_id)

    def get(self, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
        with self._uow() as uow:
            return _endpoint(uow, principal.org_id, endpoint_id)

    def delete(self, principal: Principal, endpoint_id: str) -> None:
        """Stop sending to the endpoint (owner or admin); its pending deliveries fail."""
        require_admin(principal)
        with self._uow(write=True) as uow:
            if not uow.webhooks.deactivate(principal.org_id, endpoint_id):
                raise NotFound("no such webhook")
            uow.commit()

    def deliveries(self, principal: Principal, endpoint_id: str, limit: int = 50,
                   before: str | None = None) -> builtins.list[WebhookDelivery]:
        """The endpoint's delivery log, newest first."""
        with self._uow() as uow:
            _endpoint(uow, principal.org_id, endpoint_id)
            return uow.webhooks.deliveries(principal.org_id, endpoint_id, limit, before)

    def deliver(self, delivery_id: str) -> DeliveryState | None:
        """POST one pending delivery and log the attempt. Idempotent: a delivery that is no
        longer pending (delivered, failed) is not posted again. A 2xx answer delivers it; any
        other answer, or none, raises `NotDelivered` so the engine retries with backoff,
        until the attempts run out (`failed`). A URL that can never be posted to, or an
        endpoint deleted meanwhile, fails it at once."""
        with self._uow() as uow:
            delivery = uow.webhooks.delivery(delivery_id)
            endpoint = (uow.webhooks.endpoint_by_id(delivery.endpoint_id)
                        if delivery is not None else None)
        if delivery is None:
            return None
        if delivery.state is not DeliveryState.PENDING:
            return delivery.state
        if endpoint is None or not endpoint.active:
            return self._record(delivery_id, None, "the endpoint was deleted", 0, final=True)
        headers = {"Slotwise-Event": delivery.event_type, "Slotwise-Delivery": delivery.id}
        status, error, final = None, None, False
        started = time.monotonic()
        try:
            status = self._poster.post(endpoint.url, body(delivery), headers,
                                       secret=endpoint.secret)
        except DeliveryRejected as exc:
            error, final = exc.detail, True
        except DeliveryUnavailable as exc:
            error = exc.detail
        ms = round((time.monotonic() - started) * 1000)
        if status is not None and not 200 <= status < 300:
            error = f"answered {status}"
        state = self._record(delivery_id, status, error, ms, final=final)
        if state is DeliveryState.PENDING:
            raise NotDelivered(f"{endpoint.url}: {error}")
        return state

    def _record(self, delivery_id: str, status: int | None, error: str | None, ms: int, *,
                final: bool) -> DeliveryState:
        now = self._clock.now()
        with self._uow(write=True) as uow:
            current = uow.webhooks.delivery(delivery_id)
            if current is None:
                return DeliveryState.FAILED
            attempts = current.attempts + 1
            state = current.state
            if state is DeliveryState.PENDING:
                if error is None:
                    state = DeliveryState.DELIVERED
                elif final or attempts >= self._max_attempts:
                    state = DeliveryState.FAILED
            uow.webhooks.record_attempt(replace(
                current, state=state, attempts=attempts, last_status=status, last_error=error,
                log=(*current.log, DeliveryAttempt(now, status, ms, error)),
                delivered_at=now if state is DeliveryState.DELIVERED else current.delivered_at))
            uow.commit()
        return state


def _endpoint(uow: UnitOfWork, org_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = uow.webhooks.endpoint(org_id, endpoint_id)
    if endpoint is None:
        raise NotFound("no such webhook")
    return endpoint


class WebhookReactor:
    """One delivery, and its job, per event and endpoint that wants it."""

    def react(self, uow: UnitOfWork, event: OutboxEvent, now: datetime) -> None:
        for endpoint in uow.webhooks.endpoints(event.org_id):
            if not endpoint.wants(event.type):
                continue
            delivery = WebhookDelivery(
                id=new_id("delivery"), org_id=event.org_id, endpoint_id=endpoint.id,
                event_id=event.id, event_type=event.type, event_created_at=event.created_at,
                payload=dict(event.payload), state=DeliveryState.PENDING, created_at=now)
            if uow.webhooks.add_delivery(delivery):
                uow.jobs.defer(JobSpec(task=DELIVER_TASK, args={"delivery_id": delivery.id},
                                       org_id=event.org_id))
