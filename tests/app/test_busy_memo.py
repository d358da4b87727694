"""The engine's busy values are made once per stored row, never kept for holds (those in Redis
come as new objects on every read: keeping them would only fill the memo)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slotwise.app import availability
from slotwise.domain.model import BusyRange

START = datetime(2026, 12, 7, 9, tzinfo=UTC)
END = START + timedelta(hours=1)


def test_a_bookings_busy_time_is_made_once_and_a_holds_anew_each_time() -> None:
    booking = BusyRange("booking", "b1", "r1", START, END, START, END)
    hold = BusyRange("hold", "h1", "r1", START, END)
    made = availability.engine_busy(booking)
    assert availability.engine_busy(booking) is made
    kept = len(availability._ENGINE_BUSY)
    first, again = availability.engine_busy(hold), availability.engine_busy(hold)
    assert first == again and first is not again
    assert (first.range.start, first.range.end, first.reason, first.ref) == (
        START, END, "hold", "h1")
    assert len(availability._ENGINE_BUSY) == kept
