"""Tentative holds: claim a slot's resources for a while, then book or release.

Placing and releasing an explicit hold writes `hold.placed` / `hold.released` to the outbox in
the same transaction (live updates: other visitors' pages lose and regain the time); the
fixer writes `hold.expired` for holds it finds lapsed. A booking's implicit hold writes none:
`booking.created` announces its time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from slotwise.app.availability import (
    CalendarRead,
    Candidates,
    SearchAvailability,
    blocked_ranges,
    joinable_slot,
    lock_candidates,
    offered_slot,
)
from slotwise.app.rules import locations_of
from slotwise.domain import events
from slotwise.domain.booking import Hold, HoldStatus
from slotwise.domain.errors import NotFound, OverlapRefused, SlotUnavailable
from slotwise.domain.ids import new_id
from slotwise.domain.model import HeldResource, Location, Resource, Service
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from slotwise.engine.availability import Slot


def check_resources(uow: UnitOfWork, org_id: str, resource_ids: Sequence[str] | None) -> None:
    """Ids the caller may not see are unknown to it: 404, never a 409."""
    if not resource_ids:
        return
    found = uow.resources.many(org_id, resource_ids)
    for rid in resource_ids:
        if rid not in found:
            raise NotFound(f"no such resource {rid}")


def chosen_resources(uow: UnitOfWork, org_id: str, slot: Slot
                     ) -> tuple[dict[str, Resource], dict[str, Location]]:
    """The slot's resources and their locations, by id."""
    resources = uow.resources.many(org_id, slot.resource_ids)
    return resources, locations_of(uow, org_id, resources.values())


def new_hold(service: Service, slot: Slot, resources: Mapping[str, Resource],
             locations: Mapping[str, Location], now: datetime, ttl_s: int) -> Hold:
    """A hold on the slot's resources (`resources` and `locations` hold at least theirs)."""
    blocked = blocked_ranges(service, resources, locations, slot)
    return Hold(
        id=new_id("hold"), org_id=service.org_id, service_id=service.id, start=slot.start,
        end=slot.end, expires_at=now + timedelta(seconds=ttl_s), created_at=now,
        resources=tuple(HeldResource(rid, s, e) for rid, s, e in blocked),
    )


class PlaceHold:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, search: SearchAvailability,
                 default_ttl_s: int) -> None:
        self._uow = uow
        self._clock = clock
        self._search = search
        self.default_ttl_s = default_ttl_s

    def __call__(self, org_id: str, service_id: str, start: datetime,
                 resource_ids: Sequence[str] | None = None, ttl_s: int | None = None) -> Hold:
        now = self._clock.now()
        prechecked = self._search.refused_lately(service_id)
        if prechecked:
            self._refuse_if_taken(org_id, service_id, start, resource_ids, now)
        # A start the plain read found free is most likely won: under the lock its check
        # reads the start alone, not the window a refusal's alternatives would need.
        around = not prechecked
        with self._uow(write=True) as uow:
            service = uow.services.get(org_id, service_id)
            if service is None:
                raise NotFound("no such service")
            check_resources(uow, org_id, resource_ids)
            checks: list[tuple[Slot | None, CalendarRead | None]] = []  # the last is what decided

            def still_possible(_: Candidates) -> bool:
                checks.append(self._slot(uow, service, start, now, resource_ids, around,
                                         by_preference=False))
                return checks[-1][0] is not None

            if lock_candidates(uow, service, resource_ids, still_possible=still_possible):
                checks.append(self._slot(uow, service, start, now, resource_ids, around))
            slot, read = checks[-1]
            if slot is not None:
                hold = new_hold(service, slot, *chosen_resources(uow, org_id, slot), now,
                                ttl_s or self.default_ttl_s)
                try:
                    uow.holds.acquire(hold, now)
                except OverlapRefused:
                    pass  # another writer's hold won the race; answer like any taken slot
                else:
                    uow.outbox.add(events.hold_event(events.HOLD_PLACED, hold, now))
                    uow.commit()
                    return hold
                read = None  # the race was lost after the read: read the alternatives anew
            uow.rollback()  # free the locks, and a transaction a refused write aborted
            raise self._refusal(uow, service, start, resource_ids, read)

    def _refuse_if_taken(self, org_id: str, service_id: str, start: datetime,
                         resource_ids: Sequence[str] | None, now: datetime) -> None:
        """In a rush: refuse a taken start from a plain read (no transaction, no lock), as
        `BookSlot` does; return when it looks free or anything else is wrong."""
        with self._uow() as uow:
            service = uow.services.get(org_id, service_id)
            if service is None:
                return
            check_resources(uow, org_id, resource_ids)
            slot, read = self._slot(uow, service, start, now, resource_ids, around=True,
                                    by_preference=False)
            if slot is None:
                raise self._refusal(uow, service, start, resource_ids, read)

    def _refusal(self, uow: UnitOfWork, service: Service, start: datetime,
                 resource_ids: Sequence[str] | None, read: CalendarRead | None
                 ) -> SlotUnavailable:
        return SlotUnavailable("that start is not available", self._search.alternatives(
            service.org_id, service, start, resource_ids, uow=uow, read=read))

    def _slot(self, uow: UnitOfWork, service: Service, start: datetime, now: datetime,
              resource_ids: Sequence[str] | None, around: bool, *, by_preference: bool = True
              ) -> tuple[Slot | None, CalendarRead | None]:
        """The slot at `start` (a free one, or a seat in a group session), and, `around`, the
        read around it that a refusal's alternatives can come from. `by_preference` False
        when only whether it is free matters (see `slot_request_with_rules`)."""
        if around:
            slot, read = self._search.offered_around(uow, service, start, now,
                                                     restrict_to=resource_ids,
                                                     by_preference=by_preference)
        else:
            slot, read = offered_slot(uow, service, start, now, restrict_to=resource_ids,
                                      by_preference=by_preference), None
        return slot or joinable_slot(uow, service, start, now, restrict_to=resource_ids), read


class ReleaseHold:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def __call__(self, org_id: str, hold_id: str) -> None:
        now = self._clock.now()
        with self._uow(write=True) as uow:
            hold = uow.holds.get(org_id, hold_id)
            if hold is None or not hold.is_live(now):
                raise NotFound("no such live hold")
            uow.holds.save(replace(hold, status=HoldStatus.RELEASED))
            uow.outbox.add(events.hold_event(events.HOLD_RELEASED, hold, now))
            uow.commit()


class ExtendHold:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def __call__(self, org_id: str, hold_id: str, ttl_s: int) -> Hold:
        """The hold, live, now expiring `ttl_s` from now; NotFound unless it was live."""
        now = self._clock.now()
        with self._uow(write=True) as uow:
            hold = uow.holds.extend(org_id, hold_id, now + timedelta(seconds=ttl_s), now)
            if hold is None:
                raise NotFound("no such live hold")
            uow.commit()
            return hold


class OperateHolds:
    """Staff's view of the organisation's live holds (the admin, `GET /v1/holds`)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, release: ReleaseHold) -> None:
        self._uow = uow
        self._clock = clock
        self._release = release

    def live(self, org_id: str, *, limit: int, after: tuple[datetime, str] | None = None
             ) -> list[Hold]:
        """The organisation's live holds by (start, id), the first `limit` after `after`."""
        now = self._clock.now()
        with self._uow() as uow:
            return uow.holds.live_of_org(org_id, now, limit, after)

    def release(self, org_id: str, hold_id: str) -> None:
        """As `ReleaseHold`: NotFound unless the hold is live; writes `hold.released`."""
        self._release(org_id, hold_id)
