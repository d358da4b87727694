"""Half-open interval algebra, checked by examples and against a set-of-minutes model."""

import itertools
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slotwise.engine.intervals import TimeRange, intersect, merge, subtract
from slotwise.testing.engine_builders import at_utc, hypothesis_examples, utc_range

BASE = at_utc("2027-03-14 00:00")
MINUTE = timedelta(minutes=1)


def r(a: int, b: int) -> TimeRange:
    """Minutes after BASE."""
    return TimeRange(BASE + a * MINUTE, BASE + b * MINUTE)


def test_a_range_is_stored_in_utc_whatever_offset_it_was_given_in():
    new_york = ZoneInfo("America/New_York")
    rng = TimeRange(
        datetime(2027, 3, 15, 9, 0, tzinfo=new_york), datetime(2027, 3, 15, 10, 0, tzinfo=new_york)
    )
    assert rng.start == at_utc("2027-03-15 13:00")
    assert rng.start.tzinfo is UTC
    assert rng.duration == timedelta(hours=1)


def test_duration_across_a_dst_change_is_real_elapsed_time():
    new_york = ZoneInfo("America/New_York")
    # 00:00 EST to 12:00 EDT on the spring-forward day is 11 hours, not 12.
    rng = TimeRange(
        datetime(2027, 3, 14, 0, 0, tzinfo=new_york), datetime(2027, 3, 14, 12, 0, tzinfo=new_york)
    )
    assert rng.duration == timedelta(hours=11)


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        TimeRange(datetime(2027, 1, 1), at_utc("2027-01-02 00:00"))


def test_a_range_ending_before_it_starts_is_refused():
    with pytest.raises(ValueError, match="ends before"):
        r(10, 5)


def test_an_empty_range_is_allowed_and_overlaps_nothing():
    assert r(5, 5).is_empty
    assert not r(5, 5).overlaps(r(0, 10))
    assert not r(0, 10).overlaps(r(5, 5))


def test_touching_ranges_do_not_overlap():
    assert not r(0, 10).overlaps(r(10, 20))
    assert r(0, 10).overlaps(r(9, 20))


def test_contains_includes_both_ends_of_the_inner_range():
    assert r(0, 10).contains(r(0, 10))
    assert r(0, 10).contains(r(2, 3))
    assert not r(0, 10).contains(r(5, 11))


def test_widened_moves_both_ends_outwards():
    assert r(10, 20).widened(timedelta(minutes=5), timedelta(minutes=15)) == r(5, 35)


def test_ranges_order_by_start_then_end():
    assert sorted([r(5, 9), r(1, 20), r(1, 3)]) == [r(1, 3), r(1, 20), r(5, 9)]


def test_a_range_in_another_offset_equals_its_utc_twin():
    plus_two = timezone(timedelta(hours=2))
    assert TimeRange(
        datetime(2027, 1, 1, 2, tzinfo=plus_two), datetime(2027, 1, 1, 3, tzinfo=plus_two)
    ) == utc_range("2027-01-01 00:00", "2027-01-01 01:00")


def test_merge_joins_overlapping_and_touching_ranges_and_drops_empty_ones():
    assert merge([r(20, 30), r(0, 10), r(10, 15), r(40, 40), r(25, 35)]) == [r(0, 15), r(20, 35)]


def test_merge_keeps_ranges_separated_by_a_gap():
    assert merge([r(0, 10), r(11, 12)]) == [r(0, 10), r(11, 12)]


def test_subtract_cuts_holes_and_trims_ends():
    assert subtract([r(0, 100)], [r(10, 20), r(90, 120), r(-5, 2)]) == [
        r(2, 10),
        r(20, 90),
    ]


def test_subtract_one_cut_spanning_several_bases():
    assert subtract([r(0, 10), r(20, 30), r(40, 50)], [r(5, 45)]) == [r(0, 5), r(45, 50)]


def test_subtract_works_at_second_resolution():
    sec = timedelta(seconds=1)
    base = [TimeRange(BASE, BASE + 60 * MINUTE)]
    cut = [TimeRange(BASE + 30 * sec, BASE + 90 * sec)]
    assert subtract(base, cut) == [
        TimeRange(BASE, BASE + 30 * sec),
        TimeRange(BASE + 90 * sec, BASE + 60 * MINUTE),
    ]


def test_intersect_keeps_common_time_only():
    assert intersect([r(0, 10), r(20, 30)], [r(5, 25)]) == [r(5, 10), r(20, 25)]
    assert intersect([r(0, 10)], [r(10, 20)]) == []


def test_set_operations_do_not_mutate_their_inputs():
    base = [r(0, 10), r(5, 20)]
    cut = [r(3, 4)]
    subtract(base, cut)
    intersect(base, cut)
    merge(base)
    assert base == [r(0, 10), r(5, 20)]
    assert cut == [r(3, 4)]


ranges = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, 20)).map(lambda p: r(p[0], p[0] + p[1])),
    max_size=6,
)


def minutes(rs: list[TimeRange]) -> set[int]:
    """The model: a set of minutes after BASE (all test ranges are minute-aligned)."""
    out: set[int] = set()
    for x in rs:
        out.update(range(int((x.start - BASE) / MINUTE), int((x.end - BASE) / MINUTE)))
    return out


def normalised(rs: list[TimeRange]) -> bool:
    return all(x.start < x.end for x in rs) and all(
        a.end < b.start for a, b in itertools.pairwise(rs)
    )


@settings(max_examples=hypothesis_examples(150), deadline=None)
@given(ranges, ranges)
def test_set_operations_agree_with_sets_of_minutes(a, b):
    for result, expected in (
        (merge(a), minutes(a)),
        (subtract(a, b), minutes(a) - minutes(b)),
        (intersect(a, b), minutes(a) & minutes(b)),
    ):
        assert minutes(result) == expected
        assert normalised(result)
