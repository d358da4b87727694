"""The wired use cases the delivery layers (API, pages, CLI) are handed by bootstrap."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from slotwise.app.accounts import Accounts
from slotwise.app.availability import SearchAvailability
from slotwise.app.bookings import BookSlot
from slotwise.app.calendar_connections import ConnectCalendars
from slotwise.app.calendar_export import CalendarExporter
from slotwise.app.calendar_sync import CalendarSync
from slotwise.app.cancellation import CancellationTerms
from slotwise.app.catalog import Catalog
from slotwise.app.conflict_resolution import OperateConflicts
from slotwise.app.explain import ExplainAvailability
from slotwise.app.fixer import Fixer
from slotwise.app.health import HealthChecks
from slotwise.app.holds import ExtendHold, OperateHolds, PlaceHold, ReleaseHold
from slotwise.app.idempotency import Idempotency
from slotwise.app.jobs import OperateJobs
from slotwise.app.lifecycle import Lifecycle
from slotwise.app.live import LiveUpdates
from slotwise.app.manage import CancelBooking, ReadBookings, RescheduleBooking
from slotwise.app.meetings import MeetingLinks
from slotwise.app.notifications import Notifications
from slotwise.app.payments import Payments
from slotwise.app.recurrence import PreviewRecurrence
from slotwise.app.relay import RelayOutbox
from slotwise.app.rush import RushRefusals
from slotwise.app.waitlist import OperateWaitlist
from slotwise.app.webhooks import OperateWebhooks
from slotwise.domain.ports import Clock

HealthCheck = Callable[[], "str | None"]


@dataclass(frozen=True)
class Dependency:
    """A /readyz check. `fallback` says what the process does without the dependency; None
    means it cannot serve without it."""

    check: HealthCheck
    fallback: str | None = None


@dataclass
class UseCases:
    clock: Clock
    accounts: Accounts
    catalog: Catalog
    search: SearchAvailability
    explain: ExplainAvailability
    preview_recurrence: PreviewRecurrence
    place_hold: PlaceHold
    release_hold: ReleaseHold
    extend_hold: ExtendHold
    holds: OperateHolds
    book: BookSlot
    cancel: CancelBooking
    reschedule: RescheduleBooking
    lifecycle: Lifecycle
    meetings: MeetingLinks
    bookings: ReadBookings
    idempotency: Idempotency
    jobs: OperateJobs
    relay: RelayOutbox
    fixer: Fixer
    waitlist: OperateWaitlist
    health: HealthChecks
    payments: Payments
    cancellation: CancellationTerms
    notifications: Notifications
    webhooks: OperateWebhooks
    calendar_sync: CalendarSync
    calendar_export: CalendarExporter
    calendars: ConnectCalendars
    conflicts: OperateConflicts
    live: LiveUpdates
    rush: RushRefusals | None  # the rush lane (PostgreSQL); its reads open with the app
    cursor_secret: bytes
    # /readyz: name → its check, returning None when healthy, else what is wrong
    checks: dict[str, Dependency] = field(default_factory=dict)
