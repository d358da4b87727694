"""Fixtures shared by the store, app and API tests: each runs on SQLite and on PostgreSQL.

PostgreSQL gets a fresh database per test session (per xdist worker), dropped afterwards.
Redis holds use keys under a prefix of their own per session, deleted afterwards. An unreachable
PostgreSQL or Redis fails the run: the suite needs them (`make check` starts them).

A module or test opts into running with Redis holds too (on PostgreSQL only) with
`pytest.mark.parametrize("holds", ["sql", "redis"], indirect=True)`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import redis
from fastapi.testclient import TestClient

from slotwise.api.app import create_app
from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import Container, build
from slotwise.settings import Settings
from slotwise.store.database import make_engine
from slotwise.store.migrate import upgrade
from slotwise.testing.databases import PostgresUnavailable, fresh_postgres_database

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)  # a Monday; US DST starts 2027-03-14
REDIS_URL = os.environ.get("SLOTWISE_TEST_REDIS", "redis://127.0.0.1:6379/0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Redis holds run on PostgreSQL only: SQLite would add time, not coverage.
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec else {}
        redis_on_sqlite = params.get("holds") == "redis" and params.get("database_url") == "sqlite"
        (drop if redis_on_sqlite else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@dataclass(frozen=True)
class RedisKeys:
    url: str
    prefix: str
    client: redis.Redis


@pytest.fixture(scope="session")
def redis_keys() -> Iterator[RedisKeys]:
    """The test Redis and a key prefix of this session's own, its keys deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis is required ({REDIS_URL}): {error}")
    prefix = f"slotwise_test_{secrets.token_hex(6)}"
    yield RedisKeys(REDIS_URL, prefix, client)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def holds(request: pytest.FixtureRequest) -> str:
    """Where holds live: "sql" unless a module parametrizes it (see the module docstring)."""
    return getattr(request, "param", "sql")


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
def container(database_url: str, clock: FrozenClock, holds: str,
              request: pytest.FixtureRequest) -> Iterator[Container]:
    redis_settings = {}
    if holds == "redis":
        keys: RedisKeys = request.getfixturevalue("redis_keys")
        redis_settings = {"redis_url": keys.url, "redis_key_prefix": keys.prefix}
    # Real Argon2id at a low cost: hashing is not what these tests are about.
    settings = Settings(database_url=database_url, database_pool_size=4,
                        password_hash_time_cost=1, password_hash_memory_kib=1024,
                        **redis_settings)
    built = build(settings, clock=clock)
    yield built
    built.close()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container.use_cases)) as test_client:
        yield test_client
