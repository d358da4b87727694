"""The catalog cache is never stale: a change made by another process, or by raw SQL behind
the application's back, shows in the very next search of a process that cached the old
catalog (the triggers of migration 0004 raise the organisation's catalog version)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from slotwise.api.app import create_app
from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import Container, build
from slotwise.settings import Settings
from slotwise.store.catalog_cache import CatalogCache
from slotwise.testing.api import Org, auth, resource, service, signup

DAY = {"start": "2027-03-08T00:00:00Z", "end": "2027-03-09T00:00:00Z"}  # a Monday


@pytest.fixture
def other_process(database_url: str, clock: FrozenClock) -> Iterator[TestClient]:
    """A second process on the same database: its own engine and its own catalog cache."""
    settings = Settings(database_url=database_url, database_pool_size=2,
                        password_hash_time_cost=1, password_hash_memory_kib=1024)
    built = build(settings, clock=clock)
    with TestClient(create_app(built.use_cases)) as client:
        yield client
    built.close()


def starts(org: Org, service_id: str) -> list[str]:
    answer = org.get(f"/v1/services/{service_id}/availability", params=DAY)
    assert answer.status_code == 200, answer.text
    return [s["start"][11:16] for s in answer.json()["slots"]]


def test_a_schedule_changed_by_another_process_shows_at_once(
        client: TestClient, other_process: TestClient) -> None:
    org = signup(client, timezone="UTC")
    res = resource(org)
    svc = service(org)
    assert starts(org, svc["id"])[:2] == ["09:00", "10:00"]  # cached here now
    changed = other_process.put(f"/v1/resources/{res['id']}/schedule", headers=auth(org.token),
                                json={"weekly": [{"days": ["mon"], "start": "13:00",
                                                  "end": "15:00"}], "overrides": []})
    assert changed.status_code == 200, changed.text
    assert starts(org, svc["id"]) == ["13:00", "14:00"]


def test_a_service_changed_by_another_process_shows_at_once(
        client: TestClient, other_process: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    assert len(starts(org, svc["id"])) == 8
    patched = other_process.patch(f"/v1/services/{svc['id']}", headers=auth(org.token),
                                  json={"duration_min": 120, "step_min": 120})
    assert patched.status_code == 200, patched.text
    assert starts(org, svc["id"]) == ["09:00", "11:00", "13:00", "15:00"]


def test_a_change_made_with_raw_sql_shows_at_once(container: Container,
                                                  client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    assert len(starts(org, svc["id"])) == 8
    with container.engine.begin() as c:  # an operator, around the application
        c.execute(text("UPDATE services SET duration_min = 120, step_min = 120 WHERE id = :id"),
                  {"id": svc["id"]})
    assert starts(org, svc["id"]) == ["09:00", "11:00", "13:00", "15:00"]


def test_a_writer_reads_its_own_changes_and_does_not_file_them(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    assert starts(org, svc["id"])[:1] == ["09:00"]
    # PATCH writes and reads back the service in one transaction: the answer is the new one.
    patched = org.patch(f"/v1/services/{svc['id']}", {"duration_min": 30, "step_min": 30})
    assert patched.json()["duration_min"] == 30
    assert len(starts(org, svc["id"])) == 16


def test_an_older_reader_never_replaces_a_newer_entry() -> None:
    cache = CatalogCache()
    newer = cache.memo("org", 5)
    assert newer is not None
    newer["k"] = "v5"
    assert cache.memo("org", 4) is None  # a transaction that began before the change
    assert cache.memo("org", 5) == {"k": "v5"}
    assert cache.memo("org", 6) == {}  # a newer version starts afresh


def test_the_least_recently_used_organisations_are_dropped() -> None:
    cache = CatalogCache(max_orgs=2)
    for org in ("a", "b"):
        memo = cache.memo(org, 1)
        assert memo is not None
        memo["k"] = org
    cache.memo("a", 1)  # used again: "b" is now the least recent
    cache.memo("c", 1)
    assert cache.memo("a", 1) == {"k": "a"}
    assert cache.memo("b", 1) == {}
