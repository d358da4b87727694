"""Fixtures shared by the store, app and API tests: each runs on SQLite and on PostgreSQL.

PostgreSQL gets a fresh database per test session (per xdist worker), dropped afterwards.
An unreachable PostgreSQL fails the run: the suite needs it (`make check` starts it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from slotwise.api.app import create_app
from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import Container, build
from slotwise.settings import Settings
from slotwise.store.database import make_engine
from slotwise.store.migrate import upgrade
from slotwise.testing.databases import PostgresUnavailable, fresh_postgres_database

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)  # a Monday; US DST starts 2027-03-14


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'slotwise.db'}"
        upgrade(make_engine(url))
        yield url
        return
    with ExitStack() as stack:
        try:
            url = stack.enter_context(fresh_postgres_database())
        except PostgresUnavailable as error:
            pytest.fail(str(error))
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


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
