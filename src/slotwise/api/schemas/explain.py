"""The explain answer: one candidate start, offered or not, and every reason it is not."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from slotwise.api.schemas.bookings import SlotOut
from slotwise.api.schemas.common import Instant

ReasonCode = Literal["notice", "horizon", "closed", "busy", "limit", "rule", "unfilled",
                     "allocation", "grid", "not_in_pool"]


class SourceOut(BaseModel):
    """What occupies the resource: ``booking``, ``buffer`` (only the buffers of this booking
    and ``id``'s overlap), ``block`` or ``hold``, and its id."""

    type: str
    id: str | None = None


class ReasonOut(BaseModel):
    """One reason; the fields beyond ``code`` and ``message`` appear when they apply."""

    code: ReasonCode
    message: str = Field(description="One sentence for an operator, with resource names.")
    resource_id: str | None = None
    roles: list[int] | None = Field(
        default=None, description="Indices (from 0) into the service's requirements.")
    start: Instant | None = Field(default=None, description="What is in the way: the busy "
                                  "range, or the range of starts a rule excludes.")
    end: Instant | None = None
    source: SourceOut | None = None
    scope: Literal["resource", "location"] | None = Field(
        default=None, description="closed: whose hours leave the slot out.")
    label: str | None = Field(default=None, description="limit, rule: the rule's label.")
    earliest: Instant | None = Field(default=None, description="notice: the earliest "
                                     "bookable start.")
    latest: Instant | None = Field(default=None, description="horizon: the latest bookable "
                                   "start.")
    needed: int | None = Field(default=None, description="unfilled: resources the role needs.")
    free_resource_ids: list[str] | None = Field(
        default=None, description="unfilled, allocation: the free candidates of the roles.")
    nearest: list[SlotOut] | None = Field(
        default=None, description="grid: the offered starts just before and after.")


class ExplainOut(BaseModel):
    service_id: str
    start: Instant
    end: Instant
    offered: bool
    resource_ids: list[str] = Field(description="When offered: the resources booking it "
                                    "would take.")
    reasons: list[ReasonOut]
