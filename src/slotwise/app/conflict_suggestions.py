"""The ways out of a conflict, ranked: every suggestion is a place the booking could be
moved to now, found by the availability search with the booking's own allocation left out
(a booking never stands in its own way).

Ranking, by kind and then within the kind:
1. ``reschedule``: the nearest offered starts before and after the booking's, on the same
   resources — least disruption (smallest distance in time, ties to the earlier) first;
2. ``substitute``: the same time with another resource of the conflicted one's role (same
   kind, tags, capacity, named pool) in its place, every other resource kept — in the role's
   preference order (weights, then least booked this week, then id), as availability picks;
3. ``reschedule_and_promote``: when the booking takes several resources or a group seat,
   the nearest reschedule that leaves its old range entirely, paired with a waiting
   waitlist entry (of any service) that the freed time could serve — first in line first.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import datetime

from slotwise.app.availability import (
    ALTERNATIVES_RADII,
    offered_slot,
    preference_order,
    slot_request,
)
from slotwise.app.rules import Exclude
from slotwise.app.scheduling import profile, requirements
from slotwise.domain.booking import Booking
from slotwise.domain.conflicts import (
    Conflict,
    SuggestedResource,
    Suggestion,
    SuggestionKind,
)
from slotwise.domain.model import Resource, Service
from slotwise.domain.ports import UnitOfWork
from slotwise.engine.availability import Slot, find_slots, nearest_slots
from slotwise.engine.intervals import TimeRange
from slotwise.engine.pools import RolePool, role_pools

RESCHEDULES = 5
PROMOTIONS = 3


def suggest(uow: UnitOfWork, conflict: Conflict, booking: Booking, service: Service,
            now: datetime) -> list[Suggestion]:
    """The conflict's suggestions, ranked (rank 1 first)."""
    resources = {r.id: r for r in uow.resources.list(booking.org_id)}
    roles = role_pools(requirements(service), [profile(r) for r in resources.values()])
    role_of: dict[str, int] = {}
    for i, role in enumerate(roles):
        for rid in role.resource_ids:
            role_of.setdefault(rid, i)
    own = Exclude(booking_ids=frozenset({booking.id}))
    moves = _reschedules(uow, service, booking, own, now)
    found = [
        *(_suggestion(SuggestionKind.RESCHEDULE, s, role_of, resources, booking)
          for s in moves),
        *_substitutes(uow, service, booking, conflict, roles, role_of, resources, own, now),
        *_promotions(uow, booking, moves, role_of, resources, own, now),
    ]
    return [replace(s, rank=i) for i, s in enumerate(found, start=1)]


def _reschedules(uow: UnitOfWork, service: Service, booking: Booking, own: Exclude,
                 now: datetime) -> list[Slot]:
    same = sorted(booking.resource_ids)
    slots: list[Slot] = []
    # A day either side first; further only when that holds too few (as for a 409's
    # alternatives): anything outside a ring is further away than everything inside it.
    for radius in ALTERNATIVES_RADII:
        span = TimeRange(booking.start - radius, booking.start + radius)
        request = slot_request(uow, service, now, span, restrict_to=booking.resource_ids,
                               exclude=own)
        slots = [s for s in nearest_slots(request, booking.start, RESCHEDULES + 1, radius)
                 if s.start != booking.start and sorted(s.resource_ids) == same]
        if len(slots) >= RESCHEDULES:
            break
    slots.sort(key=lambda s: (abs(s.start - booking.start), s.start))
    return slots[:RESCHEDULES]


def _substitutes(uow: UnitOfWork, service: Service, booking: Booking, conflict: Conflict,
                 roles: tuple[RolePool, ...], role_of: Mapping[str, int],
                 resources: Mapping[str, Resource], own: Exclude, now: datetime
                 ) -> list[Suggestion]:
    role = role_of.get(conflict.resource_id)
    if role is None or conflict.resource_id not in booking.resource_ids:
        return []
    org = uow.organisations.get(booking.org_id)
    ranked = preference_order(uow, service, roles, org.timezone if org else "UTC",
                              booking.start)[role].resource_ids
    found = []
    for candidate in ranked:
        if candidate in booking.resource_ids:
            continue
        wanted = tuple(candidate if rid == conflict.resource_id else rid
                       for rid in booking.resource_ids)
        slot = offered_slot(uow, service, booking.start, now, restrict_to=wanted, exclude=own)
        if slot is None or sorted(slot.resource_ids) != sorted(wanted):
            continue
        found.append(_suggestion(SuggestionKind.SUBSTITUTE, Slot(slot.start, slot.end, wanted),
                                 role_of, resources, booking,
                                 replaces=(conflict.resource_id, candidate)))
    return found


def _promotions(uow: UnitOfWork, booking: Booking, moves: list[Slot],
                role_of: Mapping[str, int], resources: Mapping[str, Resource],
                own: Exclude, now: datetime) -> list[Suggestion]:
    old = TimeRange(booking.start, booking.end)
    service = uow.services.get(booking.org_id, booking.service_id)
    if service is None or (len(booking.resource_ids) < 2 and service.capacity < 2):
        return []
    move = next((m for m in moves if not TimeRange(m.start, m.end).overlaps(old)), None)
    if move is None:
        return []
    waiting = [entry for other in uow.services.list(booking.org_id)
               for entry in uow.waitlist.waiting_for(booking.org_id, other.id, old.start,
                                                     old.end, limit=PROMOTIONS)]
    waiting.sort(key=lambda e: (e.created_at, e.id))
    found = []
    for entry in waiting:
        wanted = uow.services.get(booking.org_id, entry.service_id)
        window = TimeRange(max(entry.range_start, old.start), min(entry.range_end, old.end))
        if wanted is None or window.is_empty:
            continue
        freed = _freed_start(uow, wanted, window, entry.resource_ids, own, now)
        if freed is None:
            continue
        found.append(_suggestion(
            SuggestionKind.RESCHEDULE_AND_PROMOTE, move, role_of, resources, booking,
            waitlist_entry_id=entry.id,
            promoted=f"; the freed {_hm(freed)} slot is offered to {entry.customer.name} "
                     f"(waitlist)"))
        if len(found) == PROMOTIONS:
            break
    return found


def _freed_start(uow: UnitOfWork, service: Service, window: TimeRange,
                 restrict_to: Collection[str] | None, own: Exclude, now: datetime
                 ) -> datetime | None:
    """The first start in `window` that availability offers for `service` once the booking
    has left, and does not offer while it stays."""
    moved = find_slots(slot_request(uow, service, now, window, restrict_to=restrict_to,
                                    exclude=own), window)
    if not moved:
        return None
    now_free = {s.start for s in find_slots(slot_request(uow, service, now, window,
                                                         restrict_to=restrict_to), window)}
    return next((s.start for s in moved if s.start not in now_free), None)


def _suggestion(kind: SuggestionKind, slot: Slot, role_of: Mapping[str, int],
                resources: Mapping[str, Resource], booking: Booking, *,
                replaces: tuple[str, str] | None = None, waitlist_entry_id: str | None = None,
                promoted: str = "") -> Suggestion:
    chosen = tuple(SuggestedResource(rid, role_of.get(rid)) for rid in slot.resource_ids)
    if kind is SuggestionKind.SUBSTITUTE and replaces is not None:
        summary = (f"{_name(resources, replaces[1])} instead of "
                   f"{_name(resources, replaces[0])}, at the same time")
    else:
        shift_min = int((slot.start - booking.start).total_seconds() // 60)
        summary = (f"Move to {_when(slot.start)} with the same resources "
                   f"({shift_min:+d} min){promoted}")
    return Suggestion(kind=kind, start=slot.start, end=slot.end, resources=chosen,
                      replaces=replaces, waitlist_entry_id=waitlist_entry_id, summary=summary)


def _name(resources: Mapping[str, Resource], resource_id: str) -> str:
    found = resources.get(resource_id)
    return found.name if found is not None else resource_id


def _when(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%MZ")


def _hm(instant: datetime) -> str:
    return instant.strftime("%H:%MZ")
