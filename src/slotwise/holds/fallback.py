"""A unit of work's holds when Redis is configured: Redis first, the SQL store when it is down.

A Redis write cannot roll back with the SQL transaction, so within one unit of work:

- `acquire` runs its script at once: that is the atomic claim, across processes;
- status changes (`save`: converted, released) wait until the SQL work is done and are applied
  just before the SQL commit, while the writer still holds its per-resource lock, so the next
  writer never sees a converted hold as live (a group session's next seat would be refused);
- holds acquired by a unit of work that rolls back or never commits are released.

Limits, by design:

- If the process dies after an acquire and before the commit, the hold stays until it expires
  (an implicit hold after `IMPLICIT_HOLD_TTL_S`, 60 s; an explicit one after its own TTL). If the
  SQL commit itself fails after a conversion was applied, the client's hold is gone with no
  booking: the slot is free, never double-booked.
- When Redis is unreachable (connection refused, timeout), holds are written to the SQL store in
  the caller's transaction, never skipped; `live` reads the SQL holds always and Redis's when it
  answers. Holds placed in Redis before the outage are invisible during it; the database's
  overlap guard on allocations still refuses every double booking. A status change that cannot
  reach Redis is dropped (logged): that hold lingers until it expires, next to the booking's
  allocation that blocks the same range anyway.
- Redis here keeps nothing on disk: a restart forgets every hold in it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

import redis
from sqlalchemy.engine import Connection

from slotwise.domain.booking import Hold, HoldStatus
from slotwise.holds.redis import RedisHoldStore
from slotwise.holds.sql import SqlHoldStore

log = logging.getLogger(__name__)

REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)


class CircuitBreaker:
    """After a failure Redis is skipped for `cooldown_s`, then tried again, so an outage costs
    one connect timeout per cooldown instead of one per request."""

    def __init__(self, cooldown_s: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.cooldown_s = cooldown_s
        self._monotonic = monotonic
        self._open_until = 0.0

    def allows(self) -> bool:
        return self._monotonic() >= self._open_until

    def trip(self, error: Exception) -> None:
        if self.allows():
            log.warning("Redis unreachable, holds fall back to SQL for %.1f s: %s",
                        self.cooldown_s, error)
        self._open_until = self._monotonic() + self.cooldown_s


class RedisHoldsWithFallback:
    """One unit of work's `HoldStore` (see the module docstring)."""

    def __init__(self, store: RedisHoldStore, sql: SqlHoldStore,
                 breaker: CircuitBreaker) -> None:
        self._redis = store
        self._sql = sql
        self._breaker = breaker
        self._in_redis: set[str] = set()
        self._acquired: list[Hold] = []
        self._pending: dict[str, Hold] = {}

    def acquire(self, hold: Hold, now: datetime) -> None:
        if self._breaker.allows():
            try:
                self._redis.acquire(hold, now)  # OverlapRefused propagates
            except REDIS_DOWN as error:
                self._breaker.trip(error)
            else:
                self._in_redis.add(hold.id)
                self._acquired.append(hold)
                return
        self._sql.acquire(hold, now)

    def get(self, org_id: str, hold_id: str) -> Hold | None:
        if hold_id in self._pending:
            return self._pending[hold_id]
        if self._breaker.allows():
            try:
                hold = self._redis.get(org_id, hold_id)
            except REDIS_DOWN as error:
                self._breaker.trip(error)
            else:
                if hold is not None:
                    self._in_redis.add(hold_id)
                    return hold
        return self._sql.get(org_id, hold_id)

    def save(self, hold: Hold) -> None:
        if hold.id in self._in_redis:
            self._pending[hold.id] = hold
        else:
            self._sql.save(hold)

    def extend(self, org_id: str, hold_id: str, expires_at: datetime,
               now: datetime) -> Hold | None:
        # At once, not at commit: the answer depends on it, and extending writes nothing else.
        if self._breaker.allows():
            try:
                extended = self._redis.extend(org_id, hold_id, expires_at, now)
            except REDIS_DOWN as error:
                self._breaker.trip(error)
            else:
                if extended is not None:
                    return extended
        return self._sql.extend(org_id, hold_id, expires_at, now)

    def live(self, org_id: str, resource_ids: Sequence[str], start: datetime, end: datetime,
             now: datetime) -> list[Hold]:
        found = self._sql.live(org_id, resource_ids, start, end, now)
        found += self.live_elsewhere(org_id, resource_ids, start, end, now)
        return sorted(found, key=lambda h: (h.start, h.id))

    def live_elsewhere(self, org_id: str, resource_ids: Sequence[str], start: datetime,
                       end: datetime, now: datetime) -> list[Hold]:
        """The live holds in Redis (none while it is out of reach), as this unit of work
        will leave them."""
        if not self._breaker.allows():
            return []
        try:
            in_redis = self._redis.live(org_id, resource_ids, start, end, now)
        except REDIS_DOWN as error:
            self._breaker.trip(error)
            return []
        return [h for h in (self._pending.get(h.id, h) for h in in_redis) if h.is_live(now)]

    def live_of_org(self, org_id: str, now: datetime, limit: int,
                    after: tuple[datetime, str] | None = None) -> list[Hold]:
        found = self._sql.live_of_org(org_id, now, limit, after)
        if self._breaker.allows():
            try:
                in_redis = self._redis.live_of_org(org_id, now, limit, after)
            except REDIS_DOWN as error:
                self._breaker.trip(error)
            else:
                found += [h for h in (self._pending.get(h.id, h) for h in in_redis)
                          if h.is_live(now)]
        return sorted(found, key=lambda h: (h.start, h.id))[:limit]

    def before_commit(self) -> None:
        pending, self._pending = self._pending, {}
        for hold in pending.values():
            self._apply(hold)

    def after_commit(self) -> None:
        self._acquired.clear()  # the caller's now

    def after_rollback(self) -> None:
        self._pending.clear()
        acquired, self._acquired = self._acquired, []
        for hold in acquired:
            self._apply(replace(hold, status=HoldStatus.RELEASED))

    def _apply(self, hold: Hold) -> None:
        if not self._breaker.allows():
            log.warning("Redis unreachable: hold %s stays until it expires", hold.id)
            return
        try:
            self._redis.save(hold)
        except REDIS_DOWN as error:
            self._breaker.trip(error)
            log.warning("Redis unreachable: hold %s stays until it expires", hold.id)


class RedisHoldsFactory:
    """Builds each unit of work's holds; the Redis store and the breaker are the process's."""

    def __init__(self, store: RedisHoldStore, breaker: CircuitBreaker) -> None:
        self.store = store
        self.breaker = breaker

    def __call__(self, connection: Connection) -> RedisHoldsWithFallback:
        return RedisHoldsWithFallback(self.store, SqlHoldStore(connection), self.breaker)
