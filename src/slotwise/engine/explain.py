"""Why a start is or is not offered: every reason, by exactly the rule of ``find_slots``.

``explain(request, t)`` gives ``slot_at``'s slot when ``t`` is offered; otherwise every reason
it is not:

- for the request: ``notice`` (``t`` before ``now + min_notice``; ``bound`` is that earliest
  start) and ``horizon`` (``t`` after ``now + max_advance``; ``bound`` is that latest start);
- for a resource that stands in the way: ``closed`` — ``[t, t + duration)`` lies inside none
  of its open windows; ``source`` says whose hours exclude it: ``resource`` (its own) or
  ``location`` (a schedule in ``within``), one reason each when both do, and ``range`` is the
  open window the slot overlaps, if any —; ``busy`` — ``source`` is the busy time's kind
  (``booking``; ``buffer`` when the booking's own range, ``Busy.core``, does not meet the slot
  and only the buffers of either side overlap; ``block``; ``hold``; any other label as given),
  ``ref`` its id, ``range`` what is in the way (a booking's own range, else the busy range) —;
  and one reason per excluded start range holding ``t``, coded by its reason (``limit``,
  ``notice``, ``horizon``; anything else is ``rule``), with the label in ``ref`` (and for
  ``notice``/``horizon`` the ``bound`` its range implies: its end, or just before its start);
- for the roles: ``unfilled`` when fewer than ``count`` of a role's pool are free
  (``candidates`` are the free ones); ``allocation`` when every role has enough free candidates
  but no choice of distinct resources fills them all at once (``roles`` is a smallest set of
  roles short of resources together); ``grid`` when a choice of free resources exists but
  ``t`` lies on none of their grids, and also when the resources merely open at ``t`` (busy or
  not) could fill the roles but on no grid holding ``t`` — it would stay refused with
  everything in the way gone (``nearest``: the offered starts just before and after ``t``);
  ``not_in_pool`` when ``must_include`` is in no pool at all.

The resources explained are those that decide the answer: every busy or closed member of a role
that cannot be filled (alone or together with others), and ``must_include`` when it is not
free. A free resource is never listed; neither is a busy one whose role others fill.

``reasons_against`` decides on its own — per resource feasibility, then the matching at each
grid anchor, as ``find_slots`` does — and is empty exactly when ``slot_at`` offers the start;
property tests hold the two together.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import combinations

from slotwise.engine.allocation import fill_roles
from slotwise.engine.availability import (
    Busy,
    ResourceCalendar,
    Slot,
    SlotRequest,
    calendar_windows,
    find_slots,
    slot_at,
)
from slotwise.engine.intervals import TimeRange, as_utc
from slotwise.engine.pools import RolePool
from slotwise.engine.schedule import OpenWindow, Schedule, open_windows

__all__ = [
    "Code",
    "Explanation",
    "Reason",
    "explain",
    "explain_many",
    "neighbours",
    "reasons_against",
    "with_nearest",
]

_TICK = timedelta.resolution
_ZERO = timedelta(0)
# Beyond this many roles the smallest short set of roles is not searched for (2^n subsets);
# every role is named instead.
_MAX_ROLES_SEARCHED = 8


class Code(StrEnum):
    NOTICE = "notice"
    HORIZON = "horizon"
    CLOSED = "closed"
    BUSY = "busy"
    LIMIT = "limit"
    RULE = "rule"
    UNFILLED = "unfilled"
    ALLOCATION = "allocation"
    GRID = "grid"
    NOT_IN_POOL = "not_in_pool"


_EXCLUDED_CODES = {"notice": Code.NOTICE, "horizon": Code.HORIZON, "limit": Code.LIMIT}


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason a start is not offered; which fields are set depends on ``code`` (see the
    module docstring). ``roles`` are indices into ``SlotRequest.roles``."""

    code: Code
    resource_id: str | None = None
    roles: tuple[int, ...] = ()
    range: TimeRange | None = None
    core: TimeRange | None = None
    source: str | None = None
    ref: str | None = None
    bound: datetime | None = None
    needed: int | None = None
    candidates: tuple[str, ...] = ()
    nearest: tuple[Slot, ...] = ()


@dataclass(frozen=True, slots=True)
class Explanation:
    """The answer for one start (UTC): ``slot`` when offered, else the ``reasons``."""

    start: datetime
    end: datetime
    slot: Slot | None
    reasons: tuple[Reason, ...]

    @property
    def offered(self) -> bool:
        return self.slot is not None


def explain(request: SlotRequest, start: datetime,
            around: timedelta | None = timedelta(days=1)) -> Explanation:
    """Whether ``start`` is offered (``slot_at``'s answer, the same resource choice) and, when
    it is not, every reason. A ``grid`` reason carries the nearest offered starts within
    ``around`` on each side (none searched when ``around`` is None)."""
    t = as_utc(start, "start")
    slot = slot_at(request, t)
    if slot is not None:
        return Explanation(t, t + request.duration, slot, ())
    reasons = reasons_against(request, t)
    if around is not None and any(r.code is Code.GRID for r in reasons):
        reasons = with_nearest(reasons, neighbours(request, t, around))
    return Explanation(t, t + request.duration, None, reasons)


def neighbours(request: SlotRequest, start: datetime, around: timedelta) -> tuple[Slot, ...]:
    """The last offered start before ``start`` and the first after it, each at most
    ``around`` away (either may be missing)."""
    t = as_utc(start, "start")
    before = find_slots(request, TimeRange(t - around, t))
    after = find_slots(request, TimeRange(t + _TICK, t + around))
    return (*before[-1:], *after[:1])


def with_nearest(reasons: Iterable[Reason], nearest: tuple[Slot, ...]) -> tuple[Reason, ...]:
    """``reasons`` with ``nearest`` set on the ``grid`` reason."""
    return tuple(replace(r, nearest=nearest) if r.code is Code.GRID else r for r in reasons)


def explain_many(request: SlotRequest, starts: Iterable[datetime]) -> list[Explanation]:
    """``explain`` for each start (no nearest starts searched), in order. Each start is judged
    on the busy and excluded ranges that can touch it, found by bisection, so many starts over
    a long request cost about as much as many short requests."""
    narrow = _Narrowing(request)
    return [explain(narrow.at(as_utc(t, "start")), t, around=None) for t in starts]


def reasons_against(request: SlotRequest, start: datetime) -> tuple[Reason, ...]:
    """Every reason ``start`` is not offered; empty exactly when ``slot_at`` offers it."""
    t = as_utc(start, "start")
    reasons: list[Reason] = []
    earliest = request.now + request.min_notice
    latest = request.now + request.max_advance
    if t < earliest:
        reasons.append(Reason(Code.NOTICE, bound=earliest))
    if t > latest:
        reasons.append(Reason(Code.HORIZON, bound=latest))
    reasons.extend(_Analysis(request, t).reasons())
    return tuple(reasons)


@dataclass(frozen=True, slots=True)
class _State:
    """One resource at the start: what stands in its way, and its grid anchor ``a_r(t)``
    when the slot lies inside one of its open windows (busy or not)."""

    reasons: tuple[Reason, ...]
    anchor: datetime | None


class _Analysis:
    def __init__(self, request: SlotRequest, t: datetime) -> None:
        self._request = request
        self._t = t
        self._states: dict[str, _State] = {}

    def _state(self, rid: str) -> _State:
        found = self._states.get(rid)
        if found is None:
            found = self._states[rid] = _resource_state(self._request, rid, self._t)
        return found

    def _free(self, rid: str) -> bool:
        return not self._state(rid).reasons

    def reasons(self) -> list[Reason]:
        roles = self._request.roles
        wanted = self._request.must_include
        if wanted is not None and not any(wanted in role.resource_ids for role in roles):
            return [Reason(Code.NOT_IN_POOL, resource_id=wanted)]
        required = [i for i, role in enumerate(roles) if not role.optional]
        if not required:
            return [Reason(Code.ALLOCATION)]  # nothing to fill: find_slots offers nothing
        core = [roles[i] for i in required]
        in_required = wanted is not None and any(wanted in role.resource_ids for role in core)
        core_wanted = wanted if in_required else None
        listed: dict[str, list[int]] = {}
        summary: list[Reason] = []
        if wanted is not None and not self._free(wanted):
            listed[wanted] = [i for i, role in enumerate(roles) if wanted in role.resource_ids]
        short = False
        for i in required:
            pool = tuple(dict.fromkeys(roles[i].resource_ids))
            free = tuple(r for r in pool if self._free(r))
            if len(free) < roles[i].count:
                short = True
                summary.append(Reason(Code.UNFILLED, roles=(i,), needed=roles[i].count,
                                      candidates=free))
                self._list(listed, pool, i)
        if not short and (wanted is None or self._free(wanted)):
            summary.extend(self._choice(required, core, core_wanted, listed))
        if all(r.code is not Code.GRID for r in summary) and self._off_grid(required, core,
                                                                           core_wanted):
            summary.append(Reason(Code.GRID))
        explained = [replace(reason, roles=tuple(serves))
                     for rid, serves in listed.items() for reason in self._state(rid).reasons]
        return [*explained, *summary]

    def _list(self, listed: dict[str, list[int]], pool: Iterable[str], role: int) -> None:
        for rid in pool:
            if not self._free(rid):
                serves = listed.setdefault(rid, [])
                if role not in serves:
                    serves.append(role)

    def _choice(self, required: Sequence[int], core: Sequence[RolePool],
                core_wanted: str | None, listed: dict[str, list[int]]) -> list[Reason]:
        """With every role holding enough free candidates: can they be filled together, on a
        grid that holds the start, and does the choice take ``must_include``?"""
        roles = self._request.roles
        wanted = self._request.must_include
        free = {r for role in core for r in role.resource_ids if self._free(r)}
        if fill_roles(core, free, core_wanted) is None:
            group = self._short_group(required, free)
            for i in group:
                self._list(listed, roles[i].resource_ids, i)
            candidates = tuple(dict.fromkeys(r for i in group for r in roles[i].resource_ids
                                             if r in free))
            return [Reason(Code.ALLOCATION, roles=group, candidates=candidates)]
        chosen = self._on_grid(core, free, core_wanted)
        if chosen is None:
            return [Reason(Code.GRID)]
        if wanted is not None and core_wanted is None and wanted not in self._with_optional(
                chosen):
            group = tuple(i for i, role in enumerate(roles)
                          if role.optional and wanted in role.resource_ids)
            for i in group:
                self._list(listed, roles[i].resource_ids, i)
            candidates = tuple(dict.fromkeys(r for i in group for r in roles[i].resource_ids
                                             if self._free(r) and r not in chosen))
            return [Reason(Code.ALLOCATION, resource_id=wanted, roles=group,
                           candidates=candidates)]
        return []

    def _off_grid(self, required: Sequence[int], core: Sequence[RolePool],
                  core_wanted: str | None) -> bool:
        """True when the resources open at the start (busy or not) could fill the roles, but
        on no grid holding it: then it would stay refused with everything in the way gone.
        (Free resources are among the open ones and a choice on the grid stays one with more
        resources around, so an offered start is never off the grid here.)"""
        opened = {r for role in core for r in role.resource_ids
                  if self._state(r).anchor is not None}
        return (fill_roles(core, opened, core_wanted) is not None
                and self._on_grid(core, opened, core_wanted) is None)

    def _short_group(self, required: Sequence[int], free: set[str]) -> tuple[int, ...]:
        """A smallest set of roles whose free candidates together are fewer than the seats
        they need (Hall's condition fails there); all the roles when none is (then it is
        ``must_include`` that cannot be placed) or when there are too many to search."""
        roles = self._request.roles
        if len(required) <= _MAX_ROLES_SEARCHED:
            for size in range(1, len(required) + 1):
                for group in combinations(required, size):
                    supply = {r for i in group for r in roles[i].resource_ids if r in free}
                    if len(supply) < sum(roles[i].count for i in group):
                        return group
        return tuple(required)

    def _on_grid(self, core: Sequence[RolePool], usable_ids: set[str],
                 wanted: str | None) -> tuple[str, ...] | None:
        """The choice ``find_slots`` makes at the start from ``usable_ids``: for each anchor
        the start is on the grid of (ascending), a filling of the roles by resources anchored
        no later, one of them exactly there."""
        anchor_of: dict[str, datetime] = {}
        for rid in usable_ids:
            anchor = self._state(rid).anchor
            if anchor is not None:
                anchor_of[rid] = anchor
        for anchor in sorted(set(anchor_of.values())):
            if (self._t - anchor) % self._request.step:
                continue
            usable = frozenset(r for r, a in anchor_of.items() if a <= anchor)
            exact = frozenset(r for r, a in anchor_of.items() if a == anchor)
            chosen = fill_roles(core, usable, wanted, exact)
            if chosen is not None:
                return chosen
        return None

    def _with_optional(self, chosen: Sequence[str]) -> list[str]:
        """The resources a slot takes once each optional role, in order, takes the first
        ``count`` free members of its pool (``must_include`` tried first), all or none."""
        wanted = self._request.must_include
        taken = list(chosen)
        for role in self._request.roles:
            if not role.optional:
                continue
            pool = list(role.resource_ids)
            if wanted in pool:
                pool.remove(wanted)
                pool.insert(0, wanted)
            picked = [r for r in pool if r not in taken and self._free(r)][: role.count]
            if len(picked) == role.count:
                taken.extend(picked)
        return taken


def _resource_state(request: SlotRequest, rid: str, t: datetime) -> _State:
    calendar = request.calendars.get(rid)
    if calendar is None or calendar.schedule is None:
        return _State((Reason(Code.CLOSED, resource_id=rid, source="resource"),), None)
    slot = TimeRange(t, t + request.duration)
    reasons: list[Reason] = []
    # The same windows, asked for the same span, as find_slots uses for a start at t.
    windows = calendar_windows(calendar, TimeRange(t, t + _TICK + request.duration))
    home = next((w for w in windows if w.range.contains(slot)), None)
    if home is None:
        reasons.extend(_closed(calendar, rid, slot, windows))
    before = max(request.buffer_before, calendar.buffer_before)
    after = max(request.buffer_after, calendar.buffer_after)
    reach = TimeRange(t - before, slot.end + after)
    in_way = sorted((b for b in calendar.busy if b.range.overlaps(reach)), key=_busy_order)
    reasons.extend(_busy_reason(rid, b, slot) for b in in_way)
    for rule in sorted((e for e in calendar.excluded if e.range.start <= t < e.range.end),
                       key=_busy_order):
        code = _EXCLUDED_CODES.get(rule.reason, Code.RULE)
        bound = {Code.NOTICE: rule.range.end, Code.HORIZON: rule.range.start - _TICK}.get(code)
        reasons.append(Reason(code, resource_id=rid, range=rule.range, source=rule.reason,
                              ref=rule.ref, bound=bound))
    if home is None:
        return _State(tuple(reasons), None)
    return _State(tuple(reasons), home.anchors[bisect_right(home.anchors, t) - 1])


def _busy_order(busy: Busy) -> tuple[datetime, datetime]:
    return busy.range.start, busy.range.end


def _closed(calendar: ResourceCalendar, rid: str, slot: TimeRange,
            windows: Sequence[OpenWindow]) -> list[Reason]:
    """Whose hours leave the slot out: the resource's own, its location's, or both."""
    span = TimeRange(slot.start, slot.end + _TICK)
    out: list[Reason] = []
    schedules: list[tuple[str, Schedule | None]] = [("resource", calendar.schedule)]
    schedules.extend(("location", outer) for outer in calendar.within)
    for source, schedule in schedules:
        if schedule is None:
            continue
        own = open_windows(schedule, span)
        if not any(w.range.contains(slot) for w in own):
            near = next((w.range for w in own if w.range.overlaps(slot)), None)
            out.append(Reason(Code.CLOSED, resource_id=rid, range=near, source=source))
    if not out:  # only the cut of the two leaves it out; say so on the resource's hours
        near = next((w.range for w in windows if w.range.overlaps(slot)), None)
        out.append(Reason(Code.CLOSED, resource_id=rid, range=near, source="resource"))
    return out


def _busy_reason(rid: str, busy: Busy, slot: TimeRange) -> Reason:
    if busy.reason == "booking":
        if busy.core is not None and not busy.core.overlaps(slot):
            return Reason(Code.BUSY, resource_id=rid, range=busy.range, core=busy.core,
                          source="buffer", ref=busy.ref)
        return Reason(Code.BUSY, resource_id=rid, range=busy.core or busy.range,
                      core=busy.core, source="booking", ref=busy.ref)
    return Reason(Code.BUSY, resource_id=rid, range=busy.range, source=busy.reason,
                  ref=busy.ref)


class _Sorted:
    """Ranges sorted by start, for the ones meeting a short span."""

    def __init__(self, items: Iterable[Busy]) -> None:
        self._items = sorted(items, key=_busy_order)
        self._starts = [b.range.start for b in self._items]
        self._longest = max((b.range.duration for b in self._items), default=_ZERO)

    def meeting(self, lo: datetime, hi: datetime) -> tuple[Busy, ...]:
        # A range starting before lo - longest ends before lo.
        first = bisect_left(self._starts, lo - self._longest)
        last = bisect_left(self._starts, hi)
        return tuple(b for b in self._items[first:last] if b.range.end > lo)


class _Narrowing:
    """The request cut down, per start, to the busy and excluded ranges that can touch it."""

    def __init__(self, request: SlotRequest) -> None:
        self._request = request
        calendars = request.calendars.values()
        self._before = max([request.buffer_before, *(c.buffer_before for c in calendars)])
        self._after = max([request.buffer_after, *(c.buffer_after for c in calendars)])
        self._busy = {rid: _Sorted(c.busy) for rid, c in request.calendars.items()}
        self._excluded = {rid: _Sorted(c.excluded) for rid, c in request.calendars.items()}

    def at(self, t: datetime) -> SlotRequest:
        lo = t - self._before
        hi = t + self._request.duration + self._after + _TICK
        calendars = {
            rid: replace(c, busy=self._busy[rid].meeting(lo, hi),
                         excluded=self._excluded[rid].meeting(t, t + _TICK))
            for rid, c in self._request.calendars.items()
        }
        return replace(self._request, calendars=calendars)
