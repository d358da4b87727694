"""Holds with Redis configured: kept in Redis while it answers, in the database when it does not.

The API tests in test_bookings.py and test_concurrency.py also run with Redis holds.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.conftest import RedisKeys

from slotwise.api.app import create_app
from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import Container, build
from slotwise.settings import Settings
from slotwise.store.tables import holds as holds_table
from slotwise.testing.api import Org, book, resource, service, signup

START = "2027-03-08T10:00:00Z"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup(client: TestClient) -> tuple[Org, dict[str, object]]:
    org = signup(client, timezone="UTC")
    resource(org)
    return org, service(org, duration_min=60)


def held_in_database(container: Container) -> int:
    with container.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(holds_table)).scalar_one())


@pytest.mark.parametrize("holds", ["redis"], indirect=True)
def test_holds_are_kept_in_redis_when_it_answers(
        client: TestClient, container: Container, redis_keys: RedisKeys) -> None:
    org, svc = setup(client)
    before = held_in_database(container)
    held = org.post("/v1/holds", {"service_id": svc["id"], "start": START}).json()
    [key] = redis_keys.client.keys(f"{redis_keys.prefix}:*:hold:{held['id']}")
    assert redis_keys.client.hget(key, "status") == b"active"
    booked = book(org, svc["id"], START, hold_id=held["id"])
    assert redis_keys.client.hget(key, "status") == b"converted"
    assert redis_keys.client.hget(key, "booking_id") == booked["id"].encode()
    assert held_in_database(container) == before


@pytest.fixture
def redis_down(database_url: str, clock: FrozenClock) -> Iterator[Container]:
    settings = Settings(database_url=database_url, database_pool_size=4,
                        password_hash_time_cost=1, password_hash_memory_kib=1024,
                        redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    built = build(settings, clock=clock)
    yield built
    built.close()


def test_without_redis_holds_fall_back_to_the_database_and_still_refuse_overlaps(
        redis_down: Container) -> None:
    with TestClient(create_app(redis_down.use_cases)) as client:
        org, svc = setup(client)
        before = held_in_database(redis_down)
        hold = org.post("/v1/holds", {"service_id": svc["id"], "start": START})
        assert hold.status_code == 201, hold.text
        assert held_in_database(redis_down) == before + 1
        assert org.post("/v1/holds", {"service_id": svc["id"], "start": START}
                        ).status_code == 409
        clash = org.post("/v1/bookings", {"service_id": svc["id"], "start": START,
                                          "customer": {"name": "B", "email": "b@x.org"}})
        assert clash.status_code == 409
        extended = org.post(f"/v1/holds/{hold.json()['id']}/extend", {"ttl_s": 900})
        assert extended.status_code == 200, extended.text
        assert book(org, svc["id"], START, hold_id=hold.json()["id"])["start"] == START
        assert org.post("/v1/holds", {"service_id": svc["id"], "start": START}
                        ).status_code == 409


def test_readyz_is_degraded_not_down_without_redis(redis_down: Container) -> None:
    with TestClient(create_app(redis_down.use_cases)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["redis"]["status"] == "unreachable"
    assert "ConnectionError" in body["checks"]["redis"]["error"]
    assert "database" in body["checks"]["redis"]["fallback"]


def test_readyz_is_503_without_the_database(clock: FrozenClock) -> None:
    settings = Settings(database_url=f"postgresql://postgres@127.0.0.1:{closed_port()}/none",
                        redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    container = build(settings, clock=clock)
    with TestClient(create_app(container.use_cases)) as client:
        ready = client.get("/readyz")
    container.close()
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert ready.json()["checks"]["database"]["status"] == "error"
