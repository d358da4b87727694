"""Preview a recurrence: the instances an RRULE yields in its zone and, for a service, whether
each one could be booked on its own right now and what stands in the way of those that could
not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from slotwise.app.availability import joinable_slot, slot_request
from slotwise.app.holds import check_resources
from slotwise.domain.errors import InvalidInput, NotFound
from slotwise.domain.model import Service
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from slotwise.engine.explain import Code, Explanation, explain_many
from slotwise.engine.intervals import TimeRange
from slotwise.engine.recurrence import RecurrenceError, expand

MAX_LIMIT = 500
# Wall times the engine can expand and search around without leaving the calendar.
_FIRST_YEAR, _LAST_YEAR = 1900, 8999


@dataclass(frozen=True, slots=True)
class PreviewQuery:
    """``dtstart`` and ``exdates`` are naive wall times in ``timezone``; ``window`` keeps
    instances starting in it; ``resource_ids`` limit every role's pool, as on a booking."""

    dtstart: datetime
    timezone: str
    rrule: str
    exdates: tuple[datetime, ...] = ()
    window: TimeRange | None = None
    limit: int = MAX_LIMIT
    service_id: str | None = None
    resource_ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Obstacle:
    """What stands in an occurrence's way: ``reason`` is ``busy``, ``closed``, ``notice``,
    ``horizon``, ``limit`` or ``rule``; ``start``/``end`` the busy or excluded range, or the
    occurrence itself when the reason has no range of its own."""

    reason: str
    start: datetime
    end: datetime
    resource_id: str | None = None


@dataclass(frozen=True, slots=True)
class PreviewOccurrence:
    start: datetime
    end: datetime | None = None
    available: bool | None = None
    conflicts: tuple[Obstacle, ...] = ()


@dataclass(frozen=True, slots=True)
class Preview:
    """Instances ascending (UTC) and the generated wall times skipped for not existing."""

    occurrences: tuple[PreviewOccurrence, ...]
    skipped: tuple[datetime, ...]


class PreviewRecurrence:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def __call__(self, org_id: str, query: PreviewQuery) -> Preview:
        _check(query)
        try:
            expansion = expand(query.rrule, query.dtstart, query.timezone, query.exdates,
                               window=query.window, limit=query.limit)
        except RecurrenceError as error:
            raise InvalidInput(str(error), ("body", "rrule")) from error
        starts = [o.start for o in expansion.occurrences]
        if query.service_id is None:
            return Preview(tuple(PreviewOccurrence(t) for t in starts), expansion.skipped)
        with self._uow() as uow:
            service = uow.services.get(org_id, query.service_id)
            if service is None:
                raise NotFound("no such service")
            check_resources(uow, org_id, query.resource_ids)
            occurrences = self._judge(uow, service, starts, query.resource_ids)
        return Preview(occurrences, expansion.skipped)

    def _judge(self, uow: UnitOfWork, service: Service, starts: Sequence[datetime],
               restrict_to: Sequence[str] | None) -> tuple[PreviewOccurrence, ...]:
        """Each start as a booking of it alone would find it now: a free seat in a group
        session, else the slot rule — one load of everything over the whole series."""
        if not starts:
            return ()
        now = self._clock.now()
        duration = timedelta(minutes=service.duration_min)
        span = TimeRange(starts[0], starts[-1] + duration)
        request = slot_request(uow, service, now, span, restrict_to=restrict_to)
        joinable: set[datetime] = set()
        if service.capacity > 1:
            sessions = {b.start for b in uow.bookings.of_service(
                service.org_id, service.id, span.start, span.end)}
            joinable = {t for t in sessions.intersection(starts)
                        if joinable_slot(uow, service, t, now, restrict_to=restrict_to)}
        out = []
        for t, found in zip(starts, explain_many(request, starts), strict=True):
            if found.offered or t in joinable:
                out.append(PreviewOccurrence(t, found.end, True))
            else:
                out.append(PreviewOccurrence(t, found.end, False, obstacles(found)))
        return tuple(out)


def _check(query: PreviewQuery) -> None:
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", ("body", "limit"))
    if query.resource_ids and query.service_id is None:
        raise InvalidInput("resource_ids needs a service_id", ("body", "resource_ids"))
    if query.dtstart.tzinfo is not None:
        raise InvalidInput("dtstart is a local wall time, without an offset", ("body", "dtstart"))
    if not _FIRST_YEAR <= query.dtstart.year <= _LAST_YEAR:
        raise InvalidInput(f"dtstart must lie in the years {_FIRST_YEAR} to {_LAST_YEAR}",
                           ("body", "dtstart"))
    for i, exdate in enumerate(query.exdates):
        if exdate.tzinfo is not None or not _FIRST_YEAR <= exdate.year <= _LAST_YEAR:
            raise InvalidInput(f"an exdate is a local wall time in the years {_FIRST_YEAR} to "
                               f"{_LAST_YEAR}, without an offset", ("body", "exdates", i))
    if query.window is not None and query.window.end <= query.window.start:
        raise InvalidInput("range end must be after its start", ("body", "range", "end"))


_RESOURCE_REASONS = {Code.BUSY: "busy", Code.CLOSED: "closed", Code.NOTICE: "notice",
                     Code.HORIZON: "horizon", Code.LIMIT: "limit", Code.RULE: "rule"}


def obstacles(found: Explanation) -> tuple[Obstacle, ...]:
    """The explanation's reasons in the preview's terms: a resource's busy, closed or excluded
    time as is; the request's notice and horizon over the occurrence; an off-grid start or
    roles that cannot be filled together as ``rule``; a role short of free resources only
    through its members' own reasons (as ``rule`` when it has none to give)."""
    out: list[Obstacle] = []
    itself = (found.start, found.end)
    for r in found.reasons:
        code = _RESOURCE_REASONS.get(r.code)
        if code is not None and r.code is not Code.CLOSED and r.range is not None:
            out.append(Obstacle(code, r.range.start, r.range.end, r.resource_id))
        elif code is not None:
            out.append(Obstacle(code, *itself, resource_id=r.resource_id))
        elif r.code in (Code.GRID, Code.ALLOCATION):
            out.append(Obstacle("rule", *itself))
    if not out:
        out.append(Obstacle("rule", *itself))
    return tuple(dict.fromkeys(out))

