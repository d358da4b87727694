"""The self-healing fixer repairs planted faults, audits each repair with how to undo it, and
the undo works; the health checks see a lagging worker and a backlog; the audit log is a
hash chain that shows tampering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text, update

from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import Container
from slotwise.domain.jobs import JobSpec
from slotwise.store.repositories.audit import chain_of
from slotwise.store.tables import allocations, audit_log, bookings
from slotwise.testing.api import Org, availability, book, resource, service, signup

DAY = "2027-03-08"


def _starts(org: Org, service_id: str) -> list[str]:
    return [s["start"] for s in availability(org, service_id, f"{DAY}T00:00:00Z",
                                             f"{DAY}T23:59:00Z")]


def _setup(client: TestClient) -> tuple[Org, dict]:
    org = signup(client, timezone="UTC")
    resource(org)
    return org, service(org)


def test_a_cancelled_booking_still_holding_its_slot_is_repaired_and_the_repair_undone(
        client: TestClient, container: Container) -> None:
    org, svc = _setup(client)
    booked = book(org, svc["id"], f"{DAY}T10:00:00Z")
    # Plant the fault: the booking says cancelled, its allocation still holds the slot.
    with container.engine.begin() as db:
        db.execute(update(bookings).where(bookings.c.id == booked["id"])
                   .values(status="cancelled"))
    assert f"{DAY}T10:00:00Z" not in _starts(org, svc["id"])

    repairs = container.use_cases.fixer.run()
    mine = [r for r in repairs if r.target == booked["id"]]
    assert [r.action for r in mine] == ["deactivate_allocations"]
    assert mine[0].undo is not None and mine[0].undo["op"] == "activate_allocations"
    assert mine[0].details["active"] == {"before": True, "after": False}
    assert f"{DAY}T10:00:00Z" in _starts(org, svc["id"])
    assert not [r for r in container.use_cases.fixer.run() if r.target == booked["id"]]

    container.use_cases.fixer.undo(mine[0].id)
    with container.engine.connect() as db:
        active = db.execute(text("SELECT active FROM allocations WHERE booking_id = :b"),
                            {"b": booked["id"]}).scalars().all()
    assert [bool(a) for a in active] == [True]
    with container.uow() as uow:
        assert uow.audit.verify(chain_of(org.id)) is None


def test_a_confirmed_booking_that_lost_its_allocation_gets_it_back(
        client: TestClient, container: Container) -> None:
    org, svc = _setup(client)
    booked = book(org, svc["id"], f"{DAY}T10:00:00Z")
    with container.engine.begin() as db:
        db.execute(update(allocations).where(allocations.c.booking_id == booked["id"])
                   .values(active=False))
    assert f"{DAY}T10:00:00Z" in _starts(org, svc["id"])  # the slot would be sold twice
    repairs = [r for r in container.use_cases.fixer.run() if r.target == booked["id"]]
    assert [r.action for r in repairs] == ["activate_allocations"]
    assert f"{DAY}T10:00:00Z" not in _starts(org, svc["id"])


def test_an_overdue_pending_booking_fails_closed_audited_and_undoable(
        client: TestClient, container: Container, clock: FrozenClock) -> None:
    org = signup(client, timezone="UTC")
    resource(org, requires_approval=True)
    svc = service(org)
    booked = book(org, svc["id"], f"{DAY}T10:00:00Z")
    with container.engine.begin() as db:
        db.execute(update(bookings).where(bookings.c.id == booked["id"]).values(
            awaiting=["payment"], pending_until=clock.now() - timedelta(minutes=1)))
    repairs = [r for r in container.use_cases.fixer.run() if r.target == booked["id"]]
    assert [r.action for r in repairs] == ["fail_overdue_pending"]
    assert org.get(f"/v1/bookings/{booked['id']}").json()["status"] == "failed"
    assert f"{DAY}T10:00:00Z" in _starts(org, svc["id"])
    container.use_cases.fixer.undo(repairs[0].id)
    restored = org.get(f"/v1/bookings/{booked['id']}").json()
    assert (restored["status"], restored["awaiting"]) == ("pending", ["payment"])
    assert f"{DAY}T10:00:00Z" not in _starts(org, svc["id"])


def test_an_expired_hold_still_marked_active_is_expired(
        client: TestClient, container: Container, clock: FrozenClock) -> None:
    org, svc = _setup(client)
    hold = org.post("/v1/holds", {"service_id": svc["id"], "start": f"{DAY}T10:00:00Z",
                                  "ttl_s": 60}).json()
    clock.advance(timedelta(minutes=2))
    repairs = [r for r in container.use_cases.fixer.run() if r.target == hold["id"]]
    assert [r.action for r in repairs] == ["expire_hold"]
    assert repairs[0].undo == {"op": "reactivate_hold", "org_id": org.id,
                               "hold_id": hold["id"]}


def test_a_stuck_job_is_requeued(client: TestClient, container: Container) -> None:
    org = signup(client)
    with container.uow(write=True) as uow:
        job_id = uow.jobs.defer(JobSpec(task="stuck.example", args={}, org_id=org.id))
        uow.commit()
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    with container.engine.begin() as db:
        if container.settings.is_sqlite:
            db.execute(text("UPDATE jobs SET state = 'doing', started_at = :t WHERE id = :id"),
                       {"t": int(long_ago.timestamp()), "id": int(job_id)})
        else:
            # Taken by a worker whose heartbeat stopped an hour ago.
            worker = db.execute(text("INSERT INTO procrastinate_workers (last_heartbeat) "
                                     "VALUES (:t) RETURNING id"), {"t": long_ago}).scalar()
            db.execute(text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = :w "
                            "WHERE id = :id"), {"id": int(job_id), "w": worker})
    repairs = [r for r in container.use_cases.fixer.run() if r.target == job_id]
    assert [r.action for r in repairs] == ["requeue_stuck_job"]
    assert org.get(f"/v1/jobs/{job_id}").json()["state"] == "todo"


def test_health_reports_a_lagging_worker_and_readyz_degrades(
        client: TestClient, container: Container) -> None:
    org = signup(client)
    with container.uow(write=True) as uow:
        uow.jobs.defer(JobSpec(task="waits", args={}, org_id=org.id,
                               run_at=datetime.now(UTC) - timedelta(minutes=5)))
        uow.commit()
    problem = container.use_cases.health.jobs()
    assert problem is not None and "wait for a worker" in problem
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["jobs"]["status"] == "unreachable"
    # Leave nothing due behind for other tests sharing the database.
    with container.engine.begin() as db:
        if container.settings.is_sqlite:
            db.execute(text("DELETE FROM jobs WHERE task = 'waits'"))
        else:
            db.execute(text("DELETE FROM procrastinate_jobs WHERE task_name = 'waits'"))


def test_the_audit_chain_shows_a_changed_entry(client: TestClient,
                                               container: Container) -> None:
    org, svc = _setup(client)
    booked = book(org, svc["id"], f"{DAY}T10:00:00Z")
    with container.engine.begin() as db:
        db.execute(update(bookings).where(bookings.c.id == booked["id"])
                   .values(status="cancelled"))
    entry = next(r for r in container.use_cases.fixer.run() if r.target == booked["id"])
    with container.engine.begin() as db:
        db.execute(update(audit_log).where(audit_log.c.id == entry.id)
                   .values(target="someone-else"))
    with container.uow() as uow:
        broken = uow.audit.verify(chain_of(org.id))
    assert broken is not None and entry.id in broken
