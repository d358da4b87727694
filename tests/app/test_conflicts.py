"""Conflicts: a block, an imported busy event or new hours landing on a booking flag it (the
booking stays); the flag clears when the cause goes away; ranked suggestions (reschedule,
substitute, reschedule and promote a waiting customer) are applied atomically, under the
overlap guard, or refused with nothing changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from slotwise.bootstrap import Container
from slotwise.domain.conflicts import ConflictCause
from slotwise.domain.errors import OverlapRefused
from slotwise.store.tables import allocations
from slotwise.store.uow import SqlUnitOfWork
from slotwise.testing.api import Org, book, resource, service, signup

DAY = "2027-03-08"  # a Monday
WEEKLY = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]


def at(hhmm: str, day: str = DAY) -> str:
    return f"{day}T{hhmm}:00Z"


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class Clinic:
    org: Org
    ada: str  # practitioners
    bob: str
    room1: str
    room2: str
    therapy: dict[str, Any]  # practitioner + room, 60 min


def clinic(client: TestClient, *, weights: dict[str, int] | None = None) -> Clinic:
    org = signup(client, timezone="UTC")
    ada = resource(org, name="Ada", weekly=WEEKLY)["id"]
    bob = resource(org, name="Bob", weekly=WEEKLY)["id"]
    room1 = resource(org, name="Room 1", kind="room", weekly=WEEKLY)["id"]
    room2 = resource(org, name="Room 2", kind="room", weekly=WEEKLY)["id"]
    practitioner: dict[str, Any] = {"kind": "practitioner"}
    if weights:
        practitioner["weights"] = weights
    therapy = service(org, name="Therapy", requirements=[practitioner, {"kind": "room"}])
    return Clinic(org, ada, bob, room1, room2, therapy)


def block(org: Org, resource_id: str, start: str, end: str) -> dict[str, Any]:
    answer = org.post(f"/v1/resources/{resource_id}/blocks", {"start": start, "end": end})
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def conflicts(org: Org, **params: Any) -> list[dict[str, Any]]:
    answer = org.get("/v1/conflicts", params=params)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def events_of(container: Container, org_id: str, booking_id: str) -> list[str]:
    with SqlUnitOfWork(container.engine) as uow:
        return [e.type for e in uow.outbox.for_aggregate(org_id, booking_id)]


def active_allocations(container: Container, booking_id: str) -> dict[str, str]:
    """resource id → allocation id of the booking's active allocations."""
    with container.engine.connect() as connection:
        rows = connection.execute(select(allocations.c.resource_id, allocations.c.id)
                                  .where(allocations.c.booking_id == booking_id,
                                         allocations.c.active.is_(True))).all()
    return {str(rid): str(aid) for rid, aid in rows}


def overlapping_allocations(container: Container, org_id: str) -> int:
    """Pairs of active allocations of different sessions that overlap on one resource."""
    with container.engine.connect() as connection:
        rows = connection.execute(
            select(allocations.c.resource_id, allocations.c.session_key,
                   allocations.c.blocked_start, allocations.c.blocked_end)
            .where(allocations.c.org_id == org_id, allocations.c.active.is_(True))).all()
    return sum(1 for i, a in enumerate(rows) for b in rows[i + 1:]
               if a[0] == b[0] and a[1] != b[1] and a[2] < b[3] and b[2] < a[3])


def test_a_block_over_a_booking_flags_it_once(client: TestClient,
                                              container: Container) -> None:
    c = clinic(client)
    booked = book(c.org, c.therapy["id"], at("10:00"), resource_ids=[c.ada, c.room1])
    elsewhere = book(c.org, c.therapy["id"], at("14:00"), resource_ids=[c.ada, c.room1])
    blk = block(c.org, c.ada, at("09:30"), at("10:30"))

    [flagged] = conflicts(c.org)
    assert (flagged["booking_id"], flagged["resource_id"], flagged["cause"],
            flagged["cause_ref"]) == (booked["id"], c.ada, "block", blk["id"])
    assert (flagged["start"], flagged["end"]) == (at("10:00"), at("10:30"))  # its own range
    assert c.org.get(f"/v1/bookings/{booked['id']}").json()["status"] == "confirmed"
    assert events_of(container, c.org.id, booked["id"]) == ["booking.created",
                                                            "booking.conflicted"]
    assert events_of(container, c.org.id, elsewhere["id"]) == ["booking.created"]

    # The calendar import's way in: the same cause again changes nothing.
    detector = container.use_cases.conflicts.detector
    with container.uow(write=True) as uow:
        again = detector.flag(uow, org_id=c.org.id, resource_ids=[c.ada],
                              start=instant(at("09:30")), end=instant(at("10:30")),
                              cause=ConflictCause.BLOCK, cause_ref=blk["id"],
                              now=container.use_cases.clock.now())
        uow.commit()
    assert again == [flagged["id"]]
    assert [x["id"] for x in conflicts(c.org)] == [flagged["id"]]
    assert events_of(container, c.org.id, booked["id"]).count("booking.conflicted") == 1
    with container.uow() as uow:
        actions = [e.action for e in uow.audit.recent(c.org.id)]
    assert actions.count("conflict.opened") == 1


def test_buffers_alone_touching_a_block_do_not_flag(client: TestClient) -> None:
    c = clinic(client)
    svc = service(c.org, name="Buffered", buffer_after_min=30,
                  requirements=[{"kind": "practitioner", "resource_ids": [c.ada]}])
    book(c.org, svc["id"], at("10:00"))
    block(c.org, c.ada, at("11:00"), at("11:30"))  # only the buffer reaches it
    assert conflicts(c.org) == []


def test_a_closed_day_flags_its_bookings_and_reopening_clears_them(
        client: TestClient, container: Container) -> None:
    c = clinic(client)
    morning = book(c.org, c.therapy["id"], at("10:00"), resource_ids=[c.ada, c.room1])
    afternoon = book(c.org, c.therapy["id"], at("14:00"), resource_ids=[c.ada, c.room2])
    other_day = book(c.org, c.therapy["id"], at("10:00", "2027-03-09"),
                     resource_ids=[c.ada, c.room1])
    closed = c.org.put(f"/v1/resources/{c.ada}/schedule", {
        "weekly": WEEKLY, "overrides": [{"date": DAY, "closed": True}]})
    assert closed.status_code == 200, closed.text

    flagged = conflicts(c.org)
    assert sorted(x["booking_id"] for x in flagged) == sorted([morning["id"], afternoon["id"]])
    assert {(x["cause"], x["cause_ref"], x["resource_id"]) for x in flagged} == {
        ("override", DAY, c.ada)}
    assert other_day["id"] not in {x["booking_id"] for x in flagged}
    assert c.org.get(f"/v1/bookings/{morning['id']}").json()["status"] == "confirmed"

    # Shorter hours on a weekday are a schedule change too.
    shorter = [{"days": ["tue"], "start": "11:00", "end": "17:00"},
               {"days": ["mon", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]
    assert c.org.put(f"/v1/resources/{c.ada}/schedule",
                     {"weekly": shorter, "overrides": []}).status_code == 200
    [tuesday] = conflicts(c.org)
    assert (tuesday["booking_id"], tuesday["cause_ref"]) == (other_day["id"], "2027-03-09")
    assert {x["booking_id"] for x in conflicts(c.org, status="cleared")} == {
        morning["id"], afternoon["id"]}


def test_deleting_the_block_or_cancelling_the_booking_clears_the_conflict(
        client: TestClient) -> None:
    c = clinic(client)
    first = book(c.org, c.therapy["id"], at("10:00"), resource_ids=[c.ada, c.room1])
    second = book(c.org, c.therapy["id"], at("10:00"), resource_ids=[c.bob, c.room2])
    blk = block(c.org, c.ada, at("10:00"), at("11:00"))
    block(c.org, c.bob, at("10:00"), at("11:00"))
    assert len(conflicts(c.org)) == 2

    assert c.org.delete(f"/v1/resources/{c.ada}/blocks/{blk['id']}").status_code == 204
    assert [x["booking_id"] for x in conflicts(c.org)] == [second["id"]]
    c.org.post(f"/v1/bookings/{second['id']}/cancel", {})
    assert conflicts(c.org) == []  # never a stale conflict
    cleared = conflicts(c.org, status="cleared")
    assert {x["booking_id"] for x in cleared} == {first["id"], second["id"]}
    assert all(x["resolution"]["reason"] for x in cleared)


def _blocked_booking(client: TestClient, **kwargs: Any) -> tuple[Clinic, dict[str, Any],
                                                                  dict[str, Any]]:
    """Ada and Room 1 booked at 10:00, then Ada blocked 10:00-11:00."""
    c = clinic(client, **kwargs)
    booked = book(c.org, c.therapy["id"], at("10:00"), resource_ids=[c.ada, c.room1])
    block(c.org, c.ada, at("10:00"), at("11:00"))
    [flagged] = conflicts(c.org)
    return c, booked, flagged


def test_a_multi_resource_booking_gets_reschedule_and_substitution_ranked(
        client: TestClient) -> None:
    c, _, flagged = _blocked_booking(client)
    suggestions = flagged["suggestions"]
    assert [s["rank"] for s in suggestions] == list(range(1, len(suggestions) + 1))
    kinds = [s["kind"] for s in suggestions]
    assert kinds == sorted(kinds, key=["reschedule", "substitute"].index)

    moves = [s for s in suggestions if s["kind"] == "reschedule"]
    # Nearest first (ties to the earlier), always on the same resources.
    assert [s["start"] for s in moves] == [at("09:00"), at("11:00"), at("12:00"), at("13:00"),
                                           at("14:00")]
    assert all(sorted(r["resource_id"] for r in s["resources"]) == sorted([c.ada, c.room1])
               for s in moves)

    [swap] = [s for s in suggestions if s["kind"] == "substitute"]
    assert (swap["start"], swap["end"]) == (at("10:00"), at("11:00"))
    assert swap["replaces"] == {"from": c.ada, "to": c.bob}
    assert {(r["role"], r["resource_id"]) for r in swap["resources"]} == {(0, c.bob),
                                                                          (1, c.room1)}
    assert "Bob instead of Ada" in swap["summary"]
    # Ids are content hashes: the same suggestion keeps its id.
    again = c.org.get(f"/v1/conflicts/{flagged['id']}").json()["suggestions"]
    assert [s["id"] for s in again] == [s["id"] for s in suggestions]


def test_substitutes_follow_the_pools_preference(client: TestClient) -> None:
    c = clinic(client)
    cleo = resource(c.org, name="Cleo", weekly=WEEKLY)["id"]
    weighted = service(c.org, name="Weighted", requirements=[
        {"kind": "practitioner", "weights": {cleo: 10}}, {"kind": "room"}])
    book(c.org, weighted["id"], at("10:00"), resource_ids=[c.ada, c.room1])
    block(c.org, c.ada, at("10:00"), at("11:00"))
    [flagged] = conflicts(c.org)
    swaps = [s["replaces"]["to"] for s in flagged["suggestions"] if s["kind"] == "substitute"]
    assert swaps == [cleo, c.bob]


def test_resolving_a_substitution_moves_only_the_conflicted_resource(
        client: TestClient, container: Container) -> None:
    c, booked, flagged = _blocked_booking(client)
    before = active_allocations(container, booked["id"])
    [swap] = [s for s in flagged["suggestions"] if s["kind"] == "substitute"]

    answer = c.org.post(f"/v1/conflicts/{flagged['id']}/resolve", {"suggestion_id": swap["id"]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["booking"]["id"] == booked["id"]
    assert (body["booking"]["start"], body["booking"]["end"]) == (at("10:00"), at("11:00"))
    assert sorted(body["booking"]["resource_ids"]) == sorted([c.bob, c.room1])
    assert body["conflict"]["status"] == "resolved"
    assert body["conflict"]["resolution"]["suggestion"]["id"] == swap["id"]

    after = active_allocations(container, booked["id"])
    assert after[c.room1] == before[c.room1]  # the other allocation untouched
    assert set(after) == {c.bob, c.room1}
    assert overlapping_allocations(container, c.org.id) == 0
    assert events_of(container, c.org.id, booked["id"])[-1] == "booking.rescheduled"
    assert conflicts(c.org) == []
    # Bob now holds 10:00: the guard refuses anyone else there.
    refused = c.org.post("/v1/bookings", {
        "service_id": c.therapy["id"], "start": at("10:00"), "resource_ids": [c.bob, c.room2],
        "customer": {"name": "X", "email": "x@example.com"}})
    assert refused.status_code == 409


def test_resolving_a_reschedule_moves_the_booking(client: TestClient,
                                                  container: Container) -> None:
    c, booked, flagged = _blocked_booking(client)
    best = flagged["suggestions"][0]
    assert best["kind"] == "reschedule"
    answer = c.org.post(f"/v1/conflicts/{flagged['id']}/resolve", {"suggestion_id": best["id"]})
    assert answer.status_code == 200, answer.text
    moved = c.org.get(f"/v1/bookings/{booked['id']}").json()
    assert (moved["start"], moved["status"]) == (at("09:00"), "confirmed")
    assert sorted(moved["resource_ids"]) == sorted([c.ada, c.room1])
    assert overlapping_allocations(container, c.org.id) == 0
    assert c.org.get(f"/v1/conflicts/{flagged['id']}").json()["status"] == "resolved"
    # A resolved conflict is closed: a second resolve or a dismiss is refused.
    again = c.org.post(f"/v1/conflicts/{flagged['id']}/resolve", {"suggestion_id": best["id"]})
    assert again.status_code == 409
    assert c.org.post(f"/v1/conflicts/{flagged['id']}/dismiss", {}).status_code == 409


def test_a_suggestion_taken_meanwhile_is_refused_and_nothing_changes(
        client: TestClient, container: Container) -> None:
    c, booked, flagged = _blocked_booking(client)
    [swap] = [s for s in flagged["suggestions"] if s["kind"] == "substitute"]
    # Another customer takes Bob at 10:00 between reading and resolving.
    book(c.org, c.therapy["id"], at("10:00"), resource_ids=[c.bob, c.room2])
    before = active_allocations(container, booked["id"])
    events_before = events_of(container, c.org.id, booked["id"])

    answer = c.org.post(f"/v1/conflicts/{flagged['id']}/resolve", {"suggestion_id": swap["id"]})
    assert answer.status_code == 409, answer.text
    problem = answer.json()
    assert problem["type"].endswith("suggestion-gone")
    assert problem["suggestions"] and all(s["kind"] != "substitute"
                                          for s in problem["suggestions"])
    assert active_allocations(container, booked["id"]) == before
    assert events_of(container, c.org.id, booked["id"]) == events_before
    assert c.org.get(f"/v1/conflicts/{flagged['id']}").json()["status"] == "open"

    unknown = c.org.post(f"/v1/conflicts/{flagged['id']}/resolve",
                         {"suggestion_id": "sg_0000000000000000"})
    assert unknown.status_code == 409


def test_the_guard_refuses_a_resource_swap_onto_a_taken_range(
        client: TestClient, container: Container) -> None:
    c, booked, _ = _blocked_booking(client)
    book(c.org, c.therapy["id"], at("10:00"), resource_ids=[c.bob, c.room2])
    with container.uow(write=True) as uow:
        booking = uow.bookings.get(c.org.id, booked["id"])
        assert booking is not None
        with pytest.raises(OverlapRefused):
            uow.bookings.swap_resource(booking, c.ada, c.bob, instant(at("10:00")),
                                       instant(at("11:00")))
    assert set(active_allocations(container, booked["id"])) == {c.ada, c.room1}


def test_dismissing_keeps_the_booking(client: TestClient, container: Container) -> None:
    c, booked, flagged = _blocked_booking(client)
    answer = c.org.post(f"/v1/conflicts/{flagged['id']}/dismiss", {"note": "Ada stays late"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "dismissed"
    assert answer.json()["resolution"]["note"] == "Ada stays late"
    assert conflicts(c.org) == []
    assert [x["id"] for x in conflicts(c.org, status="dismissed")] == [flagged["id"]]
    assert set(active_allocations(container, booked["id"])) == {c.ada, c.room1}


def test_a_reschedule_can_free_the_other_resource_for_a_waiting_customer(
        client: TestClient, container: Container) -> None:
    c, booked, _ = _blocked_booking(client)
    room_hire = service(c.org, name="Room hire", requirements=[
        {"kind": "room", "resource_ids": [c.room1]}])
    joined = c.org.post("/v1/waitlist", {
        "service_id": room_hire["id"], "start": at("10:00"), "end": at("11:00"),
        "customer": {"name": "Wanda", "email": "wanda@example.com"}})
    assert joined.status_code == 201, joined.text
    entry = joined.json()

    [flagged] = conflicts(c.org)
    [promote] = [s for s in flagged["suggestions"] if s["kind"] == "reschedule_and_promote"]
    assert promote["waitlist_entry_id"] == entry["id"]
    assert promote["start"] == at("09:00")  # the nearest move off the old range
    assert "Wanda" in promote["summary"]
    assert flagged["suggestions"][-1]["id"] == promote["id"]  # ranked last

    answer = c.org.post(f"/v1/conflicts/{flagged['id']}/resolve",
                        {"suggestion_id": promote["id"]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["booking"]["start"] == at("09:00")
    assert answer.json()["waitlist_offers"] == 1
    offered = c.org.get(f"/v1/waitlist/{entry['id']}").json()
    assert (offered["state"], offered["offer"]["start"]) == ("offered", at("10:00"))
    assert booked["id"] == answer.json()["booking"]["id"]


def test_a_single_resource_booking_gets_no_promotion(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    ada = resource(org, name="Ada", weekly=WEEKLY)["id"]
    svc = service(org)
    book(org, svc["id"], at("10:00"))
    org.post("/v1/waitlist", {"service_id": svc["id"], "start": at("10:00"),
                              "end": at("11:00"),
                              "customer": {"name": "W", "email": "w@example.com"}})
    block(org, ada, at("10:00"), at("11:00"))
    [flagged] = conflicts(org)
    assert {s["kind"] for s in flagged["suggestions"]} == {"reschedule"}
