"""Fixtures shared by the store, app and API tests: each runs on SQLite and on PostgreSQL.

PostgreSQL gets a fresh database per test session (per xdist worker), dropped afterwards.
Under CI=true an unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from fastapi.testclient import TestClient

from slotwise.api.app import create_app
from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import Container, build
from slotwise.settings import Settings
from slotwise.store.database import make_engine
from slotwise.store.migrate import upgrade

PG_ADMIN = os.environ.get("SLOTWISE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)  # a Monday; US DST starts 2027-03-14


def _pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'slotwise.db'}"
        upgrade(make_engine(url))
        yield url
        return
    name = f"slotwise_test_{secrets.token_hex(6)}"
    try:
        with _pg_admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI: {error}")
        pytest.skip(f"PostgreSQL unreachable: {error}")
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    url = f"{base}/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def container(database_url: str, clock: FrozenClock) -> Iterator[Container]:
    # Real Argon2id at a low cost: hashing is not what these tests are about.
    settings = Settings(database_url=database_url, database_pool_size=4,
                        password_hash_time_cost=1, password_hash_memory_kib=1024)
    built = build(settings, clock=clock)
    yield built
    built.close()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container.use_cases)) as test_client:
        yield test_client
