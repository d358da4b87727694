"""The rush lane (app/rush.py) answers what the full path's own plain read in a rush answers
(`BookSlot._refuse_if_taken`, and `PlaceHold`'s for a hold), on many calendars: pools,
buffers at every level, location hours, schedules in other zones, a DST change inside the
read, bookings, blocks and holds in Redis. For every start asked: where the lane refuses, the
full path refuses with the same alternatives; where the lane steps aside, the start is free
or outside the bookable range."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from slotwise.app.bookings import BookingRequest, CustomerDetails
from slotwise.app.clock import FrozenClock
from slotwise.app.rush import RushRefusals
from slotwise.bootstrap import Container
from slotwise.domain.errors import SlotUnavailable
from slotwise.testing import api

pytestmark = pytest.mark.parametrize("holds", ["redis"], indirect=True)  # PostgreSQL only

ZONES = ["America/New_York", "Europe/Berlin", "UTC", "Australia/Sydney"]
CALENDARS = 5
STARTS_PER_CALENDAR = 48


def _z(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _weekly(rng: random.Random) -> list[dict[str, Any]]:
    days = rng.sample(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], rng.randint(3, 6))
    opens = rng.choice(["07:00", "08:30", "09:00", "10:15"])
    closes = rng.choice(["12:00", "16:45", "18:00", "21:30"])
    return [{"days": days, "start": opens, "end": closes}]


def _calendar(org: api.Org, rng: random.Random) -> str:
    """A service over a random catalog; its id."""
    location = None
    if rng.random() < 0.6:
        location = api._ok(org.post("/v1/locations", {
            "name": "Site", "timezone": rng.choice(ZONES),
            "buffer_before_min": rng.choice([0, 0, 10]),
            "buffer_after_min": rng.choice([0, 15])}), 201)
        api._ok(org.put(f"/v1/locations/{location['id']}/schedule",
                        {"weekly": _weekly(rng)}), 200)
    practitioners = [
        api.resource(org, name=f"P{i}", weekly=_weekly(rng),
                     schedule_timezone=rng.choice([None, *ZONES]),
                     buffer_before_min=rng.choice([0, 5]),
                     buffer_after_min=rng.choice([0, 10, 20]),
                     location_id=location["id"] if location and rng.random() < 0.5 else None)
        for i in range(rng.randint(1, 3))]
    requirements: list[dict[str, Any]] = [{
        "kind": "practitioner", "resource_ids": [p["id"] for p in practitioners]}]
    if location is not None and rng.random() < 0.6:
        rooms = [api.resource(org, name=f"R{i}", kind="room", weekly=_weekly(rng),
                              location_id=location["id"]) for i in range(rng.randint(1, 2))]
        requirements.append({"kind": "room", "resource_ids": [r["id"] for r in rooms]})
    service = api.service(
        org, duration_min=rng.choice([30, 45, 60, 90]), requirements=requirements,
        step_min=rng.choice([None, 15, 30]), buffer_before_min=rng.choice([0, 10]),
        buffer_after_min=rng.choice([0, 5, 30]), min_notice_min=rng.choice([0, 120, 60 * 24]),
        max_advance_days=rng.choice([14, 30, 365]))
    return str(service["id"])


def _fill(org: api.Org, service_id: str, rng: random.Random, now: datetime) -> list[str]:
    """Bookings, holds and blocks on the service's first offered starts; the starts offered
    before (taken ones among them)."""
    offered = [s["start"] for s in api.availability(
        org, service_id, _z(now), _z(now + timedelta(days=20)))]
    for start in offered:
        roll = rng.random()
        if roll < 0.35:
            org.post("/v1/bookings", {"service_id": service_id, "start": start,
                                      "customer": {"name": "C", "email": "c@example.com"}})
        elif roll < 0.42:
            org.post("/v1/holds", {"service_id": service_id, "start": start, "ttl_s": 600})
    resources = api._ok(org.get("/v1/resources"), 200)["items"]
    for resource in rng.sample(resources, min(2, len(resources))):
        begin = now + timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 23))
        api._ok(org.post(f"/v1/resources/{resource['id']}/blocks", {
            "start": _z(begin), "end": _z(begin + timedelta(hours=rng.randint(1, 30)))}), 201)
    return offered


def _full_path(container: Container, org_id: str, service_id: str, start: datetime,
               now: datetime) -> SlotUnavailable | None:
    """The full path's plain read in a rush, for a booking; the same for a hold must agree."""
    refusals = []
    for check in (
            lambda: container.use_cases.book._refuse_if_taken(org_id, BookingRequest(
                service_id, start, CustomerDetails("C", "c@example.com")), now),
            lambda: container.use_cases.place_hold._refuse_if_taken(
                org_id, service_id, start, None, now)):
        try:
            check()
        except SlotUnavailable as refused:
            refusals.append(refused)
        else:
            refusals.append(None)
    booking, hold = refusals
    assert (booking is None) == (hold is None)
    assert booking is None or hold is None or booking.alternatives == hold.alternatives
    return booking


def test_the_lane_refuses_as_the_full_path_does_on_many_calendars(
        client: TestClient, container: Container, clock: FrozenClock) -> None:
    rush = container.use_cases.rush
    assert rush is not None and rush.reads.is_open  # PostgreSQL, opened by the lifespan
    clock.set(datetime(2027, 3, 8, 7, 30, tzinfo=UTC))  # US DST starts inside the reads
    now = clock.now()
    refused = free = outside = 0
    for seed in range(CALENDARS):
        rng = random.Random(seed)
        org = api.signup(client, timezone=rng.choice(ZONES))
        service_id = _calendar(org, rng)
        offered = _fill(org, service_id, rng, now)
        grid = [now + timedelta(minutes=15 * rng.randint(-8, 4 * 24 * 25))
                for _ in range(STARTS_PER_CALENDAR // 2)]
        asked = [*(datetime.fromisoformat(s.replace("Z", "+00:00"))
                   for s in rng.sample(offered, min(len(offered), STARTS_PER_CALENDAR // 2))),
                 *grid]
        for start in asked:
            lane = client.portal.call(_lane, rush, org.token, service_id, start)
            full = _full_path(container, org.id, service_id, start, now)
            where = f"calendar {seed}, start {_z(start)}"
            if lane is not None:
                assert full is not None, f"{where}: the lane refused a start the full path books"
                assert lane.alternatives == full.alternatives, where
                assert str(lane) == str(full), where
                refused += 1
            elif full is not None:  # the only refusal the lane leaves to the full path
                assert container.use_cases.search.check_reach(
                    _service(container, org.id, service_id), start, now) is None, (
                    f"{where}: the lane stepped aside from a taken start inside the range")
                outside += 1
            else:
                free += 1
    # Every kind of answer was met, many times.
    assert refused >= 100 and free >= 10 and outside >= 1, (refused, free, outside)


async def _lane(rush: RushRefusals, token: str, service_id: str,
                start: datetime) -> SlotUnavailable | None:
    caller = await rush.caller(token)
    assert caller is not None
    return await rush.refusal(caller.principal.org_id, caller.catalog_version, service_id,
                              start)


def _service(container: Container, org_id: str, service_id: str) -> Any:
    with container.uow() as uow:
        return uow.services.get(org_id, service_id)
