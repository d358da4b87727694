"""Small versions of every stress scenario on two server processes; the invariants must hold
(never timings: those belong to bench/stress.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest

from slotwise.testing.stress import scenarios as sc
from slotwise.testing.stress.scenarios import ScenarioResult
from slotwise.testing.stress.servers import Server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stress")]

# The server runs on the real clock (see conftest): weeks ahead, clear of the faults' slots.
FIRST_DAY = sc.monday_after(datetime.now(UTC), weeks=8)


def assert_holds(result: ScenarioResult, server: Server) -> None:
    report = result.report(server.database_url)
    assert report.ok, report.table()


def test_many_attempts_on_few_slots_have_exactly_one_winner_each(stress_server: Server) -> None:
    result = sc.attempts_on_slots(stress_server.base_url, attempts=120, slots=10, clients=16,
                                  first_day=FIRST_DAY)
    assert result.notes["winners"] == 10
    assert_holds(result, stress_server)
    # `slotwise serve` opens the rush lane: refusals in the rush were answered by it (each
    # process counts its own; a look at a few of them finds some).
    answered = [_lane_refusals(httpx.get(f"{stress_server.base_url}/metrics").text)
                for _ in range(10)]
    assert max(answered) > 0, answered


def _lane_refusals(metrics: str) -> float:
    found = re.search(r'^slotwise_rush_lane_total\{outcome="refused"\} (\S+)$', metrics,
                      re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_reschedule_storm_loses_and_doubles_nothing(stress_server: Server) -> None:
    result = sc.reschedule_storm(stress_server.base_url, bookings=12, free=6,
                                 first_day=FIRST_DAY)
    assert_holds(result, stress_server)


def test_cancel_and_rebook_race_leaves_at_most_one_booking_per_slot(stress_server: Server
                                                                    ) -> None:
    result = sc.cancel_and_rebook(stress_server.base_url, bookings=8, contenders=3,
                                  first_day=FIRST_DAY)
    assert_holds(result, stress_server)


def test_multi_resource_bookings_share_the_rooms_exactly(stress_server: Server) -> None:
    result = sc.multi_resource(stress_server.base_url, practitioners=4, rooms=2, slots=5,
                               attempts_per_slot=4, first_day=FIRST_DAY)
    assert_holds(result, stress_server)


def test_series_against_singles_is_all_or_nothing(stress_server: Server) -> None:
    result = sc.series_against_singles(stress_server.base_url, series=4, count=4,
                                       first_day=FIRST_DAY)
    assert_holds(result, stress_server)


def test_same_idempotency_key_twenty_times_at_once_books_once(stress_server: Server) -> None:
    result = sc.idempotency_burst(stress_server.base_url, copies=20, rounds=2,
                                  first_day=FIRST_DAY)
    assert_holds(result, stress_server)
