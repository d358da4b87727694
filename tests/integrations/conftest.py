"""A builder of `BookingDetails` for the notification adapters' tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from slotwise.domain.notifications import BookingDetails

# Monday 2027-03-01 13:00-13:45 in Berlin (CET, UTC+1).
START = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
END = datetime(2027, 3, 1, 12, 45, tzinfo=UTC)

MakeDetails = Callable[..., BookingDetails]


def _details(**overrides: Any) -> BookingDetails:
    base = BookingDetails(
        booking_id="bk_0123456789abcdef01234567", org_name="Acme Dental",
        org_email="hello@acme.example", service_name="Check-up", start=START, end=END,
        customer_name="Ana Müller", customer_email="ana@example.com",
        customer_timezone="Europe/Berlin", locale="en", customer_phone="+4915112345678",
        location_name="Hauptstraße 1, Berlin", manage_url="https://book.example/m/tok",
        resource_names=("Dr. Ng",),
    )
    return replace(base, **overrides)


@pytest.fixture
def make_details() -> MakeDetails:
    """`make_details(locale="de", sequence=1, ...)`: a booking's details with overrides."""
    return _details
