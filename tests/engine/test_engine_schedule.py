"""Weekly hours and overrides expanded to UTC open windows, across midnights and DST."""

import itertools
from datetime import date, timedelta

import pytest

from slotwise.engine.schedule import (
    DateOverride,
    LocalHours,
    OpenWindow,
    Schedule,
    WeeklyHours,
    open_windows,
)
from slotwise.engine.zones import UnknownZone
from slotwise.testing.engine_builders import (
    at_utc,
    closed,
    override,
    schedule,
    utc_range,
    weekly,
)


def ranges(windows: list[OpenWindow]) -> list[tuple[str, str]]:
    return [
        (w.range.start.strftime("%Y-%m-%d %H:%M"), w.range.end.strftime("%Y-%m-%d %H:%M"))
        for w in windows
    ]


def test_local_hours_must_be_a_non_empty_part_of_one_day():
    LocalHours(0, 1440)
    for start, end in [(600, 600), (700, 600), (-1, 10), (0, 1441)]:
        with pytest.raises(ValueError, match="0 <= start < end <= 1440"):
            LocalHours(start, end)


def test_weekdays_must_be_zero_to_six():
    with pytest.raises(ValueError, match="weekdays"):
        WeeklyHours(frozenset({7}), LocalHours(0, 60))


def test_a_schedule_needs_an_iana_zone():
    with pytest.raises(UnknownZone):
        Schedule(zone="+02:00")


def test_nine_to_five_new_york_follows_the_wall_clock_across_spring_forward():
    s = schedule(
        zone="America/New_York", weekly=[weekly(days="mon-fri", start="09:00", end="17:00")]
    )
    got = open_windows(s, utc_range("2027-03-12 00:00", "2027-03-16 00:00"))
    assert ranges(got) == [
        ("2027-03-12 14:00", "2027-03-12 22:00"),  # Friday, EST
        ("2027-03-15 13:00", "2027-03-15 21:00"),  # Monday, EDT
    ]
    assert got[0].anchors == (at_utc("2027-03-12 14:00"),)


def test_phoenix_keeps_its_offset_while_denver_changes():
    span = utc_range("2027-03-12 00:00", "2027-03-16 00:00")
    phoenix = schedule(
        zone="America/Phoenix", weekly=[weekly(days="fri,mon", start="09:00", end="10:00")]
    )
    denver = schedule(
        zone="America/Denver", weekly=[weekly(days="fri,mon", start="09:00", end="10:00")]
    )
    assert ranges(open_windows(phoenix, span)) == [
        ("2027-03-12 16:00", "2027-03-12 17:00"),
        ("2027-03-15 16:00", "2027-03-15 17:00"),
    ]
    assert ranges(open_windows(denver, span)) == [
        ("2027-03-12 16:00", "2027-03-12 17:00"),
        ("2027-03-15 15:00", "2027-03-15 16:00"),
    ]


def test_hours_starting_in_the_spring_gap_open_when_the_clock_reaches_the_moved_time():
    # 02:30 does not exist on 2027-03-14 in New York: it reads as 03:30 EDT (07:30Z).
    s = schedule(zone="America/New_York", weekly=[weekly(days="sun", start="02:30", end="06:00")])
    assert ranges(open_windows(s, utc_range("2027-03-14 00:00", "2027-03-15 00:00"))) == [
        ("2027-03-14 07:30", "2027-03-14 10:00")
    ]


def test_hours_ending_in_the_spring_gap_close_at_the_moved_time():
    s = schedule(zone="America/New_York", weekly=[weekly(days="sun", start="00:00", end="02:30")])
    # 00:00 EST (05:00Z) .. 02:30 read as 03:30 EDT (07:30Z): 2.5 hours of real time.
    assert ranges(open_windows(s, utc_range("2027-03-14 00:00", "2027-03-15 00:00"))) == [
        ("2027-03-14 05:00", "2027-03-14 07:30")
    ]


def test_hours_entirely_inside_the_gap_open_nothing():
    # 02:30 reads as 03:30 EDT, 03:00 is 03:00 EDT: the range would be inverted.
    s = schedule(zone="America/New_York", weekly=[weekly(days="sun", start="02:30", end="03:00")])
    assert open_windows(s, utc_range("2027-03-14 00:00", "2027-03-15 00:00")) == []


def test_hours_ending_in_the_fall_fold_end_at_the_earlier_instant():
    # 01:30 on 2027-11-07 happens twice in New York; the hours end at the first (05:30Z).
    s = schedule(zone="America/New_York", weekly=[weekly(days="sun", start="00:00", end="01:30")])
    assert ranges(open_windows(s, utc_range("2027-11-07 00:00", "2027-11-08 00:00"))) == [
        ("2027-11-07 04:00", "2027-11-07 05:30")
    ]


def test_hours_starting_in_the_fall_fold_start_at_the_earlier_instant():
    s = schedule(zone="America/New_York", weekly=[weekly(days="sun", start="01:30", end="03:00")])
    # 01:30 EDT (05:30Z) .. 03:00 EST (08:00Z): two and a half hours on the 25-hour day.
    assert ranges(open_windows(s, utc_range("2027-11-07 00:00", "2027-11-08 00:00"))) == [
        ("2027-11-07 05:30", "2027-11-07 08:00")
    ]


def test_an_end_of_24_00_is_the_next_midnight():
    s = schedule(zone="Europe/London", weekly=[weekly(days="wed", start="20:00", end="24:00")])
    assert ranges(open_windows(s, utc_range("2027-01-06 00:00", "2027-01-07 00:00"))) == [
        ("2027-01-06 20:00", "2027-01-07 00:00")
    ]


def test_windows_touching_across_midnight_merge_and_the_midnight_is_an_anchor():
    s = schedule(
        zone="Europe/Berlin",
        weekly=[
            weekly(days="mon", start="22:00", end="24:00"),
            weekly(days="tue", start="00:00", end="02:00"),
        ],
    )
    (w,) = open_windows(s, utc_range("2027-01-04 00:00", "2027-01-06 00:00"))
    # Berlin is UTC+1 in January.
    assert ranges([w]) == [("2027-01-04 21:00", "2027-01-05 01:00")]
    assert w.anchors == (at_utc("2027-01-04 21:00"), at_utc("2027-01-04 23:00"))


def test_overlapping_weekly_entries_merge():
    s = schedule(
        zone="UTC",
        weekly=[
            weekly(days="mon", start="09:00", end="12:00"),
            weekly(days="mon", start="11:00", end="14:00"),
            weekly(days="mon", start="14:00", end="15:00"),
        ],
    )
    assert ranges(open_windows(s, utc_range("2027-01-04 00:00", "2027-01-05 00:00"))) == [
        ("2027-01-04 09:00", "2027-01-04 15:00")
    ]


def test_a_closed_override_removes_that_dates_weekly_hours():
    s = schedule(
        zone="America/New_York",
        weekly=[weekly(days="mon-fri", start="09:00", end="17:00")],
        overrides=[closed(day=date(2027, 3, 15))],
    )
    assert ranges(open_windows(s, utc_range("2027-03-15 00:00", "2027-03-17 00:00"))) == [
        ("2027-03-16 13:00", "2027-03-16 21:00")
    ]


def test_an_override_with_several_entries_gives_several_windows():
    s = schedule(
        zone="UTC",
        weekly=[weekly(days="daily", start="09:00", end="17:00")],
        overrides=[
            override(day=date(2027, 1, 9), spans=[("08:00", "10:00")]),
            override(day=date(2027, 1, 9), spans=[("13:00", "14:00")]),
        ],
    )
    assert ranges(open_windows(s, utc_range("2027-01-09 00:00", "2027-01-10 00:00"))) == [
        ("2027-01-09 08:00", "2027-01-09 10:00"),
        ("2027-01-09 13:00", "2027-01-09 14:00"),
    ]


def test_an_override_can_open_a_weekend_date():
    s = schedule(
        zone="UTC",
        weekly=[weekly(days="mon-fri", start="09:00", end="17:00")],
        overrides=[DateOverride(date(2027, 1, 10), (LocalHours(600, 660),))],
    )
    assert ranges(open_windows(s, utc_range("2027-01-10 00:00", "2027-01-11 00:00"))) == [
        ("2027-01-10 10:00", "2027-01-10 11:00")
    ]


def test_windows_are_whole_not_clipped_to_the_span():
    s = schedule(zone="UTC", weekly=[weekly(days="mon", start="09:00", end="17:00")])
    assert ranges(open_windows(s, utc_range("2027-01-04 12:00", "2027-01-04 12:01"))) == [
        ("2027-01-04 09:00", "2027-01-04 17:00")
    ]


def test_a_window_outside_the_span_is_not_returned():
    s = schedule(zone="UTC", weekly=[weekly(days="mon", start="09:00", end="17:00")])
    assert open_windows(s, utc_range("2027-01-04 17:00", "2027-01-04 18:00")) == []


def test_a_round_the_clock_resource_has_one_window_with_every_midnight_as_an_anchor():
    s = schedule(zone="Europe/London", weekly=[weekly(days="daily", start="00:00", end="24:00")])
    (w,) = open_windows(s, utc_range("2027-03-27 12:00", "2027-03-29 12:00"))
    assert w.range.start < at_utc("2027-03-20 00:00")
    assert w.range.end > at_utc("2027-04-05 00:00")
    assert at_utc("2027-03-28 00:00") in w.anchors  # GMT midnight
    assert at_utc("2027-03-28 23:00") in w.anchors  # BST midnight, after the change
    assert all(b - a <= timedelta(hours=25) for a, b in itertools.pairwise(w.anchors))


def test_lord_howe_hours_follow_its_half_hour_shift():
    s = schedule(
        zone="Australia/Lord_Howe", weekly=[weekly(days="sat,sun", start="09:00", end="10:00")]
    )
    # 2027-10-03 (Sunday) 02:00 +10:30 -> 02:30 +11:00.
    assert ranges(open_windows(s, utc_range("2027-10-01 00:00", "2027-10-04 00:00"))) == [
        ("2027-10-01 22:30", "2027-10-01 23:30"),
        ("2027-10-02 22:00", "2027-10-02 23:00"),
    ]


def test_apia_hours_on_the_skipped_date_land_on_the_next_day():
    # 2011-12-30 never happened in Apia (UTC-10 -> UTC+14). Its 09:00 reads forward into
    # 2011-12-31 09:00, where it merges with that date's own hours.
    s = schedule(zone="Pacific/Apia", weekly=[weekly(days="daily", start="09:00", end="10:00")])
    assert ranges(open_windows(s, utc_range("2011-12-29 00:00", "2012-01-01 00:00"))) == [
        ("2011-12-29 19:00", "2011-12-29 20:00"),
        ("2011-12-30 19:00", "2011-12-30 20:00"),
        ("2011-12-31 19:00", "2011-12-31 20:00"),
    ]
