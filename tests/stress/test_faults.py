"""Each fault once, under a small load, on private PostgreSQL and Redis: afterwards the
invariants hold and the server serves again without repair."""

from __future__ import annotations

import pytest

from slotwise.testing.stress import faults
from slotwise.testing.stress.servers import PrivatePostgres, PrivateRedis, Server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stress")]


def test_kill_9_of_a_worker_under_load(stress_server: Server) -> None:
    result = faults.kill_worker(stress_server, attempts=80, slots=10, clients=12)
    report = result.report(stress_server.database_url)
    assert report.ok, report.table()


def test_postgresql_restart_under_load_answers_503_then_serves(stress_server: Server,
        private_postgres: PrivatePostgres) -> None:
    result = faults.restart_postgres(stress_server, private_postgres, attempts=80,
                                     slots=10, clients=12)
    report = result.report(stress_server.database_url, outage_503_allowed=True)
    assert report.ok, report.table()


def test_redis_stopped_under_load(stress_server: Server, private_redis: PrivateRedis) -> None:
    result = faults.stop_redis(stress_server, private_redis, attempts=80, slots=10,
                               clients=12)
    report = result.report(stress_server.database_url)
    assert report.ok, report.table()


def test_clients_hanging_up_mid_request(stress_server: Server) -> None:
    result = faults.disconnecting_clients(stress_server, attempts=60, disconnects=24,
                                          slots=8, clients=12)
    report = result.report(stress_server.database_url)
    assert report.ok, report.table()
