"""Jobs on both engines: the embedded one (SQLite) and procrastinate (PostgreSQL).

A job exists exactly when its transaction commits; a worker runs it; a failing one is retried
with backoff and then dead-lettered (`failed`), listed and retried through the API; periodic
tasks run; the outbox relay publishes every event once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from slotwise.bootstrap import Container
from slotwise.domain.jobs import JobSpec, JobState, Loop, Periodic, Registry, Task
from slotwise.domain.model import OutboxEvent
from slotwise.domain.ports import UnitOfWork
from slotwise.testing.api import Org, book, resource, service, signup
from slotwise.testing.workers import running, wait_for


def defer(container: Container, org_id: str, task: str, args: dict[str, Any],
          commit: bool = True) -> str:
    with container.uow(write=True) as uow:
        job_id = uow.jobs.defer(JobSpec(task=task, args=args, org_id=org_id))
        if commit:
            uow.commit()
    return job_id


def test_a_job_exists_only_if_its_transaction_commits(client: TestClient,
                                                      container: Container) -> None:
    org = signup(client)
    defer(container, org.id, "never", {"n": 1}, commit=False)
    kept = defer(container, org.id, "kept", {"n": 2})
    listed = org.get("/v1/jobs").json()["items"]
    assert [(j["id"], j["task"], j["state"], j["args"]) for j in listed] == [
        (kept, "kept", "todo", {"n": 2})]


def test_a_worker_runs_each_job_with_its_arguments(client: TestClient,
                                                   container: Container) -> None:
    org = signup(client)
    seen: list[dict[str, Any]] = []
    jobs = Registry(tasks={"note": Task("note", seen.append)})
    with running(container, jobs):
        for n in range(3):
            defer(container, org.id, "note", {"n": n})
        wait_for(lambda: len(seen) == 3)
    assert sorted(s["n"] for s in seen) == [0, 1, 2]


def test_a_failing_job_is_retried_with_backoff_then_dead_lettered_and_retried_by_hand(
        client: TestClient, container: Container) -> None:
    org = signup(client)
    attempts: list[float] = []
    healed = threading.Event()

    def flaky(args: dict[str, Any]) -> None:
        attempts.append(time.monotonic())
        if not healed.is_set():
            raise RuntimeError(f"the mail server is down (attempt {len(attempts)})")

    jobs = Registry(tasks={"flaky": Task("flaky", flaky, max_attempts=2, backoff_s=1)})
    with running(container, jobs):
        job_id = defer(container, org.id, "flaky", {})
        wait_for(lambda: _state(org, job_id) == "failed")
        assert len(attempts) == 2
        assert attempts[1] - attempts[0] >= 0.9  # waited backoff_s ** 1 before the retry
        failed = org.get("/v1/jobs", params={"state": "failed"}).json()["items"]
        assert [j["id"] for j in failed] == [job_id]
        assert "the mail server is down (attempt 2)" in failed[0]["last_error"]
        assert [e["attempt"] for e in failed[0]["errors"]] == [1, 2]

        healed.set()
        retried = org.post(f"/v1/jobs/{job_id}/retry")
        assert retried.status_code == 200, retried.text
        assert retried.json()["state"] in ("todo", "doing", "succeeded")
        wait_for(lambda: len(attempts) == 3)
        wait_for(lambda: _state(org, job_id) in ("succeeded", None))
    assert org.get("/v1/jobs", params={"state": "failed"}).json()["items"] == []


def _state(org: Org, job_id: str) -> str | None:
    answer = org.get(f"/v1/jobs/{job_id}")
    # procrastinate deletes succeeded jobs (delete_jobs="successful"): gone means done.
    return None if answer.status_code == 404 else answer.json()["state"]


def test_jobs_are_private_to_their_organisation_and_only_failed_ones_retry(
        client: TestClient, container: Container) -> None:
    org, other = signup(client), signup(client)
    job_id = defer(container, org.id, "mine", {})
    assert other.get(f"/v1/jobs/{job_id}").status_code == 404
    assert other.post(f"/v1/jobs/{job_id}/retry").status_code == 404
    assert other.get("/v1/jobs").json()["items"] == []
    not_failed = org.post(f"/v1/jobs/{job_id}/retry")
    assert not_failed.status_code == 409
    assert org.get("/v1/jobs", params={"state": "bogus"}).status_code == 422
    assert org.get("/v1/jobs/not-a-job").status_code == 404


def test_staff_read_jobs_but_only_admins_retry(client: TestClient,
                                               container: Container) -> None:
    org = signup(client)
    made = org.post("/v1/users", {"email": f"staff-{org.id}@example.com",
                                  "password": "correct horse battery", "role": "staff"})
    assert made.status_code == 201
    token = client.post("/v1/login", json={"email": f"staff-{org.id}@example.com",
                                           "password": "correct horse battery"}).json()["token"]
    staff = {"Authorization": f"Bearer {token}"}
    job_id = defer(container, org.id, "mine", {})
    assert client.get("/v1/jobs", headers=staff).status_code == 200
    assert client.post(f"/v1/jobs/{job_id}/retry", headers=staff).status_code == 403


def test_periodic_tasks_run_again_and_again(client: TestClient, container: Container) -> None:
    ticks: list[float] = []
    name = f"tick-{time.monotonic_ns()}"
    jobs = Registry(tasks={name: Task(name, lambda _: ticks.append(time.monotonic()))},
                    periodic=(Periodic(name, every_s=1),))
    with running(container, jobs):
        wait_for(lambda: len(ticks) >= 2, timeout_s=20)


class Recorder:
    def __init__(self, org_id: str) -> None:
        self.org_id = org_id
        self.seen: list[str] = []

    def react(self, uow: UnitOfWork, event: OutboxEvent, now: object) -> None:
        if event.org_id == self.org_id:
            self.seen.append(event.type)


def test_the_relay_publishes_every_event_once(client: TestClient,
                                              container: Container) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    recorder = Recorder(org.id)
    container.use_cases.relay.reactors.append(recorder)
    jobs = Registry(tasks={}, loops=(Loop("relay", container.use_cases.relay, idle_s=0.05),))
    booked = book(org, svc["id"], "2027-03-08T10:00:00Z")
    with running(container, jobs):
        org.post(f"/v1/bookings/{booked['id']}/cancel", {})
        wait_for(lambda: len(recorder.seen) == 2)
        time.sleep(0.3)  # a second relay pass finds nothing more
    assert recorder.seen == ["booking.created", "booking.cancelled"]
    assert container.use_cases.relay.backlog()[0] == 0


@pytest.mark.parametrize("state", [s.value for s in JobState])
def test_every_state_filter_is_accepted(client: TestClient, state: str) -> None:
    org = signup(client)
    assert org.get("/v1/jobs", params={"state": state}).status_code == 200
