"""Servers for the stress suite: one on a fresh database of the shared PostgreSQL for the
scenarios, and one on private PostgreSQL and Redis instances for the faults (restarting them
must not disturb anything else). A missing service fails under CI and skips elsewhere."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from slotwise.testing.databases import PostgresUnavailable, fresh_postgres_database
from slotwise.testing.stress.scenarios import PINNED_NOW
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


@pytest.fixture(scope="module")
def live() -> Iterator[Server]:
    """`slotwise serve --workers 2`, clock pinned, on a fresh shared-PostgreSQL database."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(fresh_postgres_database("slotwise_stress"))
        except PostgresUnavailable as error:
            pytest.fail(str(error))
        yield stack.enter_context(Server(url, workers=2, now=PINNED_NOW, pool_size=4))


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    try:
        postgres = PrivatePostgres(max_connections=60)
    except ServiceMissing as error:
        _missing(str(error))
    with postgres:
        yield postgres


@pytest.fixture(scope="module")
def private_redis() -> Iterator[PrivateRedis]:
    try:
        redis = PrivateRedis()
    except ServiceMissing as error:
        _missing(str(error))
    with redis:
        yield redis


@pytest.fixture(scope="module")
def fault_server(private_postgres: PrivatePostgres,
                 private_redis: PrivateRedis) -> Iterator[Server]:
    """`slotwise serve --workers 2` on the real clock (holds must expire), on private
    PostgreSQL and Redis."""
    with private_postgres_database(private_postgres) as url, \
            Server(url, workers=2, redis_url=private_redis.url, pool_size=4) as server:
        yield server
