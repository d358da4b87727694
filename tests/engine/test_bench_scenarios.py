"""The availability benchmark's scenarios (bench/scenarios.py) are what they claim to be.

Correctness only, never timing: the sizes the issue asks for, bookings that never overlap on
a resource, and, on small instances, exactly the slots a brute-force count finds (every
quarter hour of the window, each role needing one open, unbooked resource; all hours in these
scenarios start on the hour, so every choice of resources shares one grid).
"""

from __future__ import annotations

import importlib.util
import sys
from bisect import bisect_left
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import pytest

from slotwise.engine.availability import find_slots

BENCH = Path(__file__).resolve().parents[2] / "bench" / "scenarios.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("slotwise_bench_scenarios", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


sc = _load()
QUARTER = timedelta(minutes=15)


def minutes(text: str) -> int:
    hh, mm = text.split(":")
    return int(hh) * 60 + int(mm)


def brute_force_starts(scenario) -> list[datetime]:
    """Starts on the local step grid where every role has an open resource with no booking."""
    service = scenario.service
    duration = timedelta(minutes=service.duration_min)
    tz = ZoneInfo(scenario.zone)
    booked: dict[str, list[tuple[datetime, datetime]]] = {r.key: [] for r in scenario.resources}
    for b in scenario.bookings:
        for key in b.resources:
            booked[key].append((b.start, b.end))
    for spans in booked.values():
        spans.sort()

    def free(key: str, start: datetime, end: datetime) -> bool:
        spans = booked[key]
        i = bisect_left(spans, (end, end))
        return i == 0 or spans[i - 1][1] <= start

    def open_at(spec, start: datetime) -> bool:
        local = start.astimezone(tz)
        first = minutes(spec.start)
        at = local.hour * 60 + local.minute
        return (sc.WEEKDAYS[local.weekday()] in spec.days and first <= at
                and at + service.duration_min <= minutes(spec.end)
                and (at - first) % service.step_min == 0)

    pools = [[r for r in scenario.resources if r.kind == req.kind and set(req.tags) <= set(r.tags)]
             for req in service.requirements]
    window = scenario.window()
    out = []
    t = window.start
    while t < window.end:
        if all(any(open_at(r, t) and free(r.key, t, t + duration) for r in pool)
               for pool in pools):
            out.append(t)
        t += QUARTER
    return out


def assert_no_overlap(scenario) -> None:
    per_resource: dict[str, list[tuple[datetime, datetime]]] = {}
    for b in scenario.bookings:
        assert b.start < b.end
        for key in b.resources:
            per_resource.setdefault(key, []).append((b.start, b.end))
    for spans in per_resource.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in pairwise(spans))


def test_the_full_size_scenarios_have_the_sizes_of_the_issue():
    single, team, any_of, growth = sc.single(), sc.team(), sc.any_of(), sc.growth()
    assert (len(single.resources), len(single.bookings), single.days) == (1, 500, 30)
    assert single.service.step_min == 15
    kinds = [r.kind for r in team.resources]
    assert (kinds.count("practitioner"), kinds.count("room"), kinds.count("equipment")) == (
        50, 20, 5)
    assert (len(team.bookings), team.days) == (5000, 14)
    assert [(r.kind, r.tags) for r in team.service.requirements] == [
        ("practitioner", ("physio",)), ("room", ("treatment",)), ("equipment", ("ultrasound",))]
    assert (len(any_of.resources), any_of.days, len(any_of.service.requirements)) == (1000, 7, 1)
    assert (len(growth.bookings), growth.days) == (4000, 56)
    for scenario in (single, team, any_of, growth):
        assert_no_overlap(scenario)
        window = scenario.window()
        assert all(window.start <= b.start and b.end <= window.end + timedelta(days=1)
                   for b in scenario.bookings)


def test_the_growth_windows_double_the_bookings_they_hold():
    growth = sc.growth()
    held = [sc.busy_in(growth, growth.window(days)) for days in sc.GROWTH_DAYS]
    assert held[-1] == 4000
    for smaller, larger in pairwise(held):
        assert 1.7 < larger / smaller < 2.3


@pytest.mark.parametrize("scenario", [
    sc.single(),
    sc.team(practitioners=6, rooms=3, equipment=2, bookings=150, days=3),
    sc.any_of(resources=12, bookings=120, days=3),
    sc.growth(resources=3, bookings=100, days=4),
], ids=["single", "team-small", "any-of-small", "growth-small"])
def test_the_engine_offers_the_brute_force_slots(scenario):
    request = sc.engine_request(scenario)
    slots = find_slots(request, scenario.window())
    assert [s.start for s in slots] == brute_force_starts(scenario)
    assert slots, "a scenario with nothing to offer measures nothing"


def test_the_single_scenario_offers_a_known_number_of_slots():
    # Seeded placement: a changed builder (or engine) shows here first.
    scenario = sc.single()
    assert len(find_slots(sc.engine_request(scenario), scenario.window())) == 174
    assert scenario.bookings[0].start.tzinfo is UTC
