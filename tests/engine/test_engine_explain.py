"""explain: every reason a start is refused, and never a reason for an offered one.

By example first (one per reason), then as properties: over generated requests (the oracle's
scenarios, plus location hours, excluded starts, bookings with their own range and optional
roles) a start has no reason against it exactly when ``slot_at`` offers it."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slotwise.engine.availability import Busy, SlotRequest, find_slots, slot_at
from slotwise.engine.explain import (
    Code,
    Explanation,
    Reason,
    explain,
    explain_many,
    reasons_against,
)
from slotwise.engine.intervals import TimeRange
from slotwise.engine.rules import notice_exclusions
from slotwise.testing.engine_builders import (
    at_utc,
    busy,
    calendar,
    hypothesis_examples,
    role,
    schedule,
    slot_request,
    utc_range,
    weekly,
)


def _oracle() -> ModuleType:
    """The availability oracle's module (its scenario strategies), loaded by path: the test
    tree is not a package."""
    name = "slotwise_tests_availability_oracle"
    if name not in sys.modules:
        path = Path(__file__).with_name("test_engine_availability_oracle.py")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


NOW = at_utc("2027-01-01 00:00")
MONDAY = "2027-01-04"  # London is on UTC in January: local times read as UTC
MINUTE = timedelta(minutes=1)


def nine_to_five(**kwargs):
    return schedule(zone="Europe/London",
                    weekly=[weekly(days="mon-fri", start="09:00", end="17:00")], **kwargs)


def at(hhmm: str) -> datetime:
    return at_utc(f"{MONDAY} {hhmm}")


def single(cal, duration_min=60, **kwargs) -> SlotRequest:
    return slot_request(calendars=[cal], roles=[role(cal.resource_id)], now=NOW,
                        duration_min=duration_min, **kwargs)


def own(explanation: Explanation) -> list[Reason]:
    """The reasons about resources (a one-resource role adds its ``unfilled`` summary)."""
    return [r for r in explanation.reasons if r.resource_id is not None]


def codes(explanation: Explanation) -> list[tuple[str, str | None, str | None]]:
    return [(r.code.value, r.resource_id, r.source) for r in explanation.reasons]


def test_an_offered_start_has_its_slot_and_no_reason():
    found = explain(single(calendar(resource_id="ada", schedule=nine_to_five())), at("10:00"))
    assert found.offered and found.slot is not None
    assert found.slot.resource_ids == ("ada",)
    assert found.reasons == ()
    assert found.end == at("11:00")


def test_a_booking_in_the_way_is_named_with_its_own_range():
    booked = Busy(utc_range(f"{MONDAY} 09:45", f"{MONDAY} 11:15"), "booking", "bk_1",
                  core=utc_range(f"{MONDAY} 10:00", f"{MONDAY} 11:00"))
    found = explain(single(calendar(resource_id="ada", schedule=nine_to_five(), busy=[booked])),
                    at("10:00"))
    [reason] = own(found)
    assert (reason.code, reason.source, reason.ref) == (Code.BUSY, "booking", "bk_1")
    assert reason.range == utc_range(f"{MONDAY} 10:00", f"{MONDAY} 11:00")
    assert reason.roles == (0,)


def test_a_clash_only_with_the_other_bookings_buffer_is_a_buffer():
    booked = Busy(utc_range(f"{MONDAY} 10:00", f"{MONDAY} 11:15"), "booking", "bk_1",
                  core=utc_range(f"{MONDAY} 10:00", f"{MONDAY} 11:00"))
    found = explain(single(calendar(resource_id="ada", schedule=nine_to_five(), busy=[booked])),
                    at("11:00"))
    [reason] = own(found)
    assert (reason.code, reason.source, reason.ref) == (Code.BUSY, "buffer", "bk_1")
    assert reason.range == booked.range and reason.core == booked.core


def test_a_clash_only_with_our_own_buffer_is_a_buffer():
    booked = Busy(utc_range(f"{MONDAY} 12:00", f"{MONDAY} 13:00"), "booking", "bk_2",
                  core=utc_range(f"{MONDAY} 12:00", f"{MONDAY} 13:00"))
    request = single(calendar(resource_id="ada", schedule=nine_to_five(), busy=[booked]),
                     buffer_after_min=30)
    assert codes(explain(request, at("11:00"))) == [("busy", "ada", "buffer"),
                                                    ("unfilled", None, None)]


def test_blocks_holds_and_other_labels_keep_their_kind_and_id():
    cal = calendar(resource_id="ada", schedule=nine_to_five(), busy=[
        busy(start=f"{MONDAY} 10:30", end=f"{MONDAY} 12:00", reason="hold", ref="hold_1"),
        busy(start=f"{MONDAY} 09:00", end=f"{MONDAY} 10:30", reason="block", ref="blk_1"),
        busy(start=f"{MONDAY} 10:00", end=f"{MONDAY} 10:05", reason="series"),
    ])
    found = explain(single(cal), at("10:00"))
    assert [(r.source, r.ref) for r in own(found)] == [
        ("block", "blk_1"), ("series", None), ("hold", "hold_1")]
    assert all(r.code is Code.BUSY for r in own(found))


def test_a_slot_running_past_closing_time_is_closed_by_the_resources_hours():
    found = explain(single(calendar(resource_id="ada", schedule=nine_to_five())), at("16:30"))
    [reason] = own(found)
    assert (reason.code, reason.source) == (Code.CLOSED, "resource")
    assert reason.range == utc_range(f"{MONDAY} 09:00", f"{MONDAY} 17:00")


def test_location_hours_and_own_hours_are_told_apart():
    location = schedule(zone="Europe/London",
                        weekly=[weekly(days="mon-fri", start="10:30", end="15:00")])
    cal = calendar(resource_id="room", schedule=nine_to_five(), within=[location])
    assert codes(explain(single(cal), at("09:00"))) == [("closed", "room", "location"),
                                                        ("unfilled", None, None)]
    assert codes(explain(single(cal), at("18:00"))) == [
        ("closed", "room", "resource"), ("closed", "room", "location"), ("unfilled", None, None)]


def test_a_resource_without_hours_is_closed():
    found = explain(single(calendar(resource_id="ada", schedule=None)), at("10:00"))
    assert codes(found) == [("closed", "ada", "resource"), ("unfilled", None, None)]


def test_excluded_starts_name_their_rule_and_label():
    cal = calendar(resource_id="ada", schedule=nine_to_five(), excluded=[
        busy(start=f"{MONDAY} 00:00", end="2027-01-05 00:00", reason="limit",
             ref="resource day limit 2"),
        busy(start=f"{MONDAY} 09:30", end=f"{MONDAY} 11:30", reason="rule", ref="bk_9"),
        busy(start=f"{MONDAY} 08:00", end=f"{MONDAY} 12:00", reason="notice"),
    ])
    found = explain(single(cal), at("10:00"))
    assert [(r.code.value, r.ref) for r in own(found)] == [
        ("limit", "resource day limit 2"), ("notice", None), ("rule", "bk_9")]


def test_notice_and_horizon_give_the_allowed_bound_and_every_other_reason_too():
    cal = calendar(resource_id="ada", schedule=nine_to_five(),
                   busy=[busy(start=f"{MONDAY} 10:00", end=f"{MONDAY} 11:00", ref="blk")])
    soon = slot_request(calendars=[cal], roles=[role("ada")], now=at("08:00"),
                        duration_min=60, min_notice_min=240)
    found = explain(soon, at("10:00"))
    assert [r.code for r in found.reasons] == [Code.NOTICE, Code.BUSY, Code.UNFILLED]
    assert found.reasons[0].bound == at("12:00")
    far = slot_request(calendars=[cal], roles=[role("ada")], now=NOW, duration_min=60,
                       max_advance_days=2)
    found = explain(far, at("12:00"))
    assert codes(found) == [("horizon", None, None)]
    assert found.reasons[0].bound == at_utc("2027-01-03 00:00")


def test_a_resources_own_notice_and_horizon_give_their_real_bound_past_a_short_span():
    now = at("08:00")
    span = utc_range(f"{MONDAY} 10:00", f"{MONDAY} 11:00")  # what a one-start search loads
    notice = calendar(resource_id="ada", schedule=nine_to_five(), excluded=notice_exclusions(
        now, timedelta(hours=30), timedelta(days=365), span))
    found = explain(slot_request(calendars=[notice], roles=[role("ada")], now=now,
                                 duration_min=60), at("10:00"))
    assert [(r.code, r.bound) for r in own(found)] == [(Code.NOTICE, at_utc("2027-01-05 14:00"))]
    horizon = calendar(resource_id="ada", schedule=nine_to_five(), excluded=notice_exclusions(
        now - timedelta(days=3), timedelta(0), timedelta(days=1), span))
    found = explain(slot_request(calendars=[horizon], roles=[role("ada")], now=now,
                                 duration_min=60), at("10:00"))
    assert [(r.code, r.bound) for r in own(found)] == [(Code.HORIZON, at_utc("2027-01-02 08:00"))]


def test_a_role_with_too_few_free_resources_names_each_busy_one():
    cals = [calendar(resource_id=rid, schedule=nine_to_five(),
                     busy=[busy(start=f"{MONDAY} 10:00", end=f"{MONDAY} 11:00", ref=f"b-{rid}")])
            for rid in ("ada", "bob")]
    cals.append(calendar(resource_id="room", schedule=nine_to_five()))
    request = slot_request(calendars=cals, roles=[role("ada", "bob"), role("room")], now=NOW,
                           duration_min=60)
    found = explain(request, at("10:00"))
    assert codes(found) == [("busy", "ada", "block"), ("busy", "bob", "block"),
                            ("unfilled", None, None)]
    unfilled = found.reasons[-1]
    assert unfilled.roles == (0,) and unfilled.needed == 1 and unfilled.candidates == ()


def test_a_busy_resource_whose_role_another_fills_is_not_a_reason():
    ada = calendar(resource_id="ada", schedule=nine_to_five(),
                   busy=[busy(start=f"{MONDAY} 10:00", end=f"{MONDAY} 11:00")])
    bob = calendar(resource_id="bob", schedule=nine_to_five())
    room = calendar(resource_id="room", schedule=nine_to_five(),
                    busy=[busy(start=f"{MONDAY} 10:00", end=f"{MONDAY} 10:30", ref="blk")])
    request = slot_request(calendars=[ada, bob, room], roles=[role("ada", "bob"), role("room")],
                           now=NOW, duration_min=60)
    assert codes(explain(request, at("10:00"))) == [("busy", "room", "block"),
                                                   ("unfilled", None, None)]


def test_two_roles_competing_for_one_free_resource_is_an_allocation_failure():
    ada = calendar(resource_id="ada", schedule=nine_to_five())
    bob = calendar(resource_id="bob", schedule=nine_to_five(),
                   busy=[busy(start=f"{MONDAY} 09:00", end=f"{MONDAY} 12:00", ref="blk")])
    other = calendar(resource_id="cy", schedule=nine_to_five())
    request = slot_request(calendars=[ada, bob, other],
                           roles=[role("cy"), role("ada"), role("ada", "bob")],
                           now=NOW, duration_min=60)
    found = explain(request, at("10:00"))
    assert codes(found) == [("busy", "bob", "block"), ("allocation", None, None)]
    assert found.reasons[0].roles == (2,)
    assert found.reasons[-1].roles == (1, 2) and found.reasons[-1].candidates == ("ada",)


def test_an_off_grid_start_gives_the_nearest_offered_starts():
    found = explain(single(calendar(resource_id="ada", schedule=nine_to_five())), at("10:20"))
    [reason] = found.reasons
    assert reason.code is Code.GRID
    assert [s.start for s in reason.nearest] == [at("10:00"), at("11:00")]


def test_an_off_grid_start_that_is_also_busy_says_both():
    cal = calendar(resource_id="ada", schedule=nine_to_five(),
                   busy=[busy(start=f"{MONDAY} 09:00", end=f"{MONDAY} 10:00", ref="blk")])
    found = explain(single(cal), at("09:30"))
    assert codes(found) == [("busy", "ada", "block"), ("unfilled", None, None),
                            ("grid", None, None)]
    assert [s.start for s in found.reasons[-1].nearest] == [at("10:00")]


def test_a_closed_resource_says_nothing_of_the_grid():
    found = explain(single(calendar(resource_id="ada", schedule=nine_to_five())), at("16:30"))
    assert Code.GRID not in [r.code for r in found.reasons]


def test_a_resource_filter_outside_every_pool_and_a_busy_wanted_resource():
    ada = calendar(resource_id="ada", schedule=nine_to_five())
    bob = calendar(resource_id="bob", schedule=nine_to_five(),
                   busy=[busy(start=f"{MONDAY} 10:00", end=f"{MONDAY} 11:00", ref="blk")])
    request = slot_request(calendars=[ada, bob], roles=[role("ada", "bob")], now=NOW,
                           duration_min=60, must_include="zed")
    assert codes(explain(request, at("10:00"))) == [("not_in_pool", "zed", None)]
    wanted = slot_request(calendars=[ada, bob], roles=[role("ada", "bob")], now=NOW,
                          duration_min=60, must_include="bob")
    assert codes(explain(wanted, at("10:00"))) == [("busy", "bob", "block")]  # ada is free


def test_an_optional_resource_asked_for_but_not_free():
    practitioner = calendar(resource_id="p", schedule=nine_to_five())
    assistant = calendar(resource_id="a", schedule=nine_to_five(),
                         busy=[busy(start=f"{MONDAY} 10:00", end=f"{MONDAY} 17:00")])
    request = slot_request(calendars=[practitioner, assistant],
                           roles=[role("p"), role("a", optional=True)], now=NOW,
                           duration_min=60, must_include="a")
    assert codes(explain(request, at("10:00"))) == [("busy", "a", "block")]
    assert explain(request, at("09:00")).offered


def test_explain_many_answers_like_explain_start_by_start():
    cal = calendar(resource_id="ada", schedule=nine_to_five(), busy=[
        busy(start=f"{MONDAY} 10:00", end=f"{MONDAY} 11:00", ref="a"),
        busy(start="2027-01-05 09:00", end="2027-01-12 09:00", ref="week-off"),
    ], excluded=[busy(start="2027-01-13 00:00", end="2027-01-14 00:00", reason="limit")])
    request = single(cal)
    starts = [at("09:00"), at("10:00"), at("10:30"), at_utc("2027-01-06 12:00"),
              at_utc("2027-01-13 12:00"), at_utc("2027-01-14 12:00")]
    assert explain_many(request, starts) == [explain(request, t, around=None) for t in starts]


# ---------------------------------------------------------------- properties

SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]


@st.composite
def richer_scenarios(draw, min_resources: int = 1, min_roles: int = 1
                     ) -> tuple[SlotRequest, TimeRange]:
    """The oracle's scenarios with what it does not model: location hours, excluded starts,
    bookings that know their own range, optional roles."""
    oracle = _oracle()
    scenario = draw(oracle.scenarios(min_resources=min_resources, min_roles=min_roles))
    request, window = scenario.request, scenario.window
    calendars = {}
    for rid, cal in request.calendars.items():
        zone_name = cal.schedule.zone if cal.schedule is not None else "UTC"
        within = ()
        if draw(st.booleans()):
            outer = oracle.schedules(draw, zone_name, window.start.date())
            within = () if outer is None else (outer,)
        busy_time = tuple(
            Busy(b.range, "booking", f"bk-{i}",
                 core=TimeRange(min(b.range.start + draw(st.sampled_from([0, 5, 15])) * MINUTE,
                                    b.range.end), b.range.end))
            if draw(st.booleans()) else b
            for i, b in enumerate(cal.busy)
        )
        excluded = tuple(
            Busy(TimeRange(s, s + draw(st.integers(1, 24 * 60)) * MINUTE),
                 draw(st.sampled_from(["limit", "rule", "notice", "horizon"])), "label")
            for s in [window.start + draw(st.integers(-120, 36 * 60)) * MINUTE
                      for _ in range(draw(st.sampled_from([0, 0, 1, 2])))]
        )
        calendars[rid] = replace(cal, busy=busy_time, within=within, excluded=excluded)
    roles = tuple(replace(r, optional=draw(st.sampled_from([False, False, False, True])))
                  for r in request.roles)
    return replace(request, roles=roles, calendars=calendars), window


def candidate_starts(request: SlotRequest, window: TimeRange, data: st.DataObject
                     ) -> list[datetime]:
    """Offered starts, starts just off them, and any minutes of the window."""
    offered = [s.start for s in find_slots(request, window)]
    picked = data.draw(st.lists(st.sampled_from(offered), max_size=3)) if offered else []
    near = [t + data.draw(st.sampled_from([-5, 1, 10, 30])) * MINUTE for t in picked]
    minutes = (window.end - window.start) // MINUTE
    anywhere = [window.start + k * MINUTE
                for k in data.draw(st.lists(st.integers(0, max(0, minutes - 1)), min_size=1,
                                            max_size=6))]
    return [*picked, *near, *anywhere]


def check_agreement(request: SlotRequest, window: TimeRange, data: st.DataObject) -> None:
    starts = candidate_starts(request, window, data)
    for t in starts:
        slot = slot_at(request, t)
        reasons = reasons_against(request, t)
        assert (slot is not None) == (reasons == ()), (t, slot, reasons)
        found = explain(request, t, around=None)
        assert found.slot == slot
        assert found.reasons == reasons
        for reason in reasons:
            assert_well_formed(reason, request)
    assert explain_many(request, starts) == [explain(request, t, around=None) for t in starts]


def assert_well_formed(reason: Reason, request: SlotRequest) -> None:
    per_resource = {Code.CLOSED, Code.BUSY, Code.LIMIT, Code.RULE}
    if reason.code in per_resource:
        assert reason.resource_id in {r for role in request.roles for r in role.resource_ids}
    if reason.code is Code.BUSY:
        assert reason.source is not None and reason.range is not None
    assert all(0 <= i < len(request.roles) for i in reason.roles)


@settings(max_examples=hypothesis_examples(150), deadline=None, suppress_health_check=SLOW_OK)
@given(scenario=richer_scenarios(), data=st.data())
def test_a_start_has_reasons_against_it_exactly_when_slot_at_refuses_it(scenario, data):
    check_agreement(*scenario, data)


@settings(max_examples=hypothesis_examples(100), deadline=None, suppress_health_check=SLOW_OK)
@given(scenario=richer_scenarios(min_resources=2, min_roles=2), data=st.data())
def test_with_two_roles_reasons_and_slot_at_still_agree(scenario, data):
    check_agreement(*scenario, data)


@settings(max_examples=hypothesis_examples(60), deadline=None, suppress_health_check=SLOW_OK)
@given(scenario=_oracle().scenarios(), data=st.data())
def test_on_the_oracles_own_scenarios_reasons_and_slot_at_agree(scenario, data):
    check_agreement(scenario.request, scenario.window, data)
