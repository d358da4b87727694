"""A live `slotwise serve` for the benchmark, and the scenarios seeded into it.

Resources, schedules and services go through the HTTP API (as a client would create them);
the many existing bookings are written through the store's repositories in a few large
transactions, which makes them real bookings with real allocations (the overlap guards run on
every row) without paying for one HTTP round trip each.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from scenarios import Scenario

from slotwise.bootstrap import build
from slotwise.domain.booking import Booking, BookingStatus
from slotwise.domain.ids import new_id
from slotwise.domain.model import Customer
from slotwise.settings import Settings
from slotwise.store.uow import SqlUnitOfWorkFactory
from slotwise.testing import api
from slotwise.testing.serve import slotwise_serve

BATCH = 500


@contextmanager
def server(database_url: str, now: str) -> Iterator[str]:
    """`slotwise serve` on a free port with the clock pinned at `now`; yields its base URL.
    Logs go to a temporary file (the access log stays on, as in production)."""
    with tempfile.TemporaryDirectory(prefix="slotwise-bench-") as workdir, slotwise_serve({
            "SLOTWISE_DATABASE_URL": database_url, "SLOTWISE_NOW": now,
            "SLOTWISE_LOG_JSON": "true", "SLOTWISE_PASSWORD_HASH_TIME_COST": "1",
            "SLOTWISE_PASSWORD_HASH_MEMORY_KIB": "1024"}, Path(workdir)) as base_url:
        yield base_url


@dataclass
class Seeded:
    org: api.Org
    service_ids: dict[str, str]  # ServiceSpec key -> id
    resource_ids: dict[str, str]  # ResourceSpec key -> id

    @property
    def measured(self) -> str:
        return next(iter(self.service_ids.values()))


def seed(scenario: Scenario, client: httpx.Client, database_url: str) -> Seeded:
    org = api.signup(client, timezone=scenario.zone)
    resource_ids: dict[str, str] = {}
    for spec in scenario.resources:
        weekly: list[dict[str, Any]] = [
            {"days": list(spec.days), "start": spec.start, "end": spec.end}]
        created = api.resource(org, name=spec.key, kind=spec.kind, tags=list(spec.tags),
                               weekly=weekly)
        resource_ids[spec.key] = created["id"]
    service_ids: dict[str, str] = {}
    for svc in scenario.services:
        created = api.service(
            org, name=svc.key, duration_min=svc.duration_min, step_min=svc.step_min,
            requirements=[{"kind": r.kind, "count": r.count, "tags": list(r.tags)}
                          for r in svc.requirements])
        service_ids[svc.key] = created["id"]
    _write_bookings(scenario, org.id, service_ids, resource_ids, database_url)
    return Seeded(org, service_ids, resource_ids)


def _write_bookings(scenario: Scenario, org_id: str, service_ids: dict[str, str],
                    resource_ids: dict[str, str], database_url: str) -> None:
    container = build(Settings(database_url=database_url, database_pool_size=2))
    try:
        uow_factory = SqlUnitOfWorkFactory(container.engine)
        customer = Customer(id=new_id("customer"), org_id=org_id, name="Bench Customer",
                            email="bench@example.com")
        with uow_factory(write=True) as uow:
            customer = uow.customers.upsert(customer)
            uow.commit()
        bookings = scenario.bookings
        for first in range(0, len(bookings), BATCH):
            with uow_factory(write=True) as uow:
                for spec in bookings[first:first + BATCH]:
                    rids = tuple(resource_ids[k] for k in spec.resources)
                    booking = Booking(
                        id=new_id("booking"), org_id=org_id,
                        service_id=service_ids[spec.service], customer=customer,
                        status=BookingStatus.CONFIRMED, start=spec.start, end=spec.end,
                        resource_ids=rids, created_at=scenario.now, updated_at=scenario.now)
                    uow.bookings.add(booking, [(rid, spec.start, spec.end) for rid in rids],
                                     booking.id)
                uow.commit()
    finally:
        container.close()
