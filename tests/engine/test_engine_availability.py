"""Slot generation by example: the grid, hours, buffers, busy time, roles and limits."""

import itertools
from dataclasses import replace
from datetime import date, timedelta

import pytest

from slotwise.engine.availability import (
    ResourceCalendar,
    Slot,
    SlotRequest,
    find_slots,
    nearest_slots,
    slot_at,
)
from slotwise.engine.schedule import Schedule
from slotwise.testing.engine_builders import (
    at_utc,
    busy,
    calendar,
    closed,
    override,
    role,
    schedule,
    slot_request,
    utc_range,
    weekly,
)

NOW = at_utc("2027-01-01 00:00")
MONDAY = "2027-01-04"  # in January London is on UTC, so local times read as UTC


def london(*entries: tuple[str, str, str], overrides=()) -> Schedule:
    return schedule(
        zone="Europe/London",
        weekly=[weekly(days=d, start=s, end=e) for d, s, e in entries],
        overrides=overrides,
    )


def starts(slots: list[Slot]) -> list[str]:
    return [s.start.strftime("%H:%M") for s in slots]


def monday(request: SlotRequest) -> list[Slot]:
    return find_slots(request, utc_range(f"{MONDAY} 00:00", "2027-01-05 00:00"))


def one_resource(sched: Schedule | None, **kwargs) -> SlotRequest:
    cal_kwargs = {
        k: kwargs.pop(k) for k in ("busy", "buffer_before_min", "buffer_after_min") if k in kwargs
    }
    kwargs.setdefault("now", NOW)
    return slot_request(
        calendars=[calendar(resource_id="r", schedule=sched, **cal_kwargs)],
        roles=[role("r")],
        **kwargs,
    )


def test_weekly_nine_new_york_is_1400z_before_spring_forward_and_1300z_after():
    sched = schedule(
        zone="America/New_York", weekly=[weekly(days="mon-fri", start="09:00", end="10:00")]
    )
    req = one_resource(sched, duration_min=60)
    slots = find_slots(req, utc_range("2027-03-12 00:00", "2027-03-16 00:00"))
    assert [s.start for s in slots] == [at_utc("2027-03-12 14:00"), at_utc("2027-03-15 13:00")]
    assert slots[0] == Slot(at_utc("2027-03-12 14:00"), at_utc("2027-03-12 15:00"), ("r",))


def test_slots_step_from_the_window_start_and_must_fit_inside_the_window():
    req = one_resource(london(("mon", "09:15", "11:00")), duration_min=45, step_min=30)
    assert starts(monday(req)) == ["09:15", "09:45", "10:15"]


def test_step_defaults_to_the_duration():
    req = one_resource(london(("mon", "09:00", "12:00")), duration_min=60)
    assert starts(monday(req)) == ["09:00", "10:00", "11:00"]


def test_a_window_exactly_one_slot_long_offers_that_slot():
    req = one_resource(london(("mon", "09:00", "10:00")), duration_min=60)
    assert starts(monday(req)) == ["09:00"]


def test_the_grid_restarts_at_each_window_of_the_day():
    req = one_resource(
        london(("mon", "09:00", "10:30"), ("mon", "10:40", "12:00")), duration_min=30
    )
    assert starts(monday(req)) == ["09:00", "09:30", "10:00", "10:40", "11:10"]


def test_a_slot_may_run_on_into_the_next_dates_touching_window_and_the_grid_restarts_at_midnight():
    req = one_resource(
        london(("mon", "22:00", "24:00"), ("tue", "00:00", "02:00")), duration_min=90
    )
    slots = find_slots(req, utc_range(f"{MONDAY} 00:00", "2027-01-06 00:00"))
    assert [s.start for s in slots] == [
        at_utc("2027-01-04 22:00"),
        at_utc("2027-01-04 23:30"),  # runs on to 01:00 Tuesday
        at_utc("2027-01-05 00:00"),  # Tuesday's grid starts at its midnight
    ]


def test_a_closed_override_offers_nothing_that_date():
    sched = london(("mon-fri", "09:00", "10:00"), overrides=[closed(day=date(2027, 1, 4))])
    req = one_resource(sched, duration_min=60)
    slots = find_slots(req, utc_range("2027-01-04 00:00", "2027-01-06 00:00"))
    assert [s.start for s in slots] == [at_utc("2027-01-05 09:00")]


def test_an_override_with_two_windows_has_two_grids():
    sched = london(
        ("mon", "09:00", "17:00"),
        overrides=[override(day=date(2027, 1, 4), spans=[("08:10", "09:10"), ("13:05", "14:05")])],
    )
    assert starts(monday(one_resource(sched, duration_min=60))) == ["08:10", "13:05"]


def test_spring_forward_day_hours_starting_in_the_gap_open_at_the_moved_time():
    sched = schedule(
        zone="America/New_York", weekly=[weekly(days="sun", start="02:30", end="05:00")]
    )
    req = one_resource(sched, duration_min=30, step_min=30)
    slots = find_slots(req, utc_range("2027-03-14 00:00", "2027-03-15 00:00"))
    # 02:30 reads as 03:30 EDT (07:30Z); the window closes at 05:00 EDT (09:00Z).
    assert [s.start for s in slots] == [
        at_utc("2027-03-14 07:30"),
        at_utc("2027-03-14 08:00"),
        at_utc("2027-03-14 08:30"),
    ]


def test_fall_back_day_has_an_hour_more_of_slots():
    sched = schedule(
        zone="America/New_York", weekly=[weekly(days="sun", start="00:00", end="04:00")]
    )
    req = one_resource(sched, duration_min=60)
    slots = find_slots(req, utc_range("2027-11-07 00:00", "2027-11-08 00:00"))
    # 00:00 EDT (04:00Z) .. 04:00 EST (09:00Z): five hours.
    assert len(slots) == 5


def test_a_block_removes_the_slots_it_touches():
    req = one_resource(
        london(("mon", "09:00", "13:00")),
        duration_min=60,
        busy=[busy(start=f"{MONDAY} 10:30", end=f"{MONDAY} 11:00")],
    )
    assert starts(monday(req)) == ["09:00", "11:00", "12:00"]


def test_a_busy_range_ending_one_second_into_a_slot_blocks_it():
    req = one_resource(
        london(("mon", "09:00", "11:00")),
        duration_min=60,
        busy=[busy(start=f"{MONDAY} 08:00", end=f"{MONDAY} 09:00:01")],
    )
    assert starts(monday(req)) == ["10:00"]


def test_a_busy_range_touching_a_slot_does_not_block_it():
    req = one_resource(
        london(("mon", "09:00", "11:00")),
        duration_min=60,
        busy=[
            busy(start=f"{MONDAY} 10:00", end=f"{MONDAY} 10:00:00"),
            busy(start=f"{MONDAY} 11:00", end=f"{MONDAY} 12:00"),
        ],
    )
    assert starts(monday(req)) == ["09:00", "10:00"]


def test_the_larger_of_service_and_resource_buffer_wins():
    block = busy(start=f"{MONDAY} 11:00", end=f"{MONDAY} 12:00")
    hours = london(("mon", "09:00", "14:00"))
    # Service buffer_after 15, resource 30: a slot must end 30 min before the block.
    req = one_resource(hours, duration_min=30, step_min=15, busy=[block], buffer_after_min=30)
    req = replace(req, buffer_after=timedelta(minutes=15))
    assert "10:00" in starts(monday(req))
    assert "10:15" not in starts(monday(req))
    # Service buffer_before 45 beats the resource's 0: a slot starts 45 min after the block.
    req = replace(req, buffer_before=timedelta(minutes=45))
    assert next(s for s in starts(monday(req)) if s >= "12:00") == "12:45"


def test_buffers_may_reach_outside_open_hours():
    req = one_resource(
        london(("mon", "09:00", "10:00")),
        duration_min=60,
        buffer_before_min=30,
        buffer_after_min=30,
    )
    assert starts(monday(req)) == ["09:00"]


def test_busy_time_outside_open_hours_still_counts_against_buffers():
    req = one_resource(
        london(("mon", "09:00", "10:00")),
        duration_min=60,
        buffer_before_min=30,
        busy=[busy(start=f"{MONDAY} 08:00", end=f"{MONDAY} 08:45")],
    )
    assert starts(monday(req)) == []


def test_never_open_resources_and_pool_ids_without_a_calendar_offer_nothing():
    assert monday(one_resource(None, duration_min=30)) == []
    req = slot_request(calendars=[], roles=[role("ghost")], now=NOW, duration_min=30)
    assert monday(req) == []


def test_two_roles_with_overlapping_pools_need_distinct_resources():
    # The assistant role can only be "ann"; the lead role can be "ann" or "bob".
    ann = calendar(resource_id="ann", schedule=london(("mon", "09:00", "12:00")))
    bob = calendar(resource_id="bob", schedule=london(("mon", "10:00", "12:00")))
    req = slot_request(
        calendars=[ann, bob], roles=[role("ann", "bob"), role("ann")], now=NOW, duration_min=60
    )
    slots = monday(req)
    assert starts(slots) == ["10:00", "11:00"]
    assert {s.resource_ids for s in slots} == {("bob", "ann")}


def test_a_role_with_count_two_needs_two_free_resources():
    cals = [
        calendar(resource_id="a", schedule=london(("mon", "09:00", "12:00"))),
        calendar(
            resource_id="b",
            schedule=london(("mon", "09:00", "12:00")),
            busy=[busy(start=f"{MONDAY} 10:00", end=f"{MONDAY} 11:00")],
        ),
        calendar(resource_id="c", schedule=london(("mon", "11:00", "12:00"))),
    ]
    req = slot_request(
        calendars=cals, roles=[role("a", "b", "c", count=2)], now=NOW, duration_min=60
    )
    slots = monday(req)
    assert [(s.start.strftime("%H:%M"), s.resource_ids) for s in slots] == [
        ("09:00", ("a", "b")),
        ("11:00", ("a", "b")),
    ]


def test_resources_in_different_zones_share_their_common_open_time_and_its_grid():
    # 09:00-17:00 in London is 09:00Z-17:00Z, in Berlin 08:00Z-16:00Z (January).
    london_room = calendar(resource_id="room", schedule=london(("mon", "09:00", "17:00")))
    berlin_vet = calendar(
        resource_id="vet",
        schedule=schedule(
            zone="Europe/Berlin", weekly=[weekly(days="mon", start="09:00", end="17:00")]
        ),
    )
    req = slot_request(
        calendars=[london_room, berlin_vet],
        roles=[role("vet"), role("room")],
        now=NOW,
        duration_min=45,
        step_min=90,
    )
    assert starts(monday(req)) == ["09:00", "10:30", "12:00", "13:30", "15:00"]


def test_each_choice_of_resources_has_its_own_grid():
    a = calendar(resource_id="a", schedule=london(("mon", "09:00", "10:30")))
    b = calendar(resource_id="b", schedule=london(("mon", "09:20", "10:30")))
    either = slot_request(calendars=[a, b], roles=[role("a", "b")], now=NOW, duration_min=30)
    assert [
        (t, s.resource_ids) for t, s in zip(starts(monday(either)), monday(either), strict=True)
    ] == [
        ("09:00", ("a",)),
        ("09:20", ("b",)),
        ("09:30", ("a",)),
        ("09:50", ("b",)),
        ("10:00", ("a",)),
    ]
    both = slot_request(calendars=[a, b], roles=[role("a"), role("b")], now=NOW, duration_min=30)
    assert starts(monday(both)) == ["09:20", "09:50"]


def test_must_include_keeps_only_choices_with_that_resource():
    a = calendar(resource_id="a", schedule=london(("mon", "09:00", "11:00")))
    b = calendar(resource_id="b", schedule=london(("mon", "10:00", "12:00")))
    req = slot_request(
        calendars=[a, b], roles=[role("a", "b")], now=NOW, duration_min=60, must_include="b"
    )
    slots = monday(req)
    assert [(t, s.resource_ids) for t, s in zip(starts(slots), slots, strict=True)] == [
        ("10:00", ("b",)),
        ("11:00", ("b",)),
    ]


def test_must_include_of_a_resource_in_no_pool_offers_nothing():
    a = calendar(resource_id="a", schedule=london(("mon", "09:00", "11:00")))
    req = slot_request(
        calendars=[a], roles=[role("a")], now=NOW, duration_min=60, must_include="zed"
    )
    assert monday(req) == []


def test_a_start_exactly_at_now_plus_notice_is_offered():
    req = one_resource(
        london(("mon", "09:00", "12:00")),
        duration_min=60,
        now=at_utc(f"{MONDAY} 08:00"),
        min_notice_min=60,
    )
    assert starts(monday(req)) == ["09:00", "10:00", "11:00"]
    later = one_resource(
        london(("mon", "09:00", "12:00")),
        duration_min=60,
        now=at_utc(f"{MONDAY} 08:00:01"),
        min_notice_min=60,
    )
    assert starts(monday(later)) == ["10:00", "11:00"]


def test_a_start_exactly_at_the_horizon_is_offered_and_one_past_it_is_not():
    hours = london(("mon", "09:00", "12:00"))
    req = one_resource(hours, duration_min=60, now=at_utc("2027-01-03 10:00"), max_advance_days=1)
    assert starts(monday(req)) == ["09:00", "10:00"]


def test_only_starts_inside_the_query_window_are_returned():
    req = one_resource(london(("mon", "09:00", "12:00")), duration_min=60)
    got = find_slots(req, utc_range(f"{MONDAY} 09:30", f"{MONDAY} 11:00"))
    assert starts(got) == ["10:00"]
    assert find_slots(req, utc_range(f"{MONDAY} 10:00", f"{MONDAY} 10:00")) == []


def test_slot_at_answers_for_one_start_exactly_as_find_slots_does():
    req = one_resource(london(("mon", "09:00", "12:00")), duration_min=60)
    assert slot_at(req, at_utc(f"{MONDAY} 10:00")) == monday(req)[1]
    assert slot_at(req, at_utc(f"{MONDAY} 10:30")) is None  # off the grid
    assert slot_at(req, at_utc(f"{MONDAY} 12:00")) is None  # outside hours


def test_nearest_slots_are_the_closest_offered_starts_in_time_order():
    req = one_resource(london(("mon-fri", "09:00", "12:00")), duration_min=60)
    got = nearest_slots(req, at_utc("2027-01-05 10:30"), count=3)
    # 10:00 and 11:00 are 30 min away (tie -> both), then 09:00 beats 12:00 (not offered).
    assert [s.start for s in got] == [
        at_utc("2027-01-05 09:00"),
        at_utc("2027-01-05 10:00"),
        at_utc("2027-01-05 11:00"),
    ]


def test_nearest_slots_breaks_ties_towards_the_earlier_start():
    req = one_resource(london(("mon-fri", "09:00", "12:00")), duration_min=60)
    got = nearest_slots(req, at_utc("2027-01-05 10:30"), count=1)
    assert [s.start for s in got] == [at_utc("2027-01-05 10:00")]


def test_nearest_slots_searches_days_away_but_not_beyond_the_search_span():
    req = one_resource(london(("mon", "09:00", "10:00")), duration_min=60)
    got = nearest_slots(req, at_utc("2027-01-06 12:00"), count=2)
    assert [s.start for s in got] == [at_utc("2027-01-04 09:00"), at_utc("2027-01-11 09:00")]
    assert nearest_slots(req, at_utc("2027-01-06 12:00"), search=timedelta(days=1)) == []


def test_a_request_needs_a_positive_duration_and_step_and_an_aware_now():
    cal = ResourceCalendar("r", None)
    with pytest.raises(ValueError, match="positive"):
        SlotRequest(timedelta(0), timedelta(minutes=5), (role("r"),), {"r": cal}, NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        SlotRequest(
            timedelta(minutes=5),
            timedelta(minutes=5),
            (role("r"),),
            {"r": cal},
            NOW.replace(tzinfo=None),
        )


def test_a_round_the_clock_resource_offers_an_unbroken_grid_across_the_clock_change():
    # London's midnights are 00:00Z before 2027-03-28 and 23:00Z after: both on the grid.
    sched = schedule(
        zone="Europe/London", weekly=[weekly(days="daily", start="00:00", end="24:00")]
    )
    req = one_resource(sched, duration_min=30)
    slots = find_slots(req, utc_range("2027-03-01 00:00", "2027-05-02 00:00"))
    assert len(slots) == 62 * 48
    assert all(b.start - a.start == timedelta(minutes=30) for a, b in itertools.pairwise(slots))


def test_kolkata_grid_restarts_at_its_half_hour_offset_midnight():
    sched = schedule(zone="Asia/Kolkata", weekly=[weekly(days="daily", start="00:00", end="24:00")])
    req = one_resource(sched, duration_min=60, step_min=50)
    got = [s.start for s in find_slots(req, utc_range("2027-01-04 00:00", "2027-01-05 00:00"))]
    # Kolkata's midnight is 18:30Z. A day is not a multiple of 50 minutes, so the grid of
    # 2027-01-04 (from 18:30Z on the 3rd) ends at 17:50Z and the next date's starts at 18:30Z.
    assert got[0] == at_utc("2027-01-04 00:20")
    assert at_utc("2027-01-04 17:50") in got
    assert at_utc("2027-01-04 18:30") in got
    assert at_utc("2027-01-04 18:40") not in got
