"""Small versions of every stress scenario on two server processes; the invariants must hold
(never timings: those belong to bench/stress.py)."""

from __future__ import annotations

import pytest

from slotwise.testing.stress import scenarios as sc
from slotwise.testing.stress.scenarios import ScenarioResult
from slotwise.testing.stress.servers import Server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stress")]


def assert_holds(result: ScenarioResult, database_url: str) -> None:
    report = result.report(database_url)
    assert report.ok, report.table()


def test_many_attempts_on_few_slots_have_exactly_one_winner_each(live: Server) -> None:
    result = sc.attempts_on_slots(live.base_url, attempts=120, slots=10, clients=16)
    assert result.notes["winners"] == 10
    assert_holds(result, live.database_url)


def test_reschedule_storm_loses_and_doubles_nothing(live: Server) -> None:
    assert_holds(sc.reschedule_storm(live.base_url, bookings=12, free=6),
                 live.database_url)


def test_cancel_and_rebook_race_leaves_at_most_one_booking_per_slot(live: Server) -> None:
    assert_holds(sc.cancel_and_rebook(live.base_url, bookings=8, contenders=3),
                 live.database_url)


def test_multi_resource_bookings_share_the_rooms_exactly(live: Server) -> None:
    assert_holds(sc.multi_resource(live.base_url, practitioners=4, rooms=2, slots=5,
                                   attempts_per_slot=4), live.database_url)


def test_series_against_singles_is_all_or_nothing(live: Server) -> None:
    assert_holds(sc.series_against_singles(live.base_url, series=4, count=4),
                 live.database_url)


def test_same_idempotency_key_twenty_times_at_once_books_once(live: Server) -> None:
    assert_holds(sc.idempotency_burst(live.base_url, copies=20, rounds=2),
                 live.database_url)
