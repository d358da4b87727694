"""The SQL unit of work: one connection, one transaction, every repository on it."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol

from sqlalchemy import Engine, TextClause, text
from sqlalchemy.engine import Connection

from slotwise.domain import ports
from slotwise.domain.audit import AuditLog, Repairs
from slotwise.domain.booking import Hold
from slotwise.domain.calendars import Calendars
from slotwise.domain.conflicts import Conflicts
from slotwise.domain.jobs import JobQueue
from slotwise.domain.messages import Messages
from slotwise.domain.model import BusyRange
from slotwise.domain.waitlist import Waitlist
from slotwise.domain.webhooks import Webhooks
from slotwise.holds.sql import SqlHoldStore
from slotwise.store.catalog_cache import (
    CachedLocations,
    CachedResources,
    CachedSchedules,
    CachedServices,
    CatalogCache,
    CatalogView,
)
from slotwise.store.jobs import ProcrastinateJobQueue, SqliteJobQueue
from slotwise.store.repositories.accounts import (
    SqlApiKeys,
    SqlAuthSessions,
    SqlOrganisations,
    SqlUsers,
)
from slotwise.store.repositories.audit import SqlAuditLog, SqlRepairs
from slotwise.store.repositories.bookings import SqlBookings, SqlCustomers, SqlSeries
from slotwise.store.repositories.busy import SqlBusyTime
from slotwise.store.repositories.calendars import SqlCalendars
from slotwise.store.repositories.catalog import SqlBlocks
from slotwise.store.repositories.conflicts import SqlConflicts
from slotwise.store.repositories.messages import SqlMessages
from slotwise.store.repositories.outbox import SqlOutbox
from slotwise.store.repositories.payments import SqlPayments
from slotwise.store.repositories.waitlist import SqlWaitlist
from slotwise.store.repositories.webhooks import SqlWebhooks

_LOCK_NAMESPACE = 0x51_07  # first key of the two-key advisory lock: "slotwise resource"


class TransactionHolds(ports.HoldStore, Protocol):
    """A unit of work's holds, told how its transaction ends: a store outside the SQL
    transaction (Redis) applies its deferred changes or undoes its claims then."""

    def before_commit(self) -> None: ...
    def after_commit(self) -> None: ...
    def after_rollback(self) -> None: ...
    def live_elsewhere(self, org_id: str, resource_ids: Sequence[str], start: datetime,
                       end: datetime, now: datetime) -> list[Hold]:
        """As `live`, but only the holds kept outside the SQL database (in Redis): the SQL
        ones come with the busy time's one statement."""
        ...


HoldsFactory = Callable[[Connection], TransactionHolds]


class SqlUnitOfWork:
    organisations: ports.Organisations
    users: ports.Users
    api_keys: ports.ApiKeys
    auth_sessions: ports.AuthSessions
    locations: ports.Locations
    resources: ports.Resources
    schedules: ports.Schedules
    blocks: ports.Blocks
    services: ports.Services
    customers: ports.Customers
    bookings: ports.Bookings
    holds: ports.HoldStore
    series: ports.SeriesRepo
    outbox: ports.Outbox
    jobs: JobQueue
    audit: AuditLog
    repairs: Repairs
    waitlist: Waitlist
    payments: ports.PaymentRecords
    messages: Messages
    webhooks: Webhooks
    calendars: Calendars
    conflicts: Conflicts

    def __init__(self, engine: Engine, *, write: bool = False,
                 holds: HoldsFactory = SqlHoldStore,
                 catalog_cache: CatalogCache | None = None) -> None:
        self._engine = engine
        self._write = write
        self._holds_factory = holds
        self._holds: TransactionHolds | None = None
        self._catalog_cache = catalog_cache
        self._connection: Connection | None = None

    def __enter__(self) -> SqlUnitOfWork:
        connection = self._engine.connect()
        if self._write:
            connection = connection.execution_options(sqlite_write=True)
        elif connection.dialect.name == "postgresql":
            # A reader gains nothing from a transaction under read committed (every statement
            # takes its own snapshot anyway) and would pay BEGIN and ROLLBACK round trips.
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.begin()
        self._connection = connection
        catalog = CatalogView(self._catalog_cache, connection)
        self.organisations = SqlOrganisations(connection, catalog.saw)
        self.users = SqlUsers(connection)
        self.api_keys = SqlApiKeys(connection)
        self.auth_sessions = SqlAuthSessions(connection)
        self.locations = CachedLocations(connection, catalog)
        self.resources = CachedResources(connection, catalog)
        self.schedules = CachedSchedules(connection, catalog)
        self.blocks = SqlBlocks(connection)
        self.services = CachedServices(connection, catalog)
        self.customers = SqlCustomers(connection)
        self.bookings = SqlBookings(connection, lock_rows=self._write)
        self.holds = self._holds = self._holds_factory(connection)
        self._busy = SqlBusyTime(connection)
        self.series = SqlSeries(connection)
        self.outbox = SqlOutbox(connection)
        self.jobs = (ProcrastinateJobQueue(connection) if connection.dialect.name == "postgresql"
                     else SqliteJobQueue(connection))
        self.audit = SqlAuditLog(connection)
        self.repairs = SqlRepairs(connection)
        self.waitlist = SqlWaitlist(connection)
        self.payments = SqlPayments(connection)
        self.messages = SqlMessages(connection)
        self.webhooks = SqlWebhooks(connection)
        self.calendars = SqlCalendars(connection, lock_rows=self._write)
        self.conflicts = SqlConflicts(connection)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        connection, holds = self._connection, self._holds
        self._connection = self._holds = None
        if connection is None or holds is None:
            return
        try:
            if connection.in_transaction():
                connection.rollback()
        finally:
            connection.close()
            # Also after a commit that failed; it undoes only what no commit took over.
            holds.after_rollback()

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("unit of work used outside its `with` block")
        return self._connection

    def commit(self) -> None:
        holds = self._transaction_holds()
        holds.before_commit()
        self.connection.commit()
        holds.after_commit()

    def rollback(self) -> None:
        self.connection.rollback()
        self._transaction_holds().after_rollback()

    def _transaction_holds(self) -> TransactionHolds:
        if self._holds is None:
            raise RuntimeError("unit of work used outside its `with` block")
        return self._holds

    def busy_time(self, org_id: str, resource_ids: Sequence[str], start: datetime,
                  end: datetime, now: datetime) -> list[BusyRange]:
        assert self._holds is not None, "inside the unit of work"
        found = self._busy.read(org_id, resource_ids, start, end, now)
        wanted = set(resource_ids)
        found += [BusyRange("hold", hold.id, held.resource_id, held.blocked_start,
                            held.blocked_end)
                  for hold in self._holds.live_elsewhere(org_id, resource_ids, start, end, now)
                  for held in hold.resources if held.resource_id in wanted]
        return found

    def lock_resources(self, org_id: str, resource_ids: Sequence[str]) -> None:
        # Contended exclusion checks deadlock in PostgreSQL; taking these locks in one global
        # order first serialises writers per resource and leaves the constraint as the last
        # word. One round trip: unnest yields the sorted keys in order, and the aggregate
        # takes each in turn (locks already held by this transaction are taken again at once).
        self._lock(org_id, resource_ids, _LOCK_IN_ORDER)

    def try_lock_resources(self, org_id: str, resource_ids: Sequence[str]) -> bool:
        # In order, stopping at the first busy key (migration 0005): what is held stays a
        # prefix of the sorted keys, so `lock_resources` can go on waiting without deadlock.
        return self._lock(org_id, resource_ids, _TRY_LOCKS_IN_ORDER)

    def _lock(self, org_id: str, resource_ids: Sequence[str], statement: TextClause) -> bool:
        if self.connection.dialect.name != "postgresql":
            return True  # SQLite: BEGIN IMMEDIATE already serialises every writer.
        keys = sorted({_lock_key(org_id, rid) for rid in resource_ids})
        if not keys:
            return True
        taken = self.connection.execute(statement,
                                        {"ns": _LOCK_NAMESPACE, "keys": keys}).scalar()
        return bool(taken)


_LOCK_IN_ORDER = text("SELECT count(pg_advisory_xact_lock(:ns, k)) > 0 "
                      "FROM unnest(CAST(:keys AS integer[])) AS t(k)")
_TRY_LOCKS_IN_ORDER = text("SELECT slotwise_try_locks_in_order(:ns, CAST(:keys AS integer[]))")


def _lock_key(org_id: str, resource_id: str) -> int:
    """A stable signed 32-bit key per (organisation, resource)."""
    value = zlib.crc32(f"{org_id}:{resource_id}".encode())
    return value - (1 << 32) if value >= (1 << 31) else value


class SqlUnitOfWorkFactory:
    """Units of work on one engine, with the holds of `holds` and sharing this process's
    catalog cache (`catalog_cache` False: none, every read goes to the database)."""

    def __init__(self, engine: Engine, holds: HoldsFactory = SqlHoldStore, *,
                 catalog_cache: bool = True) -> None:
        self.engine = engine
        self.holds = holds
        self.catalog_cache = CatalogCache() if catalog_cache else None

    def __call__(self, *, write: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write=write, holds=self.holds,
                             catalog_cache=self.catalog_cache)
