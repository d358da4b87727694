"""The stress suite's server: two processes on private PostgreSQL and Redis instances, so the
faults can restart them without disturbing anything else. A missing service (PostgreSQL's
binaries, redis-server) fails under CI and skips elsewhere."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from slotwise.testing.stress.servers import (
    PrivatePostgres,
    PrivateRedis,
    Server,
    ServiceMissing,
    private_postgres_database,
)


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    try:
        postgres = PrivatePostgres(max_connections=60)
    except ServiceMissing as error:
        _missing(str(error))
    with postgres:
        yield postgres


@pytest.fixture(scope="session")
def private_redis() -> Iterator[PrivateRedis]:
    try:
        redis = PrivateRedis()
    except ServiceMissing as error:
        _missing(str(error))
    with redis:
        yield redis


@pytest.fixture(scope="session")
def stress_server(private_postgres: PrivatePostgres,
                 private_redis: PrivateRedis) -> Iterator[Server]:
    """`slotwise serve --workers 2` on the real clock (holds must expire), on private
    PostgreSQL and Redis; the scenarios and the faults share it (one start-up, not two)."""
    with private_postgres_database(private_postgres) as url, \
            Server(url, workers=2, redis_url=private_redis.url, pool_size=4) as server:
        yield server
