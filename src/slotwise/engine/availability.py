"""Slot generation: which starts a service offers, computed by interval algebra and a sweep.

A start ``t`` is offered when some choice C of resources fills every role with distinct
resources (``allocation.fill_roles``) and, for each r in C:

1. ``[t, t + duration)`` lies inside one open window of r;
2. ``t`` is on C's grid: with ``a_r(t)`` the latest anchor <= t of r's window (its start or a
   local midnight inside it), ``A = max over C of a_r(t)`` and ``(t - A) % step == 0``;
3. ``[t - bb, t + duration + ba)`` overlaps no busy range of r, where ``bb``/``ba`` are the larger
   of the service's and r's own buffers;

4. ``t`` lies in none of r's ``excluded`` start ranges (rules: limits, sequence gaps, the
   resource's own notice and horizon — see ``rules``);

and ``window.start <= t < window.end``, ``now + min_notice <= t <= now + max_advance``, and C
contains ``must_include`` when it is set (when only optional pools hold it: the slot's optional
picks do, trying it first). Open windows are the resource's schedule intersected
with its ``within`` schedules (location hours). Optional roles do not take part in C: each slot
then takes, per optional role, resources free at ``t`` when there are enough.

How: per resource the *feasible starts* (rules 1, 3 and 4) are a set of ranges — each open
window shrunk by the duration, minus each busy range widened by ``duration + ba`` before and
``bb`` after, minus the excluded starts. Over the sorted union of their edges and of the
anchors, every elementary segment has constant feasibility and constant ``a_r`` for every
resource, so one matching per distinct anchor per segment decides all grid points in it. The
cost grows with the number of windows, busy ranges, midnights and offered slots, never with
the minutes in the window.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Protocol

from slotwise.engine.allocation import fill_roles
from slotwise.engine.intervals import TimeRange, as_utc, intersect
from slotwise.engine.pools import RolePool
from slotwise.engine.schedule import OpenWindow, Schedule, open_windows

__all__ = [
    "Busy",
    "ResourceCalendar",
    "Slot",
    "SlotRequest",
    "calendar_windows",
    "find_slots",
    "nearest_slots",
    "slot_at",
]

# datetime is discrete (1 µs), so the closed set of starts [a, b] is exactly the half-open
# range [a, b + _TICK); that keeps a window that fits the duration exactly (one start) and the
# inclusive horizon (t == now + max_advance) in the half-open interval algebra.
_TICK = timedelta.resolution
_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class Busy:
    """Time a resource cannot be booked, already widened by its owner's buffers.
    ``reason`` is ``booking``, ``block``, ``hold`` or another label; ``ref`` names the source;
    ``core``, when known, is the booked range before the buffers widened it (``explain`` tells
    a clash with a booking from one with its buffers by it)."""

    range: TimeRange
    reason: str
    ref: str | None = None
    core: TimeRange | None = None


@dataclass(frozen=True, slots=True)
class ResourceCalendar:
    """One resource's hours (``schedule=None``: never open), busy time and own buffers.

    ``within`` are further schedules (its location's opening hours) that the resource's open
    windows are intersected with; a window cut by them starts its grid where the cut piece
    starts. ``excluded`` are ranges of *starts* a rule forbids on this resource (reasons such
    as ``notice``, ``horizon``, ``limit``, ``rule``) — unlike busy time they are not widened by
    the duration or buffers.
    """

    resource_id: str
    schedule: Schedule | None
    busy: tuple[Busy, ...] = ()
    buffer_before: timedelta = _ZERO
    buffer_after: timedelta = _ZERO
    within: tuple[Schedule, ...] = ()
    excluded: tuple[Busy, ...] = ()

    def __post_init__(self) -> None:
        if self.buffer_before < _ZERO or self.buffer_after < _ZERO:
            raise ValueError("buffers cannot be negative")


@dataclass(frozen=True, slots=True)
class SlotRequest:
    """Everything the rule needs: the service's timing, its roles, one calendar per resource in
    any pool (a pool id without a calendar is never available), and the current instant."""

    duration: timedelta
    step: timedelta
    roles: tuple[RolePool, ...]
    calendars: Mapping[str, ResourceCalendar]
    now: datetime
    buffer_before: timedelta = _ZERO
    buffer_after: timedelta = _ZERO
    min_notice: timedelta = _ZERO
    max_advance: timedelta = timedelta(days=365)
    must_include: str | None = None

    def __post_init__(self) -> None:
        if self.duration <= _ZERO or self.step <= _ZERO:
            raise ValueError("duration and step must be positive")
        if self.buffer_before < _ZERO or self.buffer_after < _ZERO:
            raise ValueError("buffers cannot be negative")
        object.__setattr__(self, "now", as_utc(self.now, "now"))


@dataclass(frozen=True, slots=True)
class Slot:
    """An offered start (UTC), its end, and one valid choice of resources, role by role."""

    start: datetime
    end: datetime
    resource_ids: tuple[str, ...]


def find_slots(request: SlotRequest, window: TimeRange) -> list[Slot]:
    """The offered starts ``t`` with ``window.start <= t < window.end``, ascending and unique."""
    lo = max(window.start, request.now + request.min_notice)
    hi = min(window.end, request.now + request.max_advance + _TICK)
    if lo >= hi:
        return []
    span = TimeRange(lo, hi)
    if not any(role.optional for role in request.roles):
        return list(_offered(request, span))
    return _with_optional_roles(request, span)


def _with_optional_roles(request: SlotRequest, span: TimeRange) -> list[Slot]:
    """Slots decided by the required roles alone; each then takes, role by role in order, the
    first ``count`` resources of every optional pool that are free at its start (all or none
    of them per role). Optional resources never shape the grid."""
    required = tuple(role for role in request.roles if not role.optional)
    optional = [role for role in request.roles if role.optional]
    wanted = request.must_include
    in_required = wanted is not None and any(wanted in r.resource_ids for r in required)
    core = replace(request, roles=required, must_include=wanted if in_required else None)
    if not required:
        return []
    slots = list(_offered(core, span))
    extra_ids = {rid for role in optional for rid in role.resource_ids}
    runs = {
        rid: _feasible_runs(request, request.calendars[rid], span)
        for rid in extra_ids
        if rid in request.calendars
    }
    starts = {rid: [r[0] for r in found] for rid, found in runs.items()}

    def free_at(rid: str, t: datetime) -> bool:
        found = runs.get(rid)
        if not found:
            return False
        i = bisect_right(starts[rid], t) - 1
        return i >= 0 and found[i][1] > t

    offered: list[Slot] = []
    for slot in slots:
        chosen = list(slot.resource_ids)
        for role in optional:
            pool = list(role.resource_ids)
            if wanted in pool and not in_required:
                pool.remove(wanted)
                pool.insert(0, wanted)
            picked = [r for r in pool if r not in chosen and free_at(r, slot.start)][: role.count]
            if len(picked) == role.count:
                # Listed in the pool's preference order, like a required role's choice.
                chosen.extend(r for r in role.resource_ids if r in picked)
        if wanted is None or wanted in chosen:
            offered.append(Slot(slot.start, slot.end, tuple(chosen)))
    return offered


def slot_at(request: SlotRequest, start: datetime) -> Slot | None:
    """The slot at ``start`` when it is offered (by exactly the rule of ``find_slots``, with
    the same resource choice), else None."""
    start = as_utc(start, "start")
    slots = find_slots(request, TimeRange(start, start + _TICK))
    return slots[0] if slots else None


def nearest_slots(
    request: SlotRequest,
    start: datetime,
    count: int = 5,
    search: timedelta = timedelta(days=14),
    *,
    first: timedelta = timedelta(days=1),
) -> list[Slot]:
    """The ``count`` offered starts nearest to ``start`` (by absolute distance, ties to the
    earlier), searched in ``[start - search, start + search)``, ascending by start. The
    search begins with a ring of radius ``first``: a caller that expects a full calendar
    (a rush) saves the rings that would come up short by beginning wider; the answer is the
    same."""
    start = as_utc(start, "start")
    if count <= 0 or search <= _ZERO:
        return []
    # Widen a ring around `start` until it holds `count` slots: every slot outside a ring of
    # radius r is at least r away, and the ones inside are at most r away (ties go to the
    # earlier, which is the one inside), so the nearest inside are the nearest overall.
    radius = min(max(first, _TICK), search)
    while True:
        slots = find_slots(request, TimeRange(start - radius, start + radius))
        if len(slots) >= count or radius >= search:
            break
        radius = min(radius * 2, search)
    nearest = sorted(slots, key=lambda s: (abs(s.start - start), s.start))[:count]
    return sorted(nearest, key=lambda s: s.start)


# A range ``[start, end)`` of feasible starts of one resource (half-open, see _TICK), all
# inside one open window, and that window's anchors: a plain tuple, built per free piece.
_Run = tuple[datetime, datetime, tuple[datetime, ...]]


def _feasible_runs(request: SlotRequest, calendar: ResourceCalendar, span: TimeRange) -> list[_Run]:
    """The starts in ``span`` that satisfy rules 1, 3 and 4 for one resource, ascending and
    disjoint: each window's fitting starts minus the widened busy time and the excluded starts,
    clipped to the span."""
    if calendar.schedule is None:
        return []
    duration = request.duration
    span_start, span_end = span.start, span.end
    # A slot starting in the span ends before span.end + duration: those are the windows it
    # may need, each returned whole so that its anchors are right.
    windows = calendar_windows(calendar, TimeRange(span_start, span_end + duration))
    before = max(request.buffer_before, calendar.buffer_before)
    after = max(request.buffer_after, calendar.buffer_after)
    # [t - before, t + duration + after) meets busy [s, e) exactly when
    # s - duration - after < t < e + before.
    lead = duration + after - _TICK
    reach_start = span_start - before
    reach_end = span_end + duration + after
    # Plain (start, end) tuples, sorted once and merged in one pass: busy time widened into
    # the starts it forbids (only what a slot starting in the span could meet), and the
    # excluded starts as they are.
    raw: list[tuple[datetime, datetime]] = []
    for busy in calendar.busy:
        start, end = busy.range.start, busy.range.end
        if start < end and end > reach_start and start < reach_end:
            raw.append((start - lead, end + before))
    for excluded in calendar.excluded:
        start, end = excluded.range.start, excluded.range.end
        if start < end and end > span_start and start < span_end:
            raw.append((start, end))
    raw.sort()
    cuts: list[tuple[datetime, datetime]] = []
    for cut in raw:
        if cuts and cut[0] <= cuts[-1][1]:
            if cut[1] > cuts[-1][1]:
                cuts[-1] = (cuts[-1][0], cut[1])
        else:
            cuts.append(cut)
    runs: list[_Run] = []
    j, n = 0, len(cuts)
    for window in windows:
        # The window's fitting starts [w.start, w.end - duration], clipped to the span; windows
        # ascend and are disjoint, so these ranges do too.
        w = window.range
        if w.end - w.start < duration:
            continue
        lo = w.start if w.start > span_start else span_start
        hi = w.end - duration + _TICK
        if hi > span_end:
            hi = span_end
        if lo >= hi:
            continue
        while j < n and cuts[j][1] <= lo:  # cuts are disjoint and ascending: ends ascend too
            j += 1
        cursor, k, anchors = lo, j, window.anchors
        while cursor < hi:
            if k < n and cuts[k][0] < hi:
                piece_end = cuts[k][0]
                next_cursor = cuts[k][1]
                k += 1
            else:
                piece_end = next_cursor = hi
            if cursor < piece_end:
                if runs and runs[-1][1] == cursor:
                    # Fitting ranges of two windows touch only when the duration is one tick;
                    # their union is one run, carrying the anchors of the window it starts in.
                    runs[-1] = (runs[-1][0], piece_end, runs[-1][2])
                else:
                    runs.append((cursor, piece_end, anchors))
            if next_cursor > cursor:
                cursor = next_cursor
    return runs


def calendar_windows(calendar: ResourceCalendar, span: TimeRange) -> list[OpenWindow]:
    """The resource's open windows overlapping ``span``: its schedule's windows intersected
    with every schedule in ``within``; each piece is anchored at its own start and at the local
    midnights of the resource's schedule inside it."""
    if calendar.schedule is None:
        return []
    windows = open_windows(calendar.schedule, span)
    for outer in calendar.within:
        if not windows:
            break
        reach = TimeRange(windows[0].range.start, windows[-1].range.end)
        allowed = [w.range for w in open_windows(outer, reach)]
        cut: list[OpenWindow] = []
        for window in windows:
            for piece in intersect([window.range], allowed):
                inner = (a for a in window.anchors if piece.start < a < piece.end)
                cut.append(OpenWindow(piece, (piece.start, *inner)))
        windows = [w for w in cut if w.range.overlaps(span)]
    return windows


def _offered(request: SlotRequest, span: TimeRange) -> Iterator[Slot]:
    ids = list(dict.fromkeys(r for role in request.roles for r in role.resource_ids))
    if request.must_include is not None and request.must_include not in ids:
        return
    # The sweep: every run of every resource becomes events (its start with its anchor there,
    # each anchor inside it, its end), grouped by instant and visited once in order. Between
    # two consecutive instants — an elementary segment — the set of feasible resources and
    # their anchors is constant and kept up to date incrementally, so a segment costs what
    # changed at its start plus its distinct anchors, never a pass over every resource.
    if len(ids) == 1 and len(request.roles) == 1 and _first_per_role_applies(request.roles):
        # One role of count 1 with one resource: a grid point of a run is offered with it,
        # the anchor switching at each anchor inside the run, which is what the sweep below
        # finds with a single resource, without its bookkeeping.
        calendar = request.calendars.get(ids[0])
        if calendar is not None:
            yield from _single_resource(request, ids[0], calendar, span)
        return
    starts: dict[datetime, list[tuple[str, datetime]]] = {}
    ends: dict[datetime, list[str]] = {}
    for rid in ids:
        calendar = request.calendars.get(rid)
        if calendar is None:
            continue
        for run in _feasible_runs(request, calendar, span):
            lo, hi, anchors = run
            i = bisect_right(anchors, lo) - 1
            starts.setdefault(lo, []).append((rid, anchors[i]))
            for anchor in anchors[i + 1:]:
                if anchor >= hi:
                    break
                starts.setdefault(anchor, []).append((rid, anchor))
            ends.setdefault(hi, []).append(rid)
    if not starts:
        return
    chooser: _Chooser = (_FirstPerRole(request.roles, request.must_include)
                         if _first_per_role_applies(request.roles)
                         else _Matching(request.roles, request.must_include))
    active: dict[str, datetime] = {}  # feasible resource -> its anchor a_r
    members: dict[datetime, int] = {}  # anchor -> how many feasible resources have it
    anchors_now: list[datetime] = []  # the distinct anchors of `members`, ascending
    step, duration = request.step, request.duration
    times = sorted(starts.keys() | ends.keys())
    for seg_start, seg_end in pairwise(times):
        # Ends first: a run of a resource may end where its next run starts.
        for rid in ends.get(seg_start, ()):
            _leave(rid, active.pop(rid), members, anchors_now, chooser)
        for rid, anchor in starts.get(seg_start, ()):
            old = active.get(rid)
            if old is not None:
                _leave(rid, old, members, anchors_now, chooser)
            active[rid] = anchor
            if anchor in members:
                members[anchor] += 1
            else:
                members[anchor] = 1
                insort(anchors_now, anchor)
            chooser.add(rid, anchor)
        if not anchors_now:
            continue
        if len(anchors_now) == 1:  # the common case: one grid, every feasible resource on it
            anchor = anchors_now[0]
            t = anchor - ((anchor - seg_start) // step) * step  # the first grid point >= start
            if t >= seg_end:
                continue
            chosen = chooser.choose_one(anchor, active)
            if chosen is None:
                continue
            while t < seg_end:
                yield Slot(t, t + duration, chosen)
                t += step
            continue
        # The first grid point in the segment of each anchor's grid (None: no point in it).
        firsts: list[datetime | None] = []
        wanted = False
        for anchor in anchors_now:
            first = anchor - ((anchor - seg_start) // step) * step
            if first < seg_end:
                firsts.append(first)
                wanted = True
            else:
                firsts.append(None)
        if not wanted:
            continue
        choices = chooser.choose(anchors_now, firsts, active)
        taken: dict[datetime, Slot] = {}
        # Ascending anchors: a start on the grid of several anchors keeps the choice of the
        # smallest one, the same choice slot_at finds.
        for grid_start, chosen in zip(firsts, choices, strict=True):
            if grid_start is None or chosen is None:
                continue
            t = grid_start
            while t < seg_end:
                if t not in taken:
                    taken[t] = Slot(t, t + duration, chosen)
                t += step
        yield from (taken[t] for t in sorted(taken))


def _single_resource(request: SlotRequest, rid: str, calendar: ResourceCalendar,
                     span: TimeRange) -> Iterator[Slot]:
    chosen = (rid,)
    step, duration = request.step, request.duration
    for lo, hi, anchors in _feasible_runs(request, calendar, span):
        i = bisect_right(anchors, lo) - 1
        seg_start, anchor = lo, anchors[i]
        for nxt in (*anchors[i + 1:], hi):
            seg_end = nxt if nxt < hi else hi
            t = anchor - ((anchor - seg_start) // step) * step  # the first grid point >= start
            while t < seg_end:
                yield Slot(t, t + duration, chosen)
                t += step
            if seg_end >= hi:
                break
            seg_start = anchor = nxt


def _leave(rid: str, anchor: datetime, members: dict[datetime, int],
           anchors_now: list[datetime], chooser: _Chooser) -> None:
    left = members[anchor] - 1
    if left:
        members[anchor] = left
    else:
        del members[anchor]
        del anchors_now[bisect_left(anchors_now, anchor)]
    chooser.remove(rid, anchor)


class _Chooser(Protocol):
    """Answers ``fill_roles`` for the resources feasible in a segment, anchor by anchor."""

    def add(self, rid: str, anchor: datetime) -> None: ...

    def remove(self, rid: str, anchor: datetime) -> None: ...

    def choose_one(self, anchor: datetime, active: Mapping[str, datetime]
                   ) -> tuple[str, ...] | None:
        """``choose`` when every resource of ``active`` has the one anchor ``anchor``."""
        ...

    def choose(self, anchors: list[datetime], firsts: list[datetime | None],
               active: Mapping[str, datetime]) -> list[tuple[str, ...] | None]:
        """For each anchor A of ``anchors`` (ascending) whose ``firsts`` entry is set:
        ``fill_roles(roles, usable, must_include, tight)`` with ``usable`` the resources of
        ``active`` anchored at or before A and ``tight`` those anchored at A; else None."""
        ...


class _Matching:
    """Any roles: the matching itself, cached per (usable, tight) pair."""

    def __init__(self, roles: tuple[RolePool, ...], must_include: str | None) -> None:
        self._roles = roles
        self._must = must_include
        self._cache: dict[tuple[frozenset[str], frozenset[str]], tuple[str, ...] | None] = {}

    def add(self, rid: str, anchor: datetime) -> None:
        pass

    def remove(self, rid: str, anchor: datetime) -> None:
        pass

    def choose_one(self, anchor: datetime, active: Mapping[str, datetime]
                   ) -> tuple[str, ...] | None:
        if self._must is not None and self._must not in active:
            return None
        usable = frozenset(active)
        key = (usable, usable)
        if key not in self._cache:
            self._cache[key] = fill_roles(self._roles, usable, self._must, usable)
        return self._cache[key]

    def choose(self, anchors: list[datetime], firsts: list[datetime | None],
               active: Mapping[str, datetime]) -> list[tuple[str, ...] | None]:
        if self._must is not None and self._must not in active:
            return [None] * len(anchors)
        out: list[tuple[str, ...] | None] = []
        for anchor, first in zip(anchors, firsts, strict=True):
            if first is None:
                out.append(None)
                continue
            key = (frozenset(r for r, a in active.items() if a <= anchor),
                   frozenset(r for r, a in active.items() if a == anchor))
            if key not in self._cache:
                self._cache[key] = fill_roles(self._roles, key[0], self._must, key[1])
            out.append(self._cache[key])
        return out


# The fast path below reproduces fill_roles for required roles of count 1 only; a role field
# it does not know (added later) sends every request through the matching until it learns it.
_KNOWN_ROLE_FIELDS = frozenset({"count", "resource_ids", "optional"})


def _first_per_role_applies(roles: tuple[RolePool, ...]) -> bool:
    if {f.name for f in fields(RolePool)} != _KNOWN_ROLE_FIELDS:
        return False
    seen: set[str] = set()
    for role in roles:
        if role.count != 1 or role.optional or type(role) is not RolePool:
            return False
        pool = set(role.resource_ids)
        if pool & seen:
            return False
        seen |= pool
    return True


class _FirstPerRole:
    """Roles of count 1 with disjoint pools, the common case, without a matching.

    Then ``fill_roles(roles, usable, must, tight)`` is: each role takes its first usable
    resource in pool order (none usable: no answer); a forced resource replaces the holder of
    its own role, and two forced resources of one role cannot both be placed. With ``must``
    tight, only ``must`` is forced; otherwise the candidates of ``tight`` are tried in
    preference order (roles in order, each pool in order) and the first that can be forced
    beside ``must`` — the first tight resource of the first role that has one, ``must``'s role
    excepted — is it. So it is enough to know, per role and anchor, the first (in pool order)
    feasible resource with that anchor: a sorted list of pool positions each.
    """

    def __init__(self, roles: tuple[RolePool, ...], must_include: str | None) -> None:
        self._pools = [tuple(dict.fromkeys(role.resource_ids)) for role in roles]
        self._where = {rid: (i, k) for i, pool in enumerate(self._pools)
                       for k, rid in enumerate(pool)}
        self._by_anchor: list[dict[datetime, list[int]]] = [{} for _ in roles]
        self._must = must_include

    def add(self, rid: str, anchor: datetime) -> None:
        role, rank = self._where[rid]
        group = self._by_anchor[role].get(anchor)
        if group is None:
            self._by_anchor[role][anchor] = [rank]
        else:
            insort(group, rank)

    def remove(self, rid: str, anchor: datetime) -> None:
        role, rank = self._where[rid]
        group = self._by_anchor[role][anchor]
        if len(group) == 1:
            del self._by_anchor[role][anchor]
        else:
            del group[bisect_left(group, rank)]

    def choose_one(self, anchor: datetime, active: Mapping[str, datetime]
                   ) -> tuple[str, ...] | None:
        # Every feasible resource is usable and tight: each role takes its first one, and a
        # forced `must` takes its own role's place.
        chosen = []
        for pool, groups in zip(self._pools, self._by_anchor, strict=True):
            group = groups.get(anchor)
            if not group:
                return None
            chosen.append(pool[group[0]])
        must = self._must
        if must is not None:
            if must not in active:
                return None
            role, _ = self._where[must]
            chosen[role] = must
        return tuple(chosen)

    def choose(self, anchors: list[datetime], firsts: list[datetime | None],
               active: Mapping[str, datetime]) -> list[tuple[str, ...] | None]:
        must = self._must
        must_role, must_rank, must_anchor = -1, -1, None
        if must is not None:
            must_anchor = active.get(must)
            if must_anchor is None:
                return [None] * len(anchors)
            must_role, must_rank = self._where[must]
        pools, by_anchor = self._pools, self._by_anchor
        n = len(pools)
        best: list[int | None] = [None] * n  # first usable position per role so far
        out: list[tuple[str, ...] | None] = []
        for anchor, first in zip(anchors, firsts, strict=True):
            tight: list[int | None] = [None] * n
            for i in range(n):
                group = by_anchor[i].get(anchor)
                if group:
                    head = group[0]
                    tight[i] = head
                    b = best[i]
                    if b is None or head < b:
                        best[i] = head
            if first is None or any(b is None for b in best):
                out.append(None)
                continue
            ranks = list(best)
            if must_anchor is not None:
                if must_anchor > anchor:  # `must` is not usable yet
                    out.append(None)
                    continue
                ranks[must_role] = must_rank
            if must_anchor != anchor:
                forced = next((i for i in range(n) if tight[i] is not None and i != must_role),
                              None)
                if forced is None:
                    out.append(None)
                    continue
                ranks[forced] = tight[forced]
            out.append(tuple(pools[i][r] for i, r in enumerate(ranks)))  # type: ignore[index]
        return out
