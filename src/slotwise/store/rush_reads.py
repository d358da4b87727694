"""The rush lane's reads (app/rush.py) on PostgreSQL, made on the event loop through async
psycopg: who calls, with their organisation's catalog version, in one statement (or, on a
public route, the organisation by its slug); and the busy time of some resources, by the same
statement as every other reader's (repositories/busy.py).

Each statement is the store's own SQLAlchemy construct, compiled once for psycopg: at run time
no SQLAlchemy, no request thread. The connections are a psycopg pool opened in the event loop
that serves the requests (the application's lifespan), and closed with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy import ColumnElement, Table, bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ClauseElement

from slotwise.domain.booking import Hold
from slotwise.domain.errors import ReadUnavailable
from slotwise.domain.model import BusyRange, Principal, Role
from slotwise.domain.ports import Caller
from slotwise.holds.fallback import REDIS_DOWN, CircuitBreaker
from slotwise.holds.redis import AsyncLiveHolds
from slotwise.store.repositories.busy import busy_parameters, busy_ranges, busy_time_statement
from slotwise.store.tables import api_keys, auth_sessions, organisations, users
from slotwise.store.types import from_epoch

POOL_MAX = 8  # a process's reads in flight at once; more wait for a connection
POOL_TIMEOUT_S = 1.0  # then the lane gives the request to the full path


def _compiled(statement: ClauseElement) -> str:
    return str(statement.compile(dialect=postgresql.psycopg.dialect()))  # type: ignore[no-untyped-call]


def _caller(credential: Table, holder: ColumnElement[str], state: ColumnElement[Any],
            digest: ColumnElement[str]) -> str:
    """The credential's holder, their organisation's catalog version and the credential's own
    state (a session's end, an API key's revocation), by the credential's digest."""
    return _compiled(
        select(users.c.id, users.c.org_id, users.c.role, organisations.c.catalog_version,
               state)
        .select_from(credential)
        .join(users, users.c.id == holder)
        .join(organisations, organisations.c.id == users.c.org_id)
        .where(digest == bindparam("hash")))


_BY_SESSION = _caller(auth_sessions, auth_sessions.c.user_id, auth_sessions.c.expires_at,
                      auth_sessions.c.token_hash)
_BY_KEY = _caller(api_keys, api_keys.c.user_id, api_keys.c.revoked_at, api_keys.c.key_hash)
_BY_SLUG = _compiled(select(organisations.c.id, organisations.c.catalog_version)
                     .where(organisations.c.slug == bindparam("slug")))
_BUSY = _compiled(busy_time_statement(True))


class PostgresRushReads:
    """The reads, on a pool of at most `POOL_MAX` autocommit connections (a reader gains
    nothing from a transaction under read committed), and the holds kept in Redis as the
    units of work read them (holds/fallback.py): none while the breaker says Redis is out
    of reach."""

    def __init__(self, database_url: str, redis_holds: AsyncLiveHolds | None = None,
                 breaker: CircuitBreaker | None = None) -> None:
        self._conninfo = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._pool: AsyncConnectionPool[Any] | None = None
        self._redis_holds = redis_holds
        self._breaker = breaker or CircuitBreaker()

    async def open(self) -> None:
        """Open the pool in the running event loop (it serves that loop only)."""
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            self._conninfo, min_size=1, max_size=POOL_MAX, timeout=POOL_TIMEOUT_S,
            kwargs={"autocommit": True, "prepare_threshold": 0}, open=False)
        await pool.open(wait=False)  # a database down at start-up is the full path's to say
        self._pool = pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
        if self._redis_holds is not None:
            await self._redis_holds.close()

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    async def caller(self, credential_hash: str, *, api_key: bool) -> Caller | None:
        """The holder of a session (`api_key` False) or API key by its digest, with their
        organisation's catalog version; the app decides whether it still authenticates."""
        row = await self._one(_BY_KEY if api_key else _BY_SESSION, {"hash": credential_hash})
        if row is None:
            return None
        user_id, org_id, role, version, state = row
        return Caller(Principal(org_id=org_id, user_id=user_id, role=Role(role)), version,
                      expires_at=None if api_key else from_epoch(state),
                      revoked=api_key and state is not None)

    async def organisation(self, slug: str) -> tuple[str, int] | None:
        row = await self._one(_BY_SLUG, {"slug": slug})
        return (row[0], row[1]) if row is not None else None

    async def busy_time(self, org_id: str, resource_ids: Sequence[str], start: datetime,
                        end: datetime, now: datetime) -> list[BusyRange]:
        if not resource_ids:
            return []
        found = busy_ranges(await self._all(
            _BUSY, busy_parameters(org_id, resource_ids, start, end, now)))
        wanted = set(resource_ids)
        return found + [BusyRange("hold", hold.id, held.resource_id, held.blocked_start,
                                  held.blocked_end)
                        for hold in await self._held_in_redis(org_id, resource_ids, start,
                                                              end, now)
                        for held in hold.resources if held.resource_id in wanted]

    async def _held_in_redis(self, org_id: str, resource_ids: Sequence[str], start: datetime,
                             end: datetime, now: datetime) -> list[Hold]:
        if self._redis_holds is None or not self._breaker.allows():
            return []
        try:
            return await self._redis_holds.live(org_id, resource_ids, start, end, now)
        except REDIS_DOWN as error:
            self._breaker.trip(error)
            return []

    async def _one(self, sql: str, parameters: dict[str, Any]) -> TupleRow | None:
        rows = await self._all(sql, parameters)
        return rows[0] if rows else None

    async def _all(self, sql: str, parameters: dict[str, Any]) -> list[TupleRow]:
        if self._pool is None:
            raise ReadUnavailable("the rush reads are not open in this event loop")
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(sql.encode(), parameters)
                rows: list[TupleRow] = await cursor.fetchall()
                return rows
        except (psycopg.OperationalError, PoolTimeout) as error:
            raise ReadUnavailable(str(error)) from error
