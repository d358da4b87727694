"""Slots at the edges of local time: hours that start or end in a spring-forward gap or a
fall-back fold, `24:00` ends, breaks across a clock change and overrides that span midnight.

Each test names a zone and exact local times; the expected starts are UTC, worked out by hand
in the comments.
"""

from datetime import date, timedelta

from slotwise.engine.availability import Slot, find_slots
from slotwise.engine.intervals import TimeRange
from slotwise.engine.schedule import Schedule, open_windows
from slotwise.testing.engine_builders import (
    at_utc,
    calendar,
    override,
    role,
    schedule,
    slot_request,
    utc_range,
    weekly,
)


def starts(
    sched: Schedule, span: TimeRange, duration_min: int, step_min: int | None = None
) -> list[str]:
    request = slot_request(calendars=[calendar(resource_id="r", schedule=sched)],
                           roles=[role("r")], now=span.start - timedelta(days=1),
                           duration_min=duration_min,
                           step_min=step_min)
    slots: list[Slot] = find_slots(request, span)
    return [s.start.strftime("%Y-%m-%d %H:%M") for s in slots]


def hours(zone: str, *entries: tuple[str, str, str], **kwargs) -> Schedule:
    return schedule(zone=zone, weekly=[weekly(days=d, start=s, end=e) for d, s, e in entries],
                    **kwargs)


def test_hours_ending_in_the_spring_gap_offer_slots_up_to_the_moved_end():
    # New York, Sunday 2027-03-14: 00:00 EST is 05:00Z; 02:30 does not exist and reads as
    # 03:30 EDT (07:30Z). The 02:00-03:00 wall hour is skipped, not lost from the grid.
    sched = hours("America/New_York", ("sun", "00:00", "02:30"))
    assert starts(sched, utc_range("2027-03-14 00:00", "2027-03-15 00:00"), 30) == [
        "2027-03-14 05:00", "2027-03-14 05:30", "2027-03-14 06:00", "2027-03-14 06:30",
        "2027-03-14 07:00",
    ]


def test_hours_starting_in_the_fall_fold_start_at_its_first_pass():
    # New York, Sunday 2027-11-07: 01:30 happens twice; the hours open at the first (EDT,
    # 05:30Z) and close at 03:00 EST (08:00Z): two and a half hours.
    sched = hours("America/New_York", ("sun", "01:30", "03:00"))
    assert starts(sched, utc_range("2027-11-07 00:00", "2027-11-08 00:00"), 60) == [
        "2027-11-07 05:30", "2027-11-07 06:30",
    ]


def test_hours_ending_in_the_fall_fold_end_at_its_first_pass():
    # 00:00 EDT (04:00Z) .. the first 01:30 (EDT, 05:30Z).
    sched = hours("America/New_York", ("sun", "00:00", "01:30"))
    assert starts(sched, utc_range("2027-11-07 00:00", "2027-11-08 00:00"), 30) == [
        "2027-11-07 04:00", "2027-11-07 04:30", "2027-11-07 05:00",
    ]


def test_lord_howe_hours_starting_in_its_half_hour_gap_open_half_an_hour_later():
    # Lord Howe, Sunday 2027-10-03: 02:00 (+10:30) jumps to 02:30 (+11). 02:15 reads with the
    # offset before the gap: 15:45Z, which the clock shows as 02:45. 04:00 (+11) is 17:00Z.
    sched = hours("Australia/Lord_Howe", ("sun", "02:15", "04:00"))
    assert starts(sched, utc_range("2027-10-02 00:00", "2027-10-03 00:00"), 30) == [
        "2027-10-02 15:45", "2027-10-02 16:15",
    ]


def test_lord_howe_hours_starting_in_its_half_hour_fold_take_the_earlier_pass():
    # Lord Howe, Sunday 2027-04-04: 02:00 (+11) falls back to 01:30 (+10:30). 01:45 happens
    # twice; the earlier is 14:45Z. 03:00 (+10:30) is 16:30Z: 105 minutes of real time.
    sched = hours("Australia/Lord_Howe", ("sun", "01:45", "03:00"))
    assert starts(sched, utc_range("2027-04-03 00:00", "2027-04-04 00:00"), 30) == [
        "2027-04-03 14:45", "2027-04-03 15:15", "2027-04-03 15:45",
    ]


def test_a_24_00_end_touching_the_next_date_runs_on_across_a_spring_forward_night():
    # London, Saturday 2027-03-27 22:00-24:00 (GMT: 22:00Z-00:00Z) and Sunday 00:00-03:00,
    # which loses 01:00-02:00: 00:00Z-02:00Z. One window, with the Sunday midnight (00:00Z) as
    # a second anchor: 23:30Z runs on into Sunday, 00:00Z restarts the grid, 01:30Z does not
    # fit.
    sched = hours("Europe/London", ("sat", "22:00", "24:00"), ("sun", "00:00", "03:00"))
    assert starts(sched, utc_range("2027-03-27 00:00", "2027-03-29 00:00"), 90) == [
        "2027-03-27 22:00", "2027-03-27 23:30", "2027-03-28 00:00",
    ]


def test_a_24_00_end_whose_midnight_is_in_a_gap_ends_when_the_next_date_begins():
    # Sao Paulo skipped 00:00-01:00 on Sunday 2018-11-04. Saturday 22:00 (-03) is 01:00Z; its
    # 24:00 reads forward to 01:00 (-02), 03:00Z, which is also where Sunday begins (its
    # 00:00-02:00 hours are 03:00Z-04:00Z). The Sunday grid restarts at 03:00Z.
    sched = hours("America/Sao_Paulo", ("sat", "22:00", "24:00"), ("sun", "00:00", "02:00"))
    [window] = open_windows(sched, utc_range("2018-11-04 00:00", "2018-11-05 00:00"))
    assert window.range == utc_range("2018-11-04 01:00", "2018-11-04 04:00")
    assert window.anchors == (at_utc("2018-11-04 01:00"), at_utc("2018-11-04 03:00"))
    assert starts(sched, utc_range("2018-11-03 00:00", "2018-11-05 00:00"), 45) == [
        "2018-11-04 01:00", "2018-11-04 01:45", "2018-11-04 02:30", "2018-11-04 03:00",
    ]


def test_a_break_inside_the_spring_gap_closes_nothing():
    # New York 2027-03-14: the break 02:00-03:00 reads as 03:00 EDT-03:00 EDT, which is empty.
    sched = hours("America/New_York", ("sun", "00:00", "06:00"),
                  breaks=[weekly(days="sun", start="02:00", end="03:00")])
    assert starts(sched, utc_range("2027-03-14 00:00", "2027-03-15 00:00"), 60) == [
        "2027-03-14 05:00", "2027-03-14 06:00", "2027-03-14 07:00", "2027-03-14 08:00",
        "2027-03-14 09:00",
    ]


def test_a_break_across_the_fall_fold_closes_both_passes_and_the_grid_restarts_after_it():
    # New York 2027-11-07, 00:00-04:00 (04:00Z-09:00Z) less 01:00 EDT (05:00Z) .. 02:00 EST
    # (07:00Z): the repeated 01:00-02:00 hour is closed twice.
    sched = hours("America/New_York", ("sun", "00:00", "04:00"),
                  breaks=[weekly(days="sun", start="01:00", end="02:00")])
    assert starts(sched, utc_range("2027-11-07 00:00", "2027-11-08 00:00"), 60) == [
        "2027-11-07 04:00", "2027-11-07 07:00", "2027-11-07 08:00",
    ]


def test_overrides_that_span_midnight_make_one_window_anchored_at_the_midnight():
    # London in January is on UTC. Monday's override 22:00-24:00 and Tuesday's 00:00-02:00
    # replace both dates' weekly hours and touch: one window, a grid restarting at 00:00.
    sched = hours(
        "Europe/London", ("mon-fri", "09:00", "17:00"),
        overrides=[override(day=date(2027, 1, 4), spans=[("22:00", "24:00")]),
                   override(day=date(2027, 1, 5), spans=[("00:00", "02:00")])],
    )
    span = utc_range("2027-01-04 00:00", "2027-01-06 00:00")
    [window] = [w for w in open_windows(sched, span) if w.range.start < at_utc("2027-01-05 09:00")]
    assert window.range == utc_range("2027-01-04 22:00", "2027-01-05 02:00")
    assert window.anchors == (at_utc("2027-01-04 22:00"), at_utc("2027-01-05 00:00"))
    assert starts(sched, span, 90) == [
        "2027-01-04 22:00", "2027-01-04 23:30", "2027-01-05 00:00",
    ]


def test_overrides_that_span_a_fall_back_midnight_get_the_extra_hour():
    # New York: Saturday 2027-11-06 22:00-24:00 EDT is 02:00Z-04:00Z; Sunday 00:00 EDT-03:00
    # EST is 04:00Z-08:00Z, four hours of real time. Grid every 90 minutes from each anchor.
    sched = hours(
        "America/New_York",
        overrides=[override(day=date(2027, 11, 6), spans=[("22:00", "24:00")]),
                   override(day=date(2027, 11, 7), spans=[("00:00", "03:00")])],
    )
    assert starts(sched, utc_range("2027-11-06 00:00", "2027-11-08 00:00"), 60, 90) == [
        "2027-11-07 02:00", "2027-11-07 03:30", "2027-11-07 04:00", "2027-11-07 05:30",
        "2027-11-07 07:00",
    ]
