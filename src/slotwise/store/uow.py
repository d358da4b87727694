"""The SQL unit of work: one connection, one transaction, every repository on it."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Protocol

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from slotwise.domain import ports
from slotwise.holds.sql import SqlHoldStore
from slotwise.store.repositories.accounts import (
    SqlApiKeys,
    SqlAuthSessions,
    SqlOrganisations,
    SqlUsers,
)
from slotwise.store.repositories.bookings import SqlBookings, SqlCustomers, SqlSeries
from slotwise.store.repositories.catalog import (
    SqlBlocks,
    SqlLocations,
    SqlResources,
    SqlSchedules,
    SqlServices,
)
from slotwise.store.repositories.outbox import SqlOutbox

_LOCK_NAMESPACE = 0x51_07  # first key of the two-key advisory lock: "slotwise resource"


class TransactionHolds(ports.HoldStore, Protocol):
    """A unit of work's holds, told how its transaction ends: a store outside the SQL
    transaction (Redis) applies its deferred changes or undoes its claims then."""

    def before_commit(self) -> None: ...
    def after_commit(self) -> None: ...
    def after_rollback(self) -> None: ...


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

    def __init__(self, engine: Engine, *, write: bool = False,
                 holds: HoldsFactory = SqlHoldStore) -> None:
        self._engine = engine
        self._write = write
        self._holds_factory = holds
        self._holds: TransactionHolds | None = None
        self._connection: Connection | None = None

    def __enter__(self) -> SqlUnitOfWork:
        connection = self._engine.connect()
        if self._write:
            connection = connection.execution_options(sqlite_write=True)
        connection.begin()
        self._connection = connection
        self.organisations = SqlOrganisations(connection)
        self.users = SqlUsers(connection)
        self.api_keys = SqlApiKeys(connection)
        self.auth_sessions = SqlAuthSessions(connection)
        self.locations = SqlLocations(connection)
        self.resources = SqlResources(connection)
        self.schedules = SqlSchedules(connection)
        self.blocks = SqlBlocks(connection)
        self.services = SqlServices(connection)
        self.customers = SqlCustomers(connection)
        self.bookings = SqlBookings(connection)
        self.holds = self._holds = self._holds_factory(connection)
        self.series = SqlSeries(connection)
        self.outbox = SqlOutbox(connection)
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

    def lock_resources(self, org_id: str, resource_ids: Sequence[str]) -> None:
        if self.connection.dialect.name != "postgresql":
            return  # SQLite: BEGIN IMMEDIATE already serialises every writer.
        # Contended exclusion checks deadlock in PostgreSQL; taking these locks in one global
        # order first serialises writers per resource and leaves the constraint as the last word.
        keys = sorted({_lock_key(org_id, rid) for rid in resource_ids})
        for key in keys:
            self.connection.execute(
                text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": _LOCK_NAMESPACE, "key": key}
            )


def _lock_key(org_id: str, resource_id: str) -> int:
    """A stable signed 32-bit key per (organisation, resource)."""
    value = zlib.crc32(f"{org_id}:{resource_id}".encode())
    return value - (1 << 32) if value >= (1 << 31) else value


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine, holds: HoldsFactory = SqlHoldStore) -> None:
        self.engine = engine
        self.holds = holds

    def __call__(self, *, write: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write=write, holds=self.holds)
