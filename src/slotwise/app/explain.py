"""Explain availability: for one candidate start of a service, whether it is offered and
every reason it is not, in sentences an operator reads ("Dr Ada is busy with booking …")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from slotwise.app.availability import joinable_slot, slot_request
from slotwise.domain.errors import InvalidInput, NotFound
from slotwise.domain.model import Location, Resource, Service
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from slotwise.engine.availability import SlotRequest
from slotwise.engine.explain import Code, Reason, explain, neighbours, with_nearest
from slotwise.engine.intervals import TimeRange, as_utc

# How far on each side of an off-grid start the nearest offered starts are looked for.
NEAREST_WITHIN = timedelta(days=1)
# Starts this close to the ends of the calendar cannot be searched around.
_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Explained:
    """One engine reason and the sentence that tells it."""

    reason: Reason
    message: str


@dataclass(frozen=True, slots=True)
class StartExplanation:
    service_id: str
    start: datetime
    end: datetime
    offered: bool
    resource_ids: tuple[str, ...]
    reasons: tuple[Explained, ...]


def check_instant(value: datetime, loc: Sequence[str | int]) -> datetime:
    """An instant the engine can search around (years 1900 to 8999), as UTC."""
    if not _EARLIEST <= value < _LATEST:
        raise InvalidInput("the instant must lie between the years 1900 and 8999", loc)
    return as_utc(value)


class ExplainAvailability:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def __call__(self, org_id: str, service_id: str, start: datetime,
                 resource_id: str | None = None) -> StartExplanation:
        """Offered or not, by the rule availability answers with (``resource_id`` keeps only
        choices that take it); when offered, the resources booking it would take."""
        t = check_instant(start, ("query", "start"))
        now = self._clock.now()
        with self._uow() as uow:
            service = uow.services.get(org_id, service_id)
            if service is None:
                raise NotFound("no such service")
            if resource_id is not None and uow.resources.get(org_id, resource_id) is None:
                raise NotFound("no such resource")
            duration = timedelta(minutes=service.duration_min)
            seat = joinable_slot(uow, service, t, now) if service.capacity > 1 else None
            if seat is not None and (resource_id is None or resource_id in seat.resource_ids):
                return StartExplanation(service.id, t, t + duration, True, seat.resource_ids, ())
            # The span starts at t, as a booking's does, so the resource choice is the same.
            request = slot_request(uow, service, now, TimeRange(t, t + duration),
                                   must_include=resource_id)
            found = explain(request, t, around=None)
            reasons = found.reasons
            if any(r.code is Code.GRID for r in reasons):
                wide = slot_request(uow, service, now,
                                    TimeRange(t - NEAREST_WITHIN, t + NEAREST_WITHIN),
                                    must_include=resource_id)
                reasons = with_nearest(reasons, neighbours(wide, t, NEAREST_WITHIN))
            names = _Names.load(uow, org_id, service, request, reasons)
        return StartExplanation(
            service.id, t, found.end, found.offered,
            found.slot.resource_ids if found.slot is not None else (),
            tuple(Explained(r, names.sentence(r)) for r in reasons),
        )


def _when(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%MZ")


def _span(r: TimeRange) -> str:
    if r.start.date() == r.end.date():
        return f"{r.start:%Y-%m-%d %H:%M}–{r.end:%H:%M}Z"
    return f"{_when(r.start)}–{_when(r.end)}"


@dataclass(frozen=True, slots=True)
class _Names:
    """What a sentence needs: resource and location names, role names, the grid step."""

    resources: Mapping[str, Resource]
    locations: Mapping[str, Location]
    service: Service
    request: SlotRequest

    @classmethod
    def load(cls, uow: UnitOfWork, org_id: str, service: Service, request: SlotRequest,
             reasons: Sequence[Reason]) -> _Names:
        ids = {r.resource_id for r in reasons if r.resource_id is not None}
        ids.update(rid for r in reasons for rid in r.candidates)
        resources = uow.resources.many(org_id, sorted(ids)) if ids else {}
        location_ids = sorted({r.location_id for r in resources.values()
                               if r.location_id is not None})
        locations = uow.locations.many(org_id, location_ids) if location_ids else {}
        return cls(resources, locations, service, request)

    def resource(self, rid: str | None) -> str:
        found = self.resources.get(rid or "")
        return found.name if found is not None else f"resource {rid}"

    def role(self, index: int) -> str:
        kinds = [r.kind.value for r in self.service.requirements]
        if index >= len(kinds):
            return f"role {index + 1}"
        if kinds.count(kinds[index]) > 1:
            return f"{kinds[index]} (role {index + 1})"
        return kinds[index]

    def listing(self, ids: Sequence[str]) -> str:
        return ", ".join(self.resource(rid) for rid in ids) if ids else "none"

    def sentence(self, r: Reason) -> str:
        name = self.resource(r.resource_id)
        where = f" {_span(r.range)}" if r.range is not None else ""
        match r.code:
            case Code.NOTICE if r.resource_id is None:
                bound = _when(r.bound) if r.bound is not None else "later"
                return f"too short notice: the earliest bookable start is {bound}"
            case Code.HORIZON if r.resource_id is None:
                bound = _when(r.bound) if r.bound is not None else "sooner"
                return f"too far ahead: the latest bookable start is {bound}"
            case Code.NOTICE:
                bound = f": the earliest start it takes is {_when(r.bound)}" if r.bound else ""
                return f"{name} needs more notice{bound}"
            case Code.HORIZON:
                bound = f": the latest start it takes is {_when(r.bound)}" if r.bound else ""
                return f"{name} cannot be booked this far ahead{bound}"
            case Code.CLOSED if r.source == "location":
                resource = self.resources.get(r.resource_id or "")
                location = self.locations.get(resource.location_id or "") if resource else None
                place = location.name if location is not None else "its location"
                opened = f" (open{where})" if r.range is not None else " (closed then)"
                return f"outside the opening hours of {place}, {name}'s location{opened}"
            case Code.CLOSED:
                opened = f" (open{where})" if r.range is not None else " (closed then)"
                return f"outside {name}'s hours{opened}"
            case Code.BUSY:
                return self._busy(r, name)
            case Code.LIMIT:
                label = r.ref or "a booking limit"
                return f"{name} has reached its {label}: no more bookings{where}"
            case Code.RULE:
                near = f" near booking {r.ref}" if r.ref else ""
                return f"a sequence rule keeps {name} from starts{where}{near}"
            case Code.UNFILLED:
                role = self.role(r.roles[0]) if r.roles else "role"
                if not r.candidates:
                    return f"no {role} is free (the role needs {r.needed})"
                return (f"the {role} role needs {r.needed} free resources, only "
                        f"{self.listing(r.candidates)} {'is' if len(r.candidates) == 1 else 'are'}")
            case Code.ALLOCATION if r.resource_id is not None:
                return (f"{name} is free but its optional role cannot take it with enough "
                        f"others (free: {self.listing(r.candidates)})")
            case Code.ALLOCATION if not r.roles:
                return "the service has no required role to fill"
            case Code.ALLOCATION:
                roles = " and ".join(self.role(i) for i in r.roles)
                return (f"the {roles} roles cannot all be filled at once by different "
                        f"resources (free for them: {self.listing(r.candidates)})")
            case Code.GRID:
                step = self.request.step // timedelta(minutes=1)
                nearest = " and ".join(_when(s.start) for s in r.nearest) or "none within a day"
                return (f"not on the service's {step}-minute grid of start times; "
                        f"nearest offered starts: {nearest}")
            case Code.NOT_IN_POOL:
                return f"{name} is in none of this service's roles"
        return r.code.value

    def _busy(self, r: Reason, name: str) -> str:
        where = _span(r.range) if r.range is not None else ""
        match r.source:
            case "booking":
                return f"{name} is busy with booking {r.ref} {where}"
            case "buffer":
                core = _span(r.core) if r.core is not None else where
                return (f"{name}'s booking {r.ref} {core} is too close: the buffers between "
                        f"the two bookings overlap (it blocks {where})")
            case "block":
                return f"{name} is blocked {where} (block {r.ref})"
            case "hold":
                return f"{name} is held {where} by hold {r.ref}"
        ref = f" ({r.source} {r.ref})" if r.ref else f" ({r.source})"
        return f"{name} is busy {where}{ref}"
