"""Webhooks: subscribe a URL to the organisation's events; read each endpoint's delivery log.

Deliveries are signed (`Slotwise-Signature`); docs/api-extensions.md says how to verify them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from slotwise.api import cursors
from slotwise.api.auth import CurrentPrincipal
from slotwise.api.deps import App
from slotwise.api.errors import ERROR_RESPONSES
from slotwise.api.schemas.webhooks import (
    DeliveryPage,
    WebhookCreatedOut,
    WebhookIn,
    WebhookOut,
    WebhookPage,
)
from slotwise.domain.webhooks import WebhookDelivery, WebhookEndpoint

router = APIRouter(prefix="/v1", tags=["webhooks"], responses=ERROR_RESPONSES)


def endpoint_out(e: WebhookEndpoint) -> dict[str, Any]:
    return {"id": e.id, "url": e.url, "events": list(e.events), "description": e.description,
            "created_at": e.created_at}


def delivery_out(d: WebhookDelivery) -> dict[str, Any]:
    return {"id": d.id, "event_id": d.event_id, "event_type": d.event_type,
            "state": d.state.value, "attempts": d.attempts, "last_status": d.last_status,
            "last_error": d.last_error, "created_at": d.created_at,
            "delivered_at": d.delivered_at,
            "log": [{"at": a.at, "status": a.status, "ms": a.ms, "error": a.error}
                    for a in d.log]}


@router.post("/webhooks", status_code=201, response_model=WebhookCreatedOut)
def create_webhook(body: WebhookIn, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    """Subscribe a URL (owner or admin). The answer carries the signing `secret` once."""
    endpoint = app.webhooks.create(who, body.url, body.events, body.description)
    return {**endpoint_out(endpoint), "secret": endpoint.secret}


@router.get("/webhooks", response_model=WebhookPage)
def list_webhooks(who: CurrentPrincipal, app: App) -> dict[str, Any]:
    return {"items": [endpoint_out(e) for e in app.webhooks.list(who)], "next_cursor": None}


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: str, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    return endpoint_out(app.webhooks.get(who, webhook_id))


@router.delete("/webhooks/{webhook_id}", status_code=204, response_class=Response)
def delete_webhook(webhook_id: str, who: CurrentPrincipal, app: App) -> Response:
    """Stop sending to it (owner or admin); deliveries still pending fail."""
    app.webhooks.delete(who, webhook_id)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryPage)
def list_deliveries(webhook_id: str, who: CurrentPrincipal, app: App,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50,
                    cursor: str | None = None) -> dict[str, Any]:
    """The delivery log, newest first: each event sent to the endpoint, its state and every
    attempt (when, the endpoint's status, how long it took, what went wrong)."""
    before = cursors.decode(app.cursor_secret, cursor) if cursor else None
    found = app.webhooks.deliveries(who, webhook_id, limit + 1,
                                    before=str(before) if before is not None else None)
    items = found[:limit]
    next_cursor = (cursors.encode(app.cursor_secret, items[-1].id)
                   if len(found) > limit and items else None)
    return {"items": [delivery_out(d) for d in items], "next_cursor": next_cursor}
