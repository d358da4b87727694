"""Ports: what the use cases need from the outside world, as small typed protocols.

Repositories never commit; the unit of work that owns them does. Each port has an in-memory
fake in `slotwise.testing` or a real adapter that tests run against the real component.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import NamedTuple, Protocol

from slotwise.domain.audit import AuditLog, Repairs
from slotwise.domain.booking import Booking, Hold
from slotwise.domain.calendars import Calendars
from slotwise.domain.conflicts import Conflicts
from slotwise.domain.jobs import JobQueue
from slotwise.domain.messages import Messages
from slotwise.domain.model import (
    Allocation,
    ApiKey,
    AuthSession,
    Block,
    BookedTime,
    BookingFilter,
    BusyRange,
    Customer,
    IdempotencyRecord,
    Location,
    Organisation,
    OutboxEvent,
    Principal,
    Resource,
    Schedule,
    SequenceRule,
    Series,
    Service,
    User,
)
from slotwise.domain.payments import BookingFee, BookingPayment, BookingRefund, PaymentEvent
from slotwise.domain.waitlist import Waitlist
from slotwise.domain.webhooks import Webhooks


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, aware UTC."""
        ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...


class Organisations(Protocol):
    def add(self, org: Organisation) -> None: ...
    def get(self, org_id: str) -> Organisation | None: ...
    def by_slug(self, slug: str) -> Organisation | None: ...
    def update(self, org: Organisation) -> None:
        """Store its name and zone (the id, slug and creation time never change)."""
        ...


class Users(Protocol):
    def add(self, user: User) -> None: ...
    def get(self, org_id: str, user_id: str) -> User | None: ...
    def by_email(self, email: str) -> User | None: ...
    def owner_email(self, org_id: str) -> str | None:
        """Where the organisation's team is told of trouble: its first owner's address."""
        ...


class ApiKeys(Protocol):
    def add(self, key: ApiKey) -> None: ...
    def by_hash(self, key_hash: str) -> tuple[ApiKey, User] | None:
        """The key with that hash and the user it belongs to (one read per request)."""
        ...
    def list(self, org_id: str) -> list[ApiKey]: ...
    def revoke(self, org_id: str, key_id: str, at: datetime) -> bool: ...


class AuthSessions(Protocol):
    def add(self, session: AuthSession) -> None: ...
    def by_hash(self, token_hash: str) -> tuple[AuthSession, User] | None:
        """The session with that hash and its user (one read per request)."""
        ...
    def end(self, token_hash: str, at: datetime) -> bool:
        """Make the session with that hash expire at `at` unless it already has; False when
        there is no such live session."""
        ...


class Locations(Protocol):
    def add(self, location: Location) -> None: ...
    def update(self, location: Location) -> None: ...
    def get(self, org_id: str, location_id: str) -> Location | None: ...
    def many(self, org_id: str, location_ids: Sequence[str]) -> dict[str, Location]: ...
    def list(self, org_id: str) -> list[Location]: ...
    def schedules(self, org_id: str, location_ids: Sequence[str]) -> dict[str, Schedule]:
        """Opening hours of those of the locations that have any, by location id."""
        ...

    def put_schedule(self, schedule: Schedule) -> None: ...


class Resources(Protocol):
    def add(self, resource: Resource) -> None: ...
    def get(self, org_id: str, resource_id: str) -> Resource | None: ...
    def many(self, org_id: str, resource_ids: Sequence[str]) -> dict[str, Resource]:
        """The live resources among those ids, by id (unknown ids are simply absent)."""
        ...
    def list(self, org_id: str, after: str | None = None, limit: int | None = None
             ) -> list[Resource]:
        """Live resources ordered by id, after the id `after`."""
        ...
    def update(self, resource: Resource) -> None: ...
    def archive(self, org_id: str, resource_id: str, at: datetime) -> None: ...


class Schedules(Protocol):
    def get(self, org_id: str, resource_id: str) -> Schedule | None: ...
    def many(self, org_id: str, resource_ids: Sequence[str]) -> dict[str, Schedule]: ...
    def put(self, schedule: Schedule) -> None: ...


class Blocks(Protocol):
    def add(self, block: Block) -> None: ...
    def get(self, org_id: str, block_id: str) -> Block | None: ...
    def delete(self, org_id: str, block_id: str) -> None: ...


class Services(Protocol):
    def add(self, service: Service) -> None: ...
    def get(self, org_id: str, service_id: str) -> Service | None: ...
    def by_slug(self, org_id: str, slug: str) -> Service | None: ...
    def list(self, org_id: str) -> list[Service]: ...
    def update(self, service: Service) -> None: ...
    def rules_touching(self, org_id: str, service_id: str
                       ) -> builtins.list[tuple[str, SequenceRule]]:
        """Sequence rules naming the service on either side, as (owning service id, rule)."""
        ...


class Customers(Protocol):
    def by_email(self, org_id: str, email: str) -> Customer | None: ...
    def count_no_show(self, org_id: str, customer_id: str) -> None: ...
    def upsert(self, customer: Customer) -> Customer:
        """Add the customer, or update the one with that e-mail: its name, and its phone and
        zone when given. Returns the stored customer (safe against a concurrent upsert)."""
        ...


class Bookings(Protocol):
    def add(self, booking: Booking, blocked: Sequence[tuple[str, datetime, datetime]],
            session_key: str) -> None:
        """Insert the booking and one active allocation per (resource_id, blocked range).

        Allocations with the same `session_key` (seats of one group session) may overlap.
        Raises `OverlapRefused` when the database's overlap guard refuses an allocation; the
        transaction is then spoilt (no savepoint, to save two round trips) and must be rolled
        back, as every writer does on a refusal.
        """
        ...
    def get(self, org_id: str, booking_id: str) -> Booking | None: ...
    def by_manage_token(self, booking_id: str, token_hash: str) -> Booking | None:
        """The booking, found by the credential its customer holds (public routes)."""
        ...
    def list(self, org_id: str, query: BookingFilter) -> list[Booking]: ...
    def update(self, booking: Booking) -> None:
        """Store a state change; allocations are deactivated when the status frees resources."""
        ...
    def move(self, booking: Booking, blocked: Sequence[tuple[str, datetime, datetime]],
             session_key: str) -> None:
        """Replace the booking's times, resources and allocations. May raise `OverlapRefused`
        (the transaction must then be rolled back, as for `add`)."""
        ...
    def swap_resource(self, booking: Booking, from_resource_id: str, to_resource_id: str,
                      blocked_start: datetime, blocked_end: datetime) -> None:
        """Store ``booking`` (its new resources) and move its active allocation from one
        resource to the other, with that blocked range, in place: its other allocations
        stay as they are. Guarded like `add`: may raise `OverlapRefused`."""
        ...
    def busy(self, org_id: str, resource_ids: Sequence[str], start: datetime, end: datetime
             ) -> builtins.list[Allocation]:
        """Active allocations on those resources whose blocked range overlaps [start, end)."""
        ...
    def booked(self, org_id: str, resource_ids: Sequence[str], start: datetime, end: datetime
               ) -> builtins.list[BookedTime]:
        """Live bookings on those resources starting in [start, end), one row per resource."""
        ...

    def booked_seconds(self, org_id: str, resource_ids: Sequence[str], start: datetime,
                       end: datetime) -> dict[str, int]:
        """Per resource, the summed seconds of what ``booked`` returns (absent: none)."""
        ...

    def has_future(self, org_id: str, resource_id: str, now: datetime) -> bool: ...
    def confirmed_ended_before(self, instant: datetime, limit: int
                               ) -> builtins.list[Booking]: ...
    def pending_past(self, now: datetime, limit: int) -> builtins.list[Booking]:
        """Pending bookings of every organisation whose `pending_until` has passed."""
        ...
    def of_service(self, org_id: str, service_id: str, start: datetime, end: datetime
                   ) -> builtins.list[Booking]:
        """Pending and confirmed bookings of the service starting in [start, end)."""
        ...


class HoldStore(Protocol):
    """Tentative holds with a TTL. `acquire` is atomic across all the hold's resources."""

    def acquire(self, hold: Hold, now: datetime) -> None:
        """Store the hold; raises `OverlapRefused` if a live hold overlaps on a resource (the
        transaction must then be rolled back, as for `Bookings.add`)."""
        ...
    def get(self, org_id: str, hold_id: str) -> Hold | None: ...
    def save(self, hold: Hold) -> None:
        """Store a status change (release, convert, expire)."""
        ...
    def extend(self, org_id: str, hold_id: str, expires_at: datetime,
               now: datetime) -> Hold | None:
        """Move a hold live at `now` to expire at `expires_at`; None if it is not live."""
        ...
    def live(self, org_id: str, resource_ids: Sequence[str], start: datetime, end: datetime,
             now: datetime) -> list[Hold]:
        """Live holds with a held range on one of the resources overlapping [start, end)."""
        ...
    def live_of_org(self, org_id: str, now: datetime, limit: int,
                    after: tuple[datetime, str] | None = None) -> list[Hold]:
        """The organisation's holds live at `now`, ordered by (start, id), at most `limit`,
        those after the (start, id) `after` only (an admin list, paged)."""
        ...


class SeriesRepo(Protocol):
    def add(self, series: Series) -> None: ...


class Outbox(Protocol):
    def add(self, event: OutboxEvent) -> None: ...
    def for_aggregate(self, org_id: str, aggregate_id: str) -> list[OutboxEvent]: ...
    def unpublished(self, limit: int) -> list[OutboxEvent]:
        """The oldest events not yet relayed, locked for this transaction; events another
        relay has locked are skipped, not waited for."""
        ...
    def mark_published(self, event_ids: Sequence[str], at: datetime) -> None: ...
    def backlog(self) -> tuple[int, datetime | None]:
        """How many events wait for the relay, and when the oldest was written."""
        ...


class PaymentRecords(Protocol):
    """Bookings' payments, refunds and fees, and the webhook events already applied.
    ``lock=True`` reads lock the row until the transaction ends (PostgreSQL; SQLite's writer
    is alone anyway), so two deliveries for one payment are applied one after the other."""

    def add(self, payment: BookingPayment) -> None: ...
    def get(self, org_id: str, payment_id: str, *, lock: bool = False
            ) -> BookingPayment | None: ...
    def for_booking(self, org_id: str, booking_id: str, *, lock: bool = False
                    ) -> BookingPayment | None: ...
    def for_bookings(self, org_id: str, booking_ids: Sequence[str]
                     ) -> dict[str, BookingPayment]: ...
    def by_external(self, gateway: str, external_id: str, *, lock: bool = False
                    ) -> BookingPayment | None: ...
    def update(self, payment: BookingPayment) -> None: ...
    def seen(self, org_id: str, gateway: str, event: PaymentEvent, outcome: str,
             at: datetime) -> bool:
        """Record a webhook event as applied; False (and nothing written) when that event id
        was recorded before."""
        ...
    def add_refund(self, refund: BookingRefund) -> bool:
        """Insert unless a refund with its ``key`` exists; False then."""
        ...
    def get_refund(self, org_id: str, refund_id: str, *, lock: bool = False
                   ) -> BookingRefund | None: ...
    def refunds(self, org_id: str, payment_id: str) -> list[BookingRefund]: ...
    def update_refund(self, refund: BookingRefund) -> None: ...
    def add_fee(self, fee: BookingFee) -> bool:
        """Insert unless the booking has a fee of that kind; False then."""
        ...
    def fees(self, org_id: str, booking_ids: Sequence[str]) -> list[BookingFee]: ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the `with` block without `commit()` rolls everything back."""

    organisations: Organisations
    users: Users
    api_keys: ApiKeys
    auth_sessions: AuthSessions
    locations: Locations
    resources: Resources
    schedules: Schedules
    blocks: Blocks
    services: Services
    customers: Customers
    bookings: Bookings
    holds: HoldStore
    series: SeriesRepo
    outbox: Outbox
    jobs: JobQueue
    audit: AuditLog
    repairs: Repairs
    waitlist: Waitlist
    payments: PaymentRecords
    messages: Messages
    webhooks: Webhooks
    calendars: Calendars
    conflicts: Conflicts

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def busy_time(self, org_id: str, resource_ids: Sequence[str], start: datetime,
                  end: datetime, now: datetime) -> list[BusyRange]:
        """Everything that makes those resources busy in [start, end): active allocations,
        blocks, and holds live at `now` wherever they are kept."""
        ...
    def lock_resources(self, org_id: str, resource_ids: Sequence[str]) -> None:
        """Serialise writers per resource until the transaction ends (sorted, deadlock-free)."""
        ...
    def try_lock_resources(self, org_id: str, resource_ids: Sequence[str]) -> bool:
        """`lock_resources` without waiting: False when another writer holds one of them. It
        takes them in the same order and stops at the first busy one, so what it holds is a
        prefix of that order and `lock_resources` can then wait for the rest without deadlock."""
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool = False) -> UnitOfWork: ...


class Caller(NamedTuple):
    """A credential's holder and their organisation's catalog version, as `RushReads` finds
    them; whether the credential still authenticates is the caller's to decide."""

    principal: Principal
    catalog_version: int
    expires_at: datetime | None  # a session's end
    revoked: bool  # an API key's


class RushReads(Protocol):
    """The reads a rush's refusal makes, awaited on the event loop (app/rush.py): no unit of
    work, no request thread. Raise `ReadUnavailable` when they cannot answer now. Opened
    and closed in the event loop that awaits them (the application's lifespan)."""

    @property
    def is_open(self) -> bool: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def caller(self, credential_hash: str, *, api_key: bool) -> Caller | None: ...

    async def organisation(self, slug: str) -> tuple[str, int] | None:
        """The organisation's id and catalog version, by its public slug."""
        ...

    async def busy_time(self, org_id: str, resource_ids: Sequence[str], start: datetime,
                        end: datetime, now: datetime) -> list[BusyRange]:
        """As `UnitOfWork.busy_time`: what overlaps `[start, end)` on those resources,
        holds live at `now` wherever they are kept."""
        ...


class IdempotencyStore(Protocol):
    """Records committed outside the request's own transaction, so a concurrent retry sees them."""

    def claim(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        """Insert an in-flight record; return the existing record instead if the key is taken."""
        ...
    def complete(self, record: IdempotencyRecord) -> None: ...
    def forget(self, scope: str, key: str, route: str) -> None: ...
    def purge(self, older_than: datetime) -> int: ...
