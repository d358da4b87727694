"""Store tests write raw SQL around the application: an engine, and an organisation with two
rooms, a customer, a service and a booking row to hang allocations on."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from slotwise.store.database import make_engine

T = 1_800_000_000  # an epoch second; the tests' ranges are offsets from it


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = make_engine(database_url)
    yield built
    built.dispose()


@pytest.fixture
def world(engine: Engine) -> dict[str, str]:
    """Ids of the organisation ("org"), rooms ("res", "res2"), customer ("cus"), service
    ("svc") and booking ("bk", booked T+100 to T+200), written with raw SQL."""
    ids = {k: f"{k}_{secrets.token_hex(6)}" for k in ("org", "res", "res2", "cus", "svc", "bk")}
    with engine.begin() as c:
        c.execute(text("INSERT INTO organisations (id, slug, name, timezone, created_at) "
                       "VALUES (:org, :org, 'Raw', 'UTC', 0)"), ids)
        for rid in ("res", "res2"):
            c.execute(text(
                "INSERT INTO resources (id, org_id, name, kind, timezone, capacity, tags, "
                "buffer_before_min, buffer_after_min, requires_approval, created_at) VALUES "
                f"(:{rid}, :org, 'R', 'room', 'UTC', 1, '[]', 0, 0, false, 0)"), ids)
        c.execute(text("INSERT INTO customers (id, org_id, name, email) "
                       "VALUES (:cus, :org, 'C', 'c@example.com')"), ids)
        c.execute(text(
            "INSERT INTO services (id, org_id, name, slug, duration_min, step_min, "
            "buffer_before_min, buffer_after_min, min_notice_min, max_advance_days, capacity, "
            "created_at) VALUES (:svc, :org, 'S', :svc, 60, 60, 0, 0, 0, 365, 1, 0)"), ids)
        c.execute(text(
            "INSERT INTO bookings (id, org_id, service_id, customer_id, status, start_at, "
            "end_at, resource_ids, created_at, updated_at) VALUES "
            "(:bk, :org, :svc, :cus, 'confirmed', :s, :e, '[]', 0, 0)"),
            {**ids, "s": T + 100, "e": T + 200})
    return ids
