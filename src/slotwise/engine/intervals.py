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

__all__ = ["TimeRange", "as_utc", "intersect", "merge", "subtract"]


def as_utc(value: datetime, what: str = "datetime") -> datetime:
    """The same instant with ``tzinfo=datetime.UTC``; ValueError for a naive datetime."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    if value.tzinfo is UTC and value.fold == 0:
        return value
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
        object.__setattr__(self, "start", as_utc(self.start, "start"))
        object.__setattr__(self, "end", as_utc(self.end, "end"))
        if self.end < self.start:
            raise ValueError(f"range ends before it starts: {self.start} .. {self.end}")

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


def merge(ranges: Iterable[TimeRange]) -> list[TimeRange]:
    """The union of ``ranges``, normalised: overlapping or touching ranges become one, empty
    ranges vanish."""
    out: list[TimeRange] = []
    cur_start: datetime | None = None
    cur_end: datetime | None = None
    for r in sorted(r for r in ranges if r.start < r.end):
        if cur_start is not None and cur_end is not None and r.start <= cur_end:
            if r.end > cur_end:
                cur_end = r.end
            continue
        if cur_start is not None and cur_end is not None:
            out.append(TimeRange(cur_start, cur_end))
        cur_start, cur_end = r.start, r.end
    if cur_start is not None and cur_end is not None:
        out.append(TimeRange(cur_start, cur_end))
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
            out.append(TimeRange(cursor, b.end))
    return out


def intersect(a: Sequence[TimeRange], b: Sequence[TimeRange]) -> list[TimeRange]:
    """The instants in both ``a`` and ``b``, normalised."""
    left = merge(a)
    right = merge(b)
    out: list[TimeRange] = []
    i = j = 0
    while i < len(left) and j < len(right):
        lo = max(left[i].start, right[j].start)
        hi = min(left[i].end, right[j].end)
        if lo < hi:
            out.append(TimeRange(lo, hi))
        if left[i].end <= right[j].end:
            i += 1
        else:
            j += 1
    return out
