"""Half-open UTC time ranges and the set operations availability is built from.

Every range is ``[start, end)`` with timezone-aware datetimes normalised to UTC. The set
operations take any iterable of ranges (unsorted, overlapping, empty ones included) and return
a *normalised* list: sorted, non-empty, pairwise disjoint and not touching. Inputs are never
mutated. Each operation costs O(n log n) in the number of ranges, never in minutes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter

__all__ = ["TimeRange", "as_utc", "intersect", "merge", "subtract"]


def as_utc(value: datetime, what: str = "datetime") -> datetime:
    """The same instant with ``tzinfo=datetime.UTC``; ValueError for a naive datetime."""
    if value.tzinfo is UTC and value.fold == 0:  # the common case, checked first: it is hot
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC).replace(fold=0)


@dataclass(frozen=True, order=True, slots=True)
class TimeRange:
    """The half-open range ``[start, end)`` of instants.

    Both ends must be timezone-aware; they are stored as UTC. ``end == start`` is allowed (an
    empty range, which overlaps nothing); ``end < start`` is a ValueError.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        # Stored as UTC so that arithmetic is exact: aware datetimes that share a ZoneInfo
        # subtract as wall times, which is wrong across DST.
        start, end = self.start, self.end
        if start.tzinfo is not UTC or end.tzinfo is not UTC or start.fold or end.fold:
            start, end = as_utc(start, "start"), as_utc(end, "end")
            object.__setattr__(self, "start", start)
            object.__setattr__(self, "end", end)
        if end < start:
            raise ValueError(f"range ends before it starts: {start} .. {end}")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def is_empty(self) -> bool:
        return self.end == self.start

    def overlaps(self, other: TimeRange) -> bool:
        """True when the two ranges share at least one instant (touching ranges do not)."""
        return max(self.start, other.start) < min(self.end, other.end)

    def contains(self, other: TimeRange) -> bool:
        """True when ``other`` lies within this range: ``start <= other.start`` and
        ``other.end <= end``."""
        return self.start <= other.start and other.end <= self.end

    def widened(self, before: timedelta, after: timedelta) -> TimeRange:
        """``[start - before, end + after)``; ValueError if negative widths invert the range."""
        return TimeRange(self.start - before, self.end + after)


_bounds = attrgetter("start", "end")  # the sort key of TimeRange's own ordering, in C


def merge(ranges: Iterable[TimeRange]) -> list[TimeRange]:
    """The union of ``ranges``, normalised: overlapping or touching ranges become one, empty
    ranges vanish."""
    out: list[TimeRange] = []
    items = iter(sorted([r for r in ranges if r.start < r.end], key=_bounds))
    whole = next(items, None)  # the range being grown while it is still an input range
    if whole is None:
        return out
    cur_start, cur_end = whole.start, whole.end
    for r in items:
        if r.start <= cur_end:
            if r.end > cur_end:
                cur_end = r.end
                whole = None
            continue
        # An input range that absorbed nothing is kept as it is (ranges are immutable).
        out.append(whole if whole is not None else TimeRange(cur_start, cur_end))
        whole, cur_start, cur_end = r, r.start, r.end
    out.append(whole if whole is not None else TimeRange(cur_start, cur_end))
    return out


def subtract(base: Sequence[TimeRange], cut: Sequence[TimeRange]) -> list[TimeRange]:
    """The instants of ``base`` that are in no range of ``cut``, normalised."""
    bases = merge(base)
    cuts = merge(cut)
    out: list[TimeRange] = []
    j = 0
    for b in bases:
        # Cuts ending before this base cannot touch any later base either (both ascend).
        while j < len(cuts) and cuts[j].end <= b.start:
            j += 1
        cursor = b.start
        k = j
        while k < len(cuts) and cuts[k].start < b.end:
            if cuts[k].start > cursor:
                out.append(TimeRange(cursor, cuts[k].start))
            cursor = max(cursor, cuts[k].end)
            k += 1
        if cursor < b.end:
            out.append(b if cursor == b.start else TimeRange(cursor, b.end))
    return out


def intersect(a: Sequence[TimeRange], b: Sequence[TimeRange]) -> list[TimeRange]:
    """The instants in both ``a`` and ``b``, normalised."""
    left = merge(a)
    right = merge(b)
    out: list[TimeRange] = []
    i = j = 0
    while i < len(left) and j < len(right):
        x, y = left[i], right[j]
        lo = x.start if x.start > y.start else y.start
        hi = x.end if x.end < y.end else y.end
        if lo < hi:
            # A piece equal to one of the inputs is that input (ranges are immutable).
            if lo == x.start and hi == x.end:
                out.append(x)
            elif lo == y.start and hi == y.end:
                out.append(y)
            else:
                out.append(TimeRange(lo, hi))
        if x.end <= y.end:
            i += 1
        else:
            j += 1
    return out
