"""Recurrence preview: a rule, its zone and bounds in; its instances (and their availability
for a service) out."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    NaiveDatetime,
    ValidationInfo,
    field_validator,
)

from slotwise.api.schemas.common import Body, Instant, Zone

_WALL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?$")


def _wall_text(value: object) -> object:
    """Only text such as 2027-03-01T09:00:00 is a wall time: no offset, no number."""
    if not isinstance(value, str) or not _WALL.match(value):
        raise ValueError("expected a local date-time without an offset, like "
                         "2027-03-01T09:00:00")
    return value


WallTime = Annotated[NaiveDatetime, BeforeValidator(_wall_text),
                     Field(examples=["2027-03-01T09:00:00"])]


class RangeIn(Body):
    start: Instant
    end: Instant

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: dt.datetime, info: ValidationInfo) -> dt.datetime:
        start = info.data.get("start")
        if start is not None and end <= start:
            raise ValueError("end must be after start")
        return end


class PreviewIn(Body):
    dtstart: WallTime
    timezone: Zone
    rrule: str = Field(min_length=1, max_length=1000, examples=["FREQ=WEEKLY;COUNT=10"])
    exdates: list[WallTime] = Field(default_factory=list, max_length=1000)
    range: RangeIn | None = None
    limit: int = Field(default=500, ge=1, le=500)
    service_id: str | None = None
    resource_ids: list[str] | None = Field(default=None, min_length=1, max_length=50)


class ConflictOut(BaseModel):
    resource_id: str | None = None
    start: Instant
    end: Instant
    reason: Literal["busy", "closed", "notice", "horizon", "limit", "rule"]


class OccurrenceOut(BaseModel):
    start: Instant
    end: Instant | None = None
    available: bool | None = None
    conflicts: list[ConflictOut] | None = None


class PreviewOut(BaseModel):
    occurrences: list[OccurrenceOut]
    skipped: list[str] = Field(description="Wall times the rule generated that do not exist "
                               "in the zone (a spring-forward gap): skipped, not counted.")
