"""A process-wide cache of each organisation's catalog, keyed by its `catalog_version`.

Every search and booking reads the same slow-changing rows — the service, its requirements
and sequence rules, the organisation's resources and locations, their schedules — while only
the busy time (bookings, blocks, holds) really changes. Triggers raise
`organisations.catalog_version` on any change to those tables (migration 0004), and a unit of
work reads the counter with the organisation's row it needs anyway, so a cached answer is
used only while it is still the database's answer, in every process at once.

Why it is safe:
- An entry is filed under the version its transaction read *before* loading it. On
  PostgreSQL (read committed) the rows loaded afterwards are at least that new; on SQLite a
  transaction reads one snapshot. So an entry is never older than its label.
- A transaction that writes to the catalog stops using the cache at its first write: it must
  see its own uncommitted changes, and must not file them for others.
- A transaction that read an older version than the cached one (it began before a change)
  reads the database itself and leaves the newer entry alone.
"""

from __future__ import annotations

import builtins
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.engine import Connection

from slotwise.domain.model import Location, Resource, Schedule, SequenceRule, Service
from slotwise.store.repositories.catalog import (
    SqlLocations,
    SqlResources,
    SqlSchedules,
    SqlServices,
)
from slotwise.store.tables import organisations

T = TypeVar("T")
Memo = dict[Hashable, object]


class CatalogCache:
    """Per organisation, the answers read at one catalog version (least recently used
    organisations are dropped beyond `max_orgs`)."""

    def __init__(self, max_orgs: int = 1024) -> None:
        self._max_orgs = max_orgs
        self._entries: OrderedDict[str, tuple[int, Memo]] = OrderedDict()
        self._lock = threading.Lock()

    def memo(self, org_id: str, version: int) -> Memo | None:
        """The answers for (organisation, version), new and empty when that version is newer
        than the cached one; None when the caller's version is older."""
        with self._lock:
            found = self._entries.get(org_id)
            if found is not None and found[0] > version:
                return None
            if found is None or found[0] < version:
                found = (version, {})
                self._entries[org_id] = found
                while len(self._entries) > self._max_orgs:
                    self._entries.popitem(last=False)
            self._entries.move_to_end(org_id)
            return found[1]


class CatalogView:
    """One unit of work's use of the cache: the versions its transaction read, and whether it
    has written to the catalog (then it reads the database only)."""

    def __init__(self, cache: CatalogCache | None, connection: Connection) -> None:
        self._cache = cache
        self._c = connection
        self._versions: dict[str, int] = {}
        self._wrote = False

    def saw(self, org_id: str, version: int) -> None:
        """Record the version read with the organisation's row (saves a query later)."""
        self._versions.setdefault(org_id, version)

    def wrote(self) -> None:
        self._wrote = True

    def cached(self, org_id: str, key: Hashable, load: Callable[[], T]) -> T:
        memo = self._memo(org_id)
        if memo is None:
            return load()
        try:
            return memo[key]  # type: ignore[return-value]
        except KeyError:
            value = memo[key] = load()
            return value

    def each(self, org_id: str, key: str, ids: Sequence[str],
             load: Callable[[Sequence[str]], dict[str, T]]) -> dict[str, T]:
        """Answers kept per id (an absent one too): `load` is asked only for ids not yet
        known at this version."""
        known = self.cached(org_id, key, dict[str, T | None])
        missing = [i for i in ids if i not in known]
        if missing:
            loaded = load(missing)
            for i in missing:
                known[i] = loaded.get(i)
        return {i: value for i in ids if (value := known.get(i)) is not None}

    def _memo(self, org_id: str) -> Memo | None:
        if self._cache is None or self._wrote:
            return None
        version = self._versions.get(org_id)
        if version is None:
            version = self._c.execute(select(organisations.c.catalog_version)
                                      .where(organisations.c.id == org_id)).scalar()
            if version is None:
                return None
            self._versions[org_id] = version
        return self._cache.memo(org_id, version)


class CachedResources(SqlResources):
    """Reads come from the organisation's whole list of active resources, read once per
    catalog version."""

    def __init__(self, connection: Connection, view: CatalogView) -> None:
        super().__init__(connection)
        self._view = view

    def _all(self, org_id: str) -> dict[str, Resource]:
        return self._view.cached(org_id, "resources", lambda: {
            r.id: r for r in super(CachedResources, self).list(org_id)})

    def get(self, org_id: str, resource_id: str) -> Resource | None:
        return self._all(org_id).get(resource_id)

    def many(self, org_id: str, resource_ids: Sequence[str]) -> dict[str, Resource]:
        every = self._all(org_id)
        return {rid: every[rid] for rid in resource_ids if rid in every}

    def list(self, org_id: str, after: str | None = None, limit: int | None = None
             ) -> builtins.list[Resource]:
        if after is not None or limit is not None:
            return super().list(org_id, after, limit)
        return list(self._all(org_id).values())  # inserted in id order

    def add(self, resource: Resource) -> None:
        self._view.wrote()
        super().add(resource)

    def update(self, resource: Resource) -> None:
        self._view.wrote()
        super().update(resource)

    def archive(self, org_id: str, resource_id: str, at: datetime) -> None:
        self._view.wrote()
        super().archive(org_id, resource_id, at)


class CachedSchedules(SqlSchedules):
    """Each resource's schedule (or its absence) is read once per catalog version."""

    def __init__(self, connection: Connection, view: CatalogView) -> None:
        super().__init__(connection)
        self._view = view

    def many(self, org_id: str, resource_ids: Sequence[str]) -> dict[str, Schedule]:
        return self._view.each(org_id, "schedules", resource_ids,
                               lambda ids: super(CachedSchedules, self).many(org_id, ids))

    def put(self, schedule: Schedule) -> None:
        self._view.wrote()
        super().put(schedule)


class CachedLocations(SqlLocations):
    def __init__(self, connection: Connection, view: CatalogView) -> None:
        super().__init__(connection)
        self._view = view

    def _all(self, org_id: str) -> dict[str, Location]:
        return self._view.cached(org_id, "locations", lambda: {
            loc.id: loc for loc in super(CachedLocations, self).list(org_id)})

    def many(self, org_id: str, location_ids: Sequence[str]) -> dict[str, Location]:
        every = self._all(org_id)
        return {lid: every[lid] for lid in location_ids if lid in every}

    def list(self, org_id: str) -> builtins.list[Location]:
        return list(self._all(org_id).values())  # inserted in id order

    def schedules(self, org_id: str, location_ids: Sequence[str]) -> dict[str, Schedule]:
        return self._view.each(org_id, "location_schedules", location_ids,
                               lambda ids: super(CachedLocations, self).schedules(org_id, ids))

    def add(self, location: Location) -> None:
        self._view.wrote()
        super().add(location)

    def update(self, location: Location) -> None:
        self._view.wrote()
        super().update(location)

    def put_schedule(self, schedule: Schedule) -> None:
        self._view.wrote()
        super().put_schedule(schedule)


class CachedServices(SqlServices):
    def __init__(self, connection: Connection, view: CatalogView) -> None:
        super().__init__(connection)
        self._view = view

    def get(self, org_id: str, service_id: str) -> Service | None:
        return self._view.cached(org_id, ("service", service_id),
                                 lambda: super(CachedServices, self).get(org_id, service_id))

    def rules_touching(self, org_id: str, service_id: str
                       ) -> builtins.list[tuple[str, SequenceRule]]:
        found = self._view.cached(
            org_id, ("touching", service_id),
            lambda: tuple(super(CachedServices, self).rules_touching(org_id, service_id)))
        return list(found)

    def add(self, service: Service) -> None:
        self._view.wrote()
        super().add(service)

    def update(self, service: Service) -> None:
        self._view.wrote()
        super().update(service)
