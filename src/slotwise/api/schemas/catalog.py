from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from slotwise.api.schemas.common import Body, Instant, Name, Slug, Zone
from slotwise.api.schemas.payments import (
    PAYMENT_DESCRIPTION,
    PaymentModeName,
    PolicyIn,
    PolicyOut,
    ShareIn,
    ShareOut,
)
from slotwise.domain.messages import MAX_REMINDER_MIN, SHORT_REMINDER_MAX_MIN, schedule_problem
from slotwise.domain.model import NotificationSchedule

Kind = Literal["practitioner", "room", "equipment", "virtual"]
# "jitsi": a room on the configured Jitsi (no API call); "http": the configured Zoom-shaped API
MeetingProviderName = Literal["jitsi", "http"]
NoShows = Annotated[int, Field(ge=1, le=1000, description=(
    "a customer with this many no-shows (or more) books only with a person's approval"))]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WallTime = Annotated[str, Field(pattern=r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$",
                                examples=["09:00", "24:00"])]
Minutes = Annotated[int, Field(ge=0, le=24 * 60, description="at most a day")]
Tag = Annotated[str, Field(min_length=1, max_length=64)]
Notice = Annotated[int, Field(ge=0, le=365 * 24 * 60, description="minutes")]
Horizon = Annotated[int, Field(ge=1, le=3650, description="days")]
PerDay = Annotated[int, Field(ge=1, le=1000, description="bookings per local day (≥ 1)")]
PerWeek = Annotated[int, Field(ge=1, le=7000,
                               description="bookings per local Monday-based week (≥ 1)")]


class RulesIn(Body):
    """The rules a resource or location may set for itself (null: none of its own; in a
    PATCH, null removes it)."""

    min_notice_min: Notice | None = None
    max_advance_days: Horizon | None = None
    max_per_day: PerDay | None = None
    max_per_week: PerWeek | None = None


class LocationIn(RulesIn):
    name: Name
    timezone: Zone
    buffer_before_min: Minutes = 0
    buffer_after_min: Minutes = 0
    requires_approval: bool = False
    cancellation_policy: PolicyIn | None = Field(
        default=None, description="see docs/payments.md for which level applies")


class LocationPatch(RulesIn):
    name: Name | None = None
    timezone: Zone | None = None
    buffer_before_min: Minutes | None = None
    buffer_after_min: Minutes | None = None
    requires_approval: bool | None = None
    cancellation_policy: PolicyIn | None = None


class LocationOut(BaseModel):
    id: str
    name: str
    timezone: str
    buffer_before_min: int = 0
    buffer_after_min: int = 0
    requires_approval: bool = False
    min_notice_min: int | None = None
    max_advance_days: int | None = None
    max_per_day: int | None = None
    max_per_week: int | None = None
    cancellation_policy: PolicyOut | None = None


class ResourceIn(RulesIn):
    name: Name
    kind: Kind
    timezone: Zone | None = None
    location_id: str | None = None
    capacity: int = Field(default=1, ge=1, le=10_000)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    buffer_before_min: Minutes = 0
    buffer_after_min: Minutes = 0
    requires_approval: bool = False
    deposit: ShareIn | None = Field(
        default=None, description="taken online from bookings of priced services using this "
        "resource (needs a payment gateway)")
    cancellation_policy: PolicyIn | None = Field(
        default=None, description="see docs/payments.md for which level applies")


class ResourcePatch(RulesIn):
    name: Name | None = None
    kind: Kind | None = None
    timezone: Zone | None = None
    location_id: str | None = None
    capacity: int | None = Field(default=None, ge=1, le=10_000)
    tags: list[Tag] | None = Field(default=None, max_length=50)
    buffer_before_min: Minutes | None = None
    buffer_after_min: Minutes | None = None
    requires_approval: bool | None = None
    deposit: ShareIn | None = None
    cancellation_policy: PolicyIn | None = None


class ResourceOut(BaseModel):
    id: str
    name: str
    kind: Kind
    timezone: str
    location_id: str | None
    capacity: int
    tags: list[str]
    buffer_before_min: int
    buffer_after_min: int
    requires_approval: bool
    min_notice_min: int | None = None
    max_advance_days: int | None = None
    max_per_day: int | None = None
    max_per_week: int | None = None
    deposit: ShareOut | None = None
    cancellation_policy: PolicyOut | None = None
    created_at: Instant


class HoursIn(Body):
    start: WallTime
    end: WallTime


class WeeklyIn(Body):
    days: list[Weekday] = Field(min_length=1)
    start: WallTime
    end: WallTime


class OverrideIn(Body):
    date: dt.date
    hours: list[HoursIn] | None = None
    closed: bool = False

    @model_validator(mode="after")
    def _closed_or_hours(self) -> OverrideIn:
        if self.closed and self.hours:
            raise ValueError("a date cannot be closed and have hours")
        if not self.closed and not self.hours:
            raise ValueError("give hours, or closed: true")
        return self


class ScheduleIn(Body):
    timezone: Zone | None = None
    weekly: list[WeeklyIn] = Field(default_factory=list, max_length=200)
    overrides: list[OverrideIn] = Field(default_factory=list, max_length=2000)
    breaks: list[WeeklyIn] = Field(
        default_factory=list, max_length=200,
        description="closed times inside the day, on every date of their weekdays (override "
                    "dates included)")


class ScheduleOut(BaseModel):
    resource_id: str
    timezone: str
    weekly: list[dict[str, object]]
    overrides: list[dict[str, object]]
    breaks: list[dict[str, object]] = Field(default_factory=list)


class LocationScheduleOut(BaseModel):
    location_id: str
    timezone: str
    weekly: list[dict[str, object]]
    overrides: list[dict[str, object]]
    breaks: list[dict[str, object]]


class BlockIn(Body):
    start: Instant
    end: Instant
    title: str | None = Field(default=None, max_length=500)

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: dt.datetime, info: ValidationInfo) -> dt.datetime:
        start = info.data.get("start")
        if start is not None and end <= start:
            raise ValueError("end must be after start")
        return end


class BlockOut(BaseModel):
    id: str
    resource_id: str
    start: Instant
    end: Instant
    title: str | None


class RequirementIn(Body):
    kind: Kind
    count: int = Field(default=1, ge=1, le=50)
    resource_ids: list[str] | None = Field(default=None, max_length=500)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    min_capacity: int = Field(default=1, ge=1, le=10_000)
    optional: bool = Field(default=False,
                           description="filled when free at the start; never removes a slot")
    mode: Literal["any", "all"] = Field(
        default="any", description='"any": count of the pool; "all": every resource of the '
                                   "pool at once (collective)")
    weights: dict[str, Annotated[int, Field(ge=-100, le=100)]] = Field(
        default_factory=dict, max_length=500,
        description="preference per resource id (higher first; default 0); ties go to the "
                    "least booked in the week, then by id")


class SequenceRuleIn(Body):
    service_id: str
    within_min: int = Field(ge=1, le=7 * 24 * 60)
    direction: Literal["after", "before", "either"] = Field(
        default="either", description='"after": this service may not follow the other\'s '
                                      'booking within the gap; "before": may not precede it; '
                                      '"either": neither')


class SequenceRuleOut(BaseModel):
    service_id: str
    within_min: int
    direction: str


class PriceIn(Body):
    amount: int = Field(ge=0, le=10**12, description="in the currency's minor unit (cents)")
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class NotificationsIn(Body):
    """When the service's customers hear from it besides the messages sent at once
    (confirmation, reschedule, cancellation). Omitted fields take their defaults."""

    reminders_min: list[Annotated[int, Field(ge=1, le=MAX_REMINDER_MIN)]] = Field(
        default_factory=lambda: [1440, 60], max_length=2,
        description=f"minutes before the start; at most one up to {SHORT_REMINDER_MAX_MIN} "
                    "(the \"starting soon\" reminder) and one earlier; [] for none")
    review_after_min: int | None = Field(
        default=120, ge=0, le=MAX_REMINDER_MIN,
        description="minutes after the end for the review request; null for none")
    sms: bool = Field(default=False, description="text messages too, to customers with a "
                                                 "phone number in E.164 (+ and country code)")

    @model_validator(mode="after")
    def _keepable(self) -> NotificationsIn:
        problem = schedule_problem(self.schedule())
        if problem is not None:
            raise ValueError(problem)
        return self

    def schedule(self) -> NotificationSchedule:
        return NotificationSchedule(reminders_min=tuple(self.reminders_min),
                                    review_after_min=self.review_after_min, sms=self.sms)


class NotificationsOut(BaseModel):
    reminders_min: list[int]
    review_after_min: int | None
    sms: bool


class ServiceIn(Body):
    name: Name
    slug: Slug | None = None
    duration_min: int = Field(ge=1, le=24 * 60)
    step_min: int | None = Field(default=None, ge=1, le=24 * 60)
    buffer_before_min: Minutes = 0
    buffer_after_min: Minutes = 0
    min_notice_min: int = Field(default=0, ge=0, le=365 * 24 * 60)
    max_advance_days: int = Field(default=365, ge=1, le=3650)
    capacity: int = Field(default=1, ge=1, le=10_000)
    price: PriceIn | None = None
    requirements: list[RequirementIn] = Field(min_length=1, max_length=20)
    requires_approval: bool = False
    max_per_day: PerDay | None = None
    max_per_week: PerWeek | None = None
    sequence_rules: list[SequenceRuleIn] = Field(default_factory=list, max_length=20)
    meeting_provider: MeetingProviderName | None = Field(
        default=None, description="Online service: each booking confirms only once this "
        "provider has made its meeting link. None: in person.")
    approval_after_no_shows: NoShows | None = None
    payment: PaymentModeName = Field(default="none", description=PAYMENT_DESCRIPTION)
    deposit: ShareIn | None = Field(default=None,
                                    description="with payment \"deposit\" (and only then)")
    cancellation_policy: PolicyIn | None = Field(
        default=None, description="see docs/payments.md for which level applies")
    notifications: NotificationsIn | None = Field(
        default=None, description="reminders, review request and SMS; null: the defaults")


class ServicePatch(Body):
    name: Name | None = None
    slug: Slug | None = None
    duration_min: int | None = Field(default=None, ge=1, le=24 * 60)
    step_min: int | None = Field(default=None, ge=1, le=24 * 60)
    buffer_before_min: Minutes | None = None
    buffer_after_min: Minutes | None = None
    min_notice_min: int | None = Field(default=None, ge=0, le=365 * 24 * 60)
    max_advance_days: int | None = Field(default=None, ge=1, le=3650)
    capacity: int | None = Field(default=None, ge=1, le=10_000)
    price: PriceIn | None = None
    requirements: list[RequirementIn] | None = Field(default=None, min_length=1, max_length=20)
    requires_approval: bool | None = None
    max_per_day: PerDay | None = None
    max_per_week: PerWeek | None = None
    sequence_rules: list[SequenceRuleIn] | None = Field(default=None, max_length=20)
    meeting_provider: MeetingProviderName | None = None
    approval_after_no_shows: NoShows | None = None
    payment: PaymentModeName | None = None
    deposit: ShareIn | None = None
    cancellation_policy: PolicyIn | None = None
    notifications: NotificationsIn | None = Field(
        default=None, description="replaces the whole schedule; null: the defaults")


class RequirementOut(BaseModel):
    kind: Kind
    count: int
    resource_ids: list[str] | None
    tags: list[str]
    min_capacity: int
    optional: bool = False
    mode: str = "any"
    weights: dict[str, int] = Field(default_factory=dict)


class PriceOut(BaseModel):
    amount: int
    currency: str


class ServiceOut(BaseModel):
    id: str
    name: str
    slug: str
    duration_min: int
    step_min: int
    buffer_before_min: int
    buffer_after_min: int
    min_notice_min: int
    max_advance_days: int
    capacity: int
    price: PriceOut | None
    requirements: list[RequirementOut]
    requires_approval: bool = False
    max_per_day: int | None = None
    max_per_week: int | None = None
    sequence_rules: list[SequenceRuleOut] = Field(default_factory=list)
    meeting_provider: str | None = None
    approval_after_no_shows: int | None = None
    payment: PaymentModeName = "none"
    deposit: ShareOut | None = None
    cancellation_policy: PolicyOut | None = None
    notifications: NotificationsOut
    created_at: Instant


class ResourcePage(BaseModel):
    items: list[ResourceOut]
    next_cursor: str | None


class LocationPage(BaseModel):
    items: list[LocationOut]
    next_cursor: str | None


class ServicePage(BaseModel):
    items: list[ServiceOut]
    next_cursor: str | None
