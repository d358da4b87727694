"""Webhook endpoints and their delivery log as the API shows them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from slotwise.api.schemas.common import Body, Instant, http_url
from slotwise.domain.events import EVENT_TYPES
from slotwise.domain.webhooks import ALL_EVENTS

DeliveryStateName = Literal["pending", "delivered", "failed"]


class WebhookIn(Body):
    url: str = Field(max_length=2048,
                     description="http or https; receives a signed POST per event")
    events: list[str] = Field(
        default_factory=lambda: [ALL_EVENTS], max_length=len(EVENT_TYPES) + 1,
        json_schema_extra={"items": {"enum": [*EVENT_TYPES, ALL_EVENTS]}},
        description='the event types to receive, or ["*"] for all (the default)')
    description: str | None = Field(default=None, max_length=500)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value)


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str | None
    created_at: Instant


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="signs every delivery (Slotwise-Signature); shown only "
                                    "in this answer")


class WebhookPage(BaseModel):
    items: list[WebhookOut]
    next_cursor: str | None


class AttemptOut(BaseModel):
    at: Instant
    status: int | None = Field(description="the endpoint's HTTP status; null: no answer")
    ms: int
    error: str | None


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    state: DeliveryStateName
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: Instant
    delivered_at: Instant | None
    log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None
