"""RRULE expansion on local wall times, RFC 5545 to the letter."""

import time as clock
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slotwise.engine.recurrence import Expansion, RecurrenceError, expand
from slotwise.engine.zones import local_exists
from slotwise.testing.engine_builders import at_utc, hypothesis_examples, utc_range


def starts(expansion: Expansion) -> list[datetime]:
    return [o.start for o in expansion.occurrences]


def locals_(expansion: Expansion) -> list[str]:
    return [o.local.strftime("%Y-%m-%d %H:%M") for o in expansion.occurrences]


def test_weekly_nine_in_new_york_stays_nine_local_across_spring_forward():
    got = expand("FREQ=WEEKLY;COUNT=4", datetime(2027, 3, 1, 9, 0), "America/New_York")
    assert locals_(got) == [
        "2027-03-01 09:00",
        "2027-03-08 09:00",
        "2027-03-15 09:00",
        "2027-03-22 09:00",
    ]
    assert starts(got) == [
        at_utc("2027-03-01 14:00"),
        at_utc("2027-03-08 14:00"),
        at_utc("2027-03-15 13:00"),
        at_utc("2027-03-22 13:00"),
    ]
    assert got.skipped == ()


def test_weekly_nine_in_phoenix_keeps_its_utc_time():
    got = expand("RRULE:FREQ=WEEKLY;COUNT=3", datetime(2027, 3, 8, 9, 0), "America/Phoenix")
    assert {o.start.strftime("%H:%M") for o in got.occurrences} == {"16:00"}


def test_daily_0230_skips_the_spring_forward_day_and_does_not_count_it():
    got = expand("FREQ=DAILY;COUNT=4", datetime(2027, 3, 12, 2, 30), "America/New_York")
    assert locals_(got) == [
        "2027-03-12 02:30",
        "2027-03-13 02:30",
        "2027-03-15 02:30",
        "2027-03-16 02:30",
    ]
    assert got.skipped == (datetime(2027, 3, 14, 2, 30),)


def test_a_dtstart_in_the_gap_moves_forward_and_counts():
    got = expand("FREQ=DAILY;COUNT=2", datetime(2027, 3, 14, 2, 30), "America/New_York")
    assert starts(got) == [at_utc("2027-03-14 07:30"), at_utc("2027-03-15 06:30")]
    assert locals_(got) == ["2027-03-14 03:30", "2027-03-15 02:30"]
    assert got.skipped == ()


def test_a_wall_time_in_the_fold_takes_the_earlier_instant():
    got = expand("FREQ=DAILY;COUNT=3", datetime(2027, 11, 6, 1, 30), "America/New_York")
    assert starts(got) == [
        at_utc("2027-11-06 05:30"),  # EDT
        at_utc("2027-11-07 05:30"),  # the first 01:30, still EDT
        at_utc("2027-11-08 06:30"),  # EST
    ]


def test_lord_howe_skips_a_time_inside_its_half_hour_gap():
    got = expand("FREQ=DAILY;COUNT=3", datetime(2027, 10, 2, 2, 15), "Australia/Lord_Howe")
    assert locals_(got) == ["2027-10-02 02:15", "2027-10-04 02:15", "2027-10-05 02:15"]
    assert got.skipped == (datetime(2027, 10, 3, 2, 15),)


def test_apias_missing_day_is_skipped():
    got = expand("FREQ=DAILY;COUNT=3", datetime(2011, 12, 28, 12, 0), "Pacific/Apia")
    assert locals_(got) == ["2011-12-28 12:00", "2011-12-29 12:00", "2011-12-31 12:00"]
    assert got.skipped == (datetime(2011, 12, 30, 12, 0),)


def test_dtstart_counts_only_when_the_rule_generates_it():
    # 2027-03-01 is a Monday; the rule generates Tuesdays only.
    got = expand("FREQ=WEEKLY;BYDAY=TU;COUNT=2", datetime(2027, 3, 1, 9, 0), "Europe/Paris")
    assert locals_(got) == ["2027-03-02 09:00", "2027-03-09 09:00"]


def test_count_with_until_is_an_error():
    with pytest.raises(RecurrenceError, match="COUNT and UNTIL"):
        expand("FREQ=DAILY;COUNT=3;UNTIL=20270401T000000Z", datetime(2027, 3, 1, 9), "UTC")


@pytest.mark.parametrize("until", ["20270401T000000", "20270401"])
def test_a_local_or_date_until_is_an_error_because_dtstart_has_a_zone(until):
    with pytest.raises(RecurrenceError, match="UTC"):
        expand(f"FREQ=DAILY;UNTIL={until}", datetime(2027, 3, 1, 9), "Europe/Paris")


def test_until_is_inclusive_and_compared_in_utc():
    # 09:00 New York is 13:00Z from 2027-03-14 on; UNTIL 13:00Z on the 15th keeps the 15th.
    got = expand("FREQ=DAILY;UNTIL=20270315T130000Z", datetime(2027, 3, 12, 9), "America/New_York")
    assert locals_(got)[-1] == "2027-03-15 09:00"
    assert len(got.occurrences) == 4
    earlier = expand(
        "FREQ=DAILY;UNTIL=20270315T125959Z", datetime(2027, 3, 12, 9), "America/New_York"
    )
    assert len(earlier.occurrences) == 3


def test_exdate_removes_instances_after_count_is_applied():
    got = expand(
        "FREQ=WEEKLY;COUNT=3",
        datetime(2027, 3, 1, 9),
        "America/New_York",
        exdates=[datetime(2027, 3, 8, 9)],
    )
    assert locals_(got) == ["2027-03-01 09:00", "2027-03-15 09:00"]


def test_an_aware_exdate_matches_by_instant():
    got = expand(
        "FREQ=DAILY;COUNT=2",
        datetime(2027, 3, 1, 9),
        "Europe/Paris",
        exdates=[at_utc("2027-03-02 08:00")],
    )
    assert locals_(got) == ["2027-03-01 09:00"]


def test_the_window_keeps_starts_in_its_half_open_range():
    got = expand(
        "FREQ=DAILY;COUNT=10",
        datetime(2027, 3, 1, 9),
        "UTC",
        window=utc_range("2027-03-03 09:00", "2027-03-05 09:00"),
    )
    assert locals_(got) == ["2027-03-03 09:00", "2027-03-04 09:00"]


def test_the_window_bounds_an_endless_rule():
    got = expand(
        "FREQ=DAILY",
        datetime(2027, 3, 1, 9),
        "UTC",
        window=utc_range("2030-01-01 00:00", "2030-01-03 00:00"),
    )
    assert locals_(got) == ["2030-01-01 09:00", "2030-01-02 09:00"]


def test_limit_truncates():
    assert (
        len(expand("FREQ=DAILY;COUNT=50", datetime(2027, 3, 1, 9), "UTC", limit=7).occurrences) == 7
    )
    assert len(expand("FREQ=DAILY", datetime(2027, 3, 1, 9), "UTC").occurrences) == 500


def test_require_end_refuses_an_endless_rule():
    with pytest.raises(RecurrenceError, match="COUNT or UNTIL"):
        expand("FREQ=WEEKLY", datetime(2027, 3, 1, 9), "UTC", require_end=True)
    assert expand(
        "FREQ=WEEKLY;COUNT=1", datetime(2027, 3, 1, 9), "UTC", require_end=True
    ).occurrences


def test_an_aware_dtstart_is_read_as_its_wall_time_in_the_zone():
    got = expand("FREQ=DAILY;COUNT=1", at_utc("2027-03-01 14:00"), "America/New_York")
    assert locals_(got) == ["2027-03-01 09:00"]


def test_lowercase_and_trailing_semicolons_are_accepted():
    got = expand("rrule:freq=weekly;byday=mo,we;count=3;", datetime(2027, 3, 1, 9), "UTC")
    assert locals_(got) == ["2027-03-01 09:00", "2027-03-03 09:00", "2027-03-08 09:00"]


def test_an_unknown_zone_is_a_recurrence_error():
    with pytest.raises(RecurrenceError, match="zone"):
        expand("FREQ=DAILY;COUNT=1", datetime(2027, 3, 1, 9), "EST5EDT")


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "RRULE:",
        "COUNT=3",
        "FREQ=FORTNIGHTLY",
        "FREQ=DAILY;COUNT=0",
        "FREQ=DAILY;COUNT=-1",
        "FREQ=DAILY;COUNT=three",
        "FREQ=DAILY;INTERVAL=0",
        "FREQ=DAILY;FREQ=WEEKLY",
        "FREQ=DAILY;COLOR=RED",
        "FREQ=DAILY;BYEASTER=0",
        "FREQ=DAILY;=3",
        "FREQ=DAILY;COUNT",
        "FREQ=DAILY;BYHOUR=24",
        "FREQ=DAILY;BYMONTH=13",
        "FREQ=DAILY;BYMONTHDAY=0",
        "FREQ=DAILY;BYMONTHDAY=32",
        "FREQ=DAILY;BYYEARDAY=100",
        "FREQ=MONTHLY;BYWEEKNO=3",
        "FREQ=WEEKLY;BYMONTHDAY=3",
        "FREQ=WEEKLY;BYDAY=1MO",
        "FREQ=MONTHLY;BYDAY=6MO",
        "FREQ=MONTHLY;BYDAY=XX",
        "FREQ=WEEKLY;WKST=XX",
        "FREQ=HOURLY;INTERVAL=4;BYHOUR=3",
        "FREQ=DAILY;UNTIL=2027-04-01",
        "FREQ=DAILY;UNTIL=20271301T000000Z",
        "FREQ=DAILY\nRRULE:FREQ=WEEKLY",
        "DTSTART:20270301T090000Z",
        "FREQ=DAILY;COUNT=2;EXDATE:20270302T090000",
    ],
)
def test_a_malformed_rule_is_a_recurrence_error(rule):
    with pytest.raises(RecurrenceError):
        expand(rule, datetime(2027, 3, 1, 9), "UTC")


def test_a_rule_that_never_matches_ends_quickly_with_nothing():
    began = clock.perf_counter()
    got = expand("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", datetime(2027, 1, 1, 9), "UTC")
    assert got.occurrences == ()
    assert clock.perf_counter() - began < 5  # dateutil alone scans to the year 9999


def test_a_sparse_rule_with_count_reaches_its_count():
    # Leap days: 30 of them span 120 years.
    got = expand("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=30", datetime(2028, 2, 29, 9), "UTC")
    assert len(got.occurrences) == 30


def test_recurrence_error_is_a_value_error():
    assert issubclass(RecurrenceError, ValueError)


ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Pacific/Apia",
]
PARTS = st.sampled_from(
    [
        "FREQ=DAILY",
        "FREQ=WEEKLY",
        "FREQ=MONTHLY",
        "FREQ=HOURLY",
        "FREQ=YEARLY",
        "COUNT=5",
        "COUNT=0",
        "INTERVAL=2",
        "BYDAY=MO,SU",
        "BYDAY=-1SU",
        "BYDAY=2SU",
        "BYHOUR=0,2",
        "BYMINUTE=30",
        "BYMONTH=3,10",
        "BYMONTHDAY=-1",
        "BYSETPOS=1",
        "UNTIL=20300101T000000Z",
        "UNTIL=2030",
        "WKST=SU",
        "X=1",
        "",
        "=",
        ";",
    ]
)


@settings(max_examples=hypothesis_examples(200), deadline=None)
@given(
    parts=st.lists(PARTS, min_size=1, max_size=5),
    zone=st.sampled_from(ZONES),
    offset_h=st.integers(0, 24 * 800),
    minute=st.sampled_from([0, 15, 30]),
)
def test_any_rule_expands_to_ascending_existing_instants_or_a_recurrence_error(
    parts, zone, offset_h, minute
):
    dtstart = datetime(2015, 1, 1) + timedelta(hours=offset_h, minutes=minute)
    try:
        got = expand(";".join(parts), dtstart, zone, limit=40)
    except RecurrenceError:
        return
    tz = ZoneInfo(zone)
    instants = starts(got)
    assert instants == sorted(set(instants))
    for o in got.occurrences:
        assert o.local == o.start.astimezone(tz).replace(tzinfo=None)
        assert local_exists(o.local, tz)
    assert all(not local_exists(s, tz) for s in got.skipped)
    count = next((int(p[6:]) for p in parts if p.startswith("COUNT=")), None)
    if count is not None:
        assert len(instants) <= count


def test_a_dtstart_that_is_not_a_datetime_is_a_recurrence_error():
    with pytest.raises(RecurrenceError, match="date-times"):
        expand("FREQ=DAILY;COUNT=1", "2027-03-01T09:00", "UTC")  # type: ignore[arg-type]


def test_a_series_near_the_end_of_the_calendar_stops_there():
    got = expand("FREQ=YEARLY;COUNT=5", datetime(9998, 6, 1, 9), "America/New_York")
    assert len(got.occurrences) == 2
