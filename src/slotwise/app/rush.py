"""The rush lane: a rush's refusal decided from reads awaited on the event loop.

In a rush (a start of the service was refused moments ago in this process:
`SearchAvailability.refused_lately`) most attempts — bookings and holds alike — are for starts
already taken, and the full path answers each through FastAPI, a request thread, a unit of
work and SQLAlchemy, to read two rows and decide in microseconds. The lane answers the same
409 from two statements on async psycopg (the caller, or a public route's organisation by
slug, with the catalog version; the busy time, with the holds in Redis) and the engine, on
the service's `CalendarPlan` kept per catalog version. api/rush_lane.py puts it in front of
the routes.

It only ever refuses. A start that looks free goes to the full path, which checks again under
the lock and writes; so does everything the lane does not take or is unsure of: a booking
with a hold or a recurrence, chosen resources, a group service, rules that read bookings
(limits, sequence rules) or the clock (resource and location notice and horizon), a start
outside the bookable range, a catalog newer than its plan, a database or Redis that cannot
answer now. What it answers is what `BookSlot`'s and `PlaceHold`'s own plain reads in a rush
answer (tests/app/test_rush.py compares them on many calendars).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from slotwise.app.accounts import API_KEY_PREFIX
from slotwise.app.availability import (
    CalendarPlan,
    SearchAvailability,
    calendar_plan,
    engine_busy,
)
from slotwise.app.rules import rules_forbid_nothing
from slotwise.domain.errors import SlotUnavailable
from slotwise.domain.ids import digest
from slotwise.domain.model import BusyRange
from slotwise.domain.ports import Caller, Clock, RushReads, UnitOfWorkFactory
from slotwise.engine.availability import Busy, slot_at
from slotwise.engine.intervals import TimeRange

K = TypeVar("K")
V = TypeVar("V")

MAX_PLANS = 4096  # plans (and slugs) kept, by organisation and catalog version; then cleared


class RushRefusals:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, search: SearchAvailability,
                 reads: RushReads) -> None:
        self._uow = uow
        self._clock = clock
        self._search = search
        self.reads = reads
        # (org, catalog version, service) → its plan, or None where the lane never answers
        self._plans: dict[tuple[str, int, str], CalendarPlan | None] = {}
        # (org, catalog version, public slug) → the service's id
        self._slugs: dict[tuple[str, int, str], str | None] = {}

    def in_rush(self, service_id: str) -> bool:
        return self._search.refused_lately(service_id)

    def any_in_rush(self) -> bool:
        """Whether any service is in a rush: without one, the lane has nothing to look at."""
        return self._search.any_refused_lately()

    async def caller(self, token: str) -> Caller | None:
        """Who the bearer `token` is, as `Accounts.authenticate` decides (a live session or
        an unrevoked API key), with their catalog version; None: nobody."""
        found = await self.reads.caller(digest(token),
                                        api_key=token.startswith(API_KEY_PREFIX + "_"))
        if found is None or found.revoked:
            return None
        if found.expires_at is not None and found.expires_at <= self._clock.now():
            return None
        return found

    async def organisation(self, slug: str) -> tuple[str, int] | None:
        """A public route's organisation by its slug, with its catalog version."""
        return await self.reads.organisation(slug)

    async def service_id(self, org_id: str, version: int, slug: str) -> str | None:
        """A public route's service by its slug, as the route finds it (`service_by_slug`)."""
        key = (org_id, version, slug)
        if key not in self._slugs:
            found = await asyncio.to_thread(self._load_slugs, org_id)
            by_slug: dict[tuple[str, int, str], str | None] = {
                (org_id, version, s): sid for s, sid in found.items()}
            by_slug.setdefault(key, None)  # no such service: the route says 404
            _keep(self._slugs, by_slug)
        return self._slugs[key]

    async def refusal(self, org_id: str, version: int, service_id: str,
                      start: datetime) -> SlotUnavailable | None:
        """The 409 for a single booking or hold of `service_id` at `start` with no hold and
        no chosen resources, when the start is taken, as the full path's plain read in a rush
        answers it (`BookSlot`, `PlaceHold`): their checks are the same. None when the full
        path must decide. `version`: the catalog version read with the caller."""
        plan = await self._plan(org_id, version, service_id)
        if plan is None:
            return None
        now = self._clock.now()
        if self._search.check_reach(plan.service, start, now) is None:
            return None  # outside the bookable range: its alternatives lie around the edge
        for i, radius in enumerate(self._search.radii(service_id)):
            span = TimeRange(start - radius, start + radius)
            busy = await self.reads.busy_time(org_id, plan.pooled, *plan.busy_span(span), now)
            request = plan.request(_by_resource(busy), {}, now)
            if i == 0 and slot_at(request, start) is not None:
                return None  # looks free: the full path books it, or says why not
            found = self._search.alternatives_in(request, plan.service, start, radius)
            if found is not None:
                self._search.note_refused(service_id)
                return SlotUnavailable("that start is not available", found)
        raise AssertionError("the last radius always answers")

    async def _plan(self, org_id: str, version: int, service_id: str) -> CalendarPlan | None:
        key = (org_id, version, service_id)
        if key not in self._plans:
            # Filed under the version the caller read: the plan's own reads come later, so it
            # is never older than its label (the catalog cache's rule, store/catalog_cache.py).
            plan = await asyncio.to_thread(self._load_plan, org_id, service_id)
            _keep(self._plans, {key: plan})
        return self._plans[key]

    def _load_plan(self, org_id: str, service_id: str) -> CalendarPlan | None:
        with self._uow() as uow:
            service = uow.services.get(org_id, service_id)
            if service is None or service.capacity > 1:
                return None  # a group service's seats are the full path's (joinable_slot)
            plan = calendar_plan(uow, service)
            if not rules_forbid_nothing(uow, service, plan.resources, plan.locations):
                return None
            return plan

    def _load_slugs(self, org_id: str) -> dict[str, str]:
        with self._uow() as uow:
            return {s.slug: s.id for s in uow.services.list(org_id)}


def _keep(memo: dict[K, V], found: dict[K, V]) -> None:
    if len(memo) + len(found) > MAX_PLANS:
        memo.clear()  # hints, not state: what is forgotten is read again
    memo.update(found)


def _by_resource(busy: Sequence[BusyRange]) -> dict[str, list[Busy]]:
    found: dict[str, list[Busy]] = defaultdict(list)
    for taken in busy:
        found[taken.resource_id].append(engine_busy(taken))
    return found
