"""Entities: plain dataclasses the store maps rows to and from explicitly.

Every instant is an aware UTC datetime; every entity belongs to one organisation (`org_id`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from slotwise.domain.payments import PaymentMode
from slotwise.engine.policies import Deposit, Policy


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    STAFF = "staff"

    @property
    def manages_setup(self) -> bool:
        """Owners and admins manage resources, schedules, services, keys and users."""
        return self in (Role.OWNER, Role.ADMIN)


class ResourceKind(StrEnum):
    PRACTITIONER = "practitioner"
    ROOM = "room"
    EQUIPMENT = "equipment"
    VIRTUAL = "virtual"


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Organisation:
    id: str
    slug: str
    name: str
    timezone: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class User:
    id: str
    org_id: str
    email: str
    role: Role
    password_hash: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    org_id: str
    user_id: str
    name: str
    key_hash: str
    hint: str
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuthSession:
    id: str
    org_id: str
    user_id: str
    token_hash: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: resolved from a session token or an API key."""

    org_id: str
    user_id: str
    role: Role


@dataclass(frozen=True, slots=True)
class Location:
    """A place resources belong to: its opening hours (a LocationSchedule) cut theirs, and its
    rules apply to every resource there (see docs/rules.md for how levels combine)."""

    id: str
    org_id: str
    name: str
    timezone: str
    created_at: datetime
    buffer_before_min: int = 0
    buffer_after_min: int = 0
    requires_approval: bool = False
    min_notice_min: int | None = None
    max_advance_days: int | None = None
    max_per_day: int | None = None
    max_per_week: int | None = None
    cancellation_policy: Policy | None = None  # None: the resources' or the default decides


@dataclass(frozen=True, slots=True)
class Resource:
    id: str
    org_id: str
    name: str
    kind: ResourceKind
    timezone: str
    created_at: datetime
    location_id: str | None = None
    capacity: int = 1
    tags: tuple[str, ...] = ()
    buffer_before_min: int = 0
    buffer_after_min: int = 0
    requires_approval: bool = False
    min_notice_min: int | None = None  # None: no rule of its own
    max_advance_days: int | None = None
    max_per_day: int | None = None
    max_per_week: int | None = None
    deposit: Deposit | None = None  # taken online from bookings of priced services using it
    cancellation_policy: Policy | None = None


@dataclass(frozen=True, slots=True)
class WeeklyRule:
    """Hours on some weekdays; local wall times "HH:MM", "24:00" meaning the next midnight."""

    days: tuple[str, ...]
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class DateOverride:
    """Replaces one local date's weekly hours: some windows, or closed (no hours)."""

    day: date
    hours: tuple[tuple[str, str], ...] = ()
    closed: bool = False


@dataclass(frozen=True, slots=True)
class Schedule:
    """Opening hours of a resource, or of a location when ``location_id`` is set (then
    ``resource_id`` is empty and the zone defaults to the location's)."""

    resource_id: str
    org_id: str
    timezone: str | None  # None: read in the owner's zone
    weekly: tuple[WeeklyRule, ...] = ()
    overrides: tuple[DateOverride, ...] = ()
    updated_at: datetime | None = None
    breaks: tuple[WeeklyRule, ...] = ()
    location_id: str | None = None


@dataclass(frozen=True, slots=True)
class Block:
    id: str
    org_id: str
    resource_id: str
    start: datetime
    end: datetime
    created_at: datetime
    title: str | None = None
    connection_id: str | None = None  # set on busy time imported from an external calendar


@dataclass(frozen=True, slots=True)
class ServiceRequirement:
    """``mode`` "any": ``count`` of the pool; "all": every resource of the pool (collective).
    ``weights`` rank the pool (higher first) before the least-utilised order."""

    kind: ResourceKind
    count: int = 1
    resource_ids: tuple[str, ...] | None = None
    tags: tuple[str, ...] = ()
    min_capacity: int = 1
    optional: bool = False
    mode: str = "any"
    weights: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class SequenceRule:
    """The owning service may not come within ``within_min`` minutes ``direction`` ("after",
    "before", "either") a booking of ``other_service_id`` on a resource they share."""

    other_service_id: str
    within_min: int
    direction: str = "either"


@dataclass(frozen=True, slots=True)
class Price:
    amount: int  # in the currency's minor unit (cents)
    currency: str


@dataclass(frozen=True, slots=True)
class NotificationSchedule:
    """What a service's customers hear besides the messages its events send at once:
    reminders `reminders_min` minutes before the start, a review request `review_after_min`
    minutes after the end (None: none), and text messages besides e-mails when `sms`."""

    reminders_min: tuple[int, ...] = (1440, 60)
    review_after_min: int | None = 120
    sms: bool = False


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    org_id: str
    name: str
    slug: str
    duration_min: int
    step_min: int
    requirements: tuple[ServiceRequirement, ...]
    created_at: datetime
    buffer_before_min: int = 0
    buffer_after_min: int = 0
    min_notice_min: int = 0
    max_advance_days: int = 365
    capacity: int = 1
    price: Price | None = None
    requires_approval: bool = False
    max_per_day: int | None = None
    max_per_week: int | None = None
    sequence_rules: tuple[SequenceRule, ...] = ()
    meeting_provider: str | None = None  # online: each booking gets a link from it
    # A customer with this many no-shows (or more) books only with a person's approval.
    approval_after_no_shows: int | None = None
    payment: PaymentMode = PaymentMode.NONE
    deposit: Deposit | None = None
    cancellation_policy: Policy | None = None  # None: the resources', location's or default
    notifications: NotificationSchedule = NotificationSchedule()


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    org_id: str
    name: str
    email: str
    phone: str | None = None
    timezone: str | None = None
    locale: str | None = None
    no_shows: int = 0  # bookings of theirs marked no_show: rules and fees may read it


@dataclass(frozen=True, slots=True)
class Allocation:
    """One resource taken by one booking; `blocked_*` is the booked range widened by buffers,
    `booked_*` the booking's own range (when the query loaded it)."""

    id: str
    org_id: str
    booking_id: str
    resource_id: str
    blocked_start: datetime
    blocked_end: datetime
    active: bool = True
    booked_start: datetime | None = None
    booked_end: datetime | None = None


@dataclass(frozen=True, slots=True)
class BookedTime:
    """A live booking's own time on one resource (no buffers): what limits count and
    utilisation sums. Seats of one group session share ``session_key``."""

    resource_id: str
    booking_id: str
    session_key: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Series:
    id: str
    org_id: str
    rrule: str
    timezone: str
    dtstart_local: datetime  # naive wall time in `timezone`
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BusyRange:
    """One stretch of a resource's busy time: a booking's allocation (widened by buffers, with
    the booking's own range), a block, or a live hold's range."""

    kind: str  # "booking", "block" or "hold"
    source_id: str  # the booking's, block's or hold's id
    resource_id: str
    start: datetime
    end: datetime
    booked_start: datetime | None = None
    booked_end: datetime | None = None


@dataclass(frozen=True, slots=True)
class HeldResource:
    resource_id: str
    blocked_start: datetime
    blocked_end: datetime


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    id: str
    org_id: str
    type: str
    aggregate_id: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    scope: str
    key: str
    route: str
    request_hash: str
    created_at: datetime
    status_code: int | None = None  # None while the first request is still running
    body: bytes | None = None
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class BookingFilter:
    start: datetime | None = None
    end: datetime | None = None
    resource_id: str | None = None
    status: str | None = None
    after: tuple[datetime, str] | None = None  # keyset cursor: (start, id)
    limit: int = 50
