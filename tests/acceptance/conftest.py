"""The acceptance suite's server: a real `slotwise serve` subprocess, one per backend.

Each backend (SQLite in a temp file, PostgreSQL in a fresh database dropped afterwards) gets its
own server with the clock pinned at `NOW`; the tests drive it over HTTP only. An unreachable
PostgreSQL fails the run.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from slotwise.testing.databases import PostgresUnavailable, empty_database
from slotwise.testing.serve import ServerFailed, slotwise_serve

NOW = "2027-03-01T12:00:00Z"  # a Monday; US daylight saving time starts 2027-03-14


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server_database_url(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty database for one server (the server migrates it itself)."""
    try:
        with empty_database(request.param, tmp_path_factory.mktemp("accept-sqlite"),
                            "slotwise_accept") as url:
            yield url
    except PostgresUnavailable as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def server(server_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`slotwise serve` on a free port with the clock pinned; yields its base URL."""
    workdir = tmp_path_factory.mktemp("accept-server")
    try:
        with slotwise_serve({"SLOTWISE_DATABASE_URL": server_database_url,
                             "SLOTWISE_NOW": NOW}, workdir) as base_url:
            yield base_url
    except ServerFailed as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def http(server: str) -> Iterator[httpx.Client]:
    """A plain HTTP client of the running server (no credentials)."""
    with httpx.Client(base_url=server, timeout=30.0) as client:
        yield client
