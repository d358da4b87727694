"""`slotwise demo`: the clinic it creates, the week it books, and the credentials it prints."""

from __future__ import annotations

import itertools
import re
import shlex
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from slotwise.app.container import UseCases
from slotwise.bootstrap import Container
from slotwise.demo import create_demo
from slotwise.domain.booking import Booking, BookingStatus
from slotwise.domain.model import BookingFilter, Principal, ResourceKind

BASE_URL = "http://testserver"
# The fixtures' clock stands at Monday 2027-03-01 12:00Z; London is on GMT (UTC+0) until
# 2027-03-28, so the demo week is Tuesday 2 March 00:00Z up to Tuesday 9 March 00:00Z.
WEEK_START = datetime(2027, 3, 2, tzinfo=UTC)
WEEK_END = WEEK_START + timedelta(days=7)


def printed(text: str, label: str) -> str:
    """The value printed after `label:` on its own line."""
    found = re.search(rf"^\s*{re.escape(label)}:\s+(\S+)\s*$", text, re.MULTILINE)
    assert found is not None, f"{label!r} is not in the demo's output:\n{text}"
    return found.group(1)


def owner_of(use_cases: UseCases, text: str) -> Principal:
    """Log in with the printed e-mail and password, as a person reading the output would."""
    token = use_cases.accounts.login(printed(text, "owner e-mail"), printed(text, "password"))
    return use_cases.accounts.authenticate(token)


def bookings_of(use_cases: UseCases, org_id: str) -> list[Booking]:
    return use_cases.bookings.list(org_id, BookingFilter(limit=500))


def test_demo_sets_up_a_clinic_with_staff_rooms_equipment_and_services(
        container: Container) -> None:
    use_cases = container.use_cases
    text = create_demo(use_cases, BASE_URL)
    owner = owner_of(use_cases, text)

    resources = use_cases.catalog.list_resources(owner, None, 500)
    kinds = Counter(r.kind for r in resources)
    assert kinds == {ResourceKind.PRACTITIONER: 3, ResourceKind.ROOM: 2,
                     ResourceKind.EQUIPMENT: 1}
    assert all(r.timezone == "Europe/London" for r in resources)
    practitioners = [r for r in resources if r.kind is ResourceKind.PRACTITIONER]
    assert all(r.tags for r in practitioners)
    assert all(r.buffer_before_min or r.buffer_after_min for r in practitioners)
    assert len({tuple(sorted(r.tags)) for r in practitioners}) == 3
    schedules = [use_cases.catalog.get_schedule(owner, r.id) for r in practitioners]
    assert all(s.weekly for s in schedules)
    assert any(s.overrides for s in schedules)

    services = use_cases.catalog.list_services(owner.org_id)
    assert len(services) == 3
    assert len({s.requirements for s in services}) == 3
    assert len({(s.buffer_before_min, s.buffer_after_min) for s in services}) == 3
    assert any(s.price is not None and s.min_notice_min > 0 for s in services)


def test_demo_books_a_week_without_overlaps(container: Container) -> None:
    use_cases = container.use_cases
    owner = owner_of(use_cases, create_demo(use_cases, BASE_URL))
    bookings = bookings_of(use_cases, owner.org_id)

    assert len(bookings) >= 10
    assert all(b.status is BookingStatus.CONFIRMED for b in bookings)
    assert all(WEEK_START <= b.start < WEEK_END for b in bookings)
    assert len({b.start.date() for b in bookings}) >= 3, "the bookings spread over the week"
    assert len({b.service_id for b in bookings}) == 3
    assert len({b.customer.email for b in bookings}) >= 10

    resources = {r.id: r for r in use_cases.catalog.list_resources(owner, None, 500)}
    services = {s.id: s for s in use_cases.catalog.list_services(owner.org_id)}
    taken: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for booking in bookings:
        service = services[booking.service_id]
        assert len(booking.resource_ids) == len(service.requirements)
        if service.min_notice_min:
            assert booking.start >= use_cases.clock.now() + timedelta(
                minutes=service.min_notice_min)
        for rid in booking.resource_ids:
            before = max(service.buffer_before_min, resources[rid].buffer_before_min)
            after = max(service.buffer_after_min, resources[rid].buffer_after_min)
            taken[rid].append((booking.start - timedelta(minutes=before),
                               booking.end + timedelta(minutes=after)))
    for rid, ranges in taken.items():
        ranges.sort()
        for (_, earlier_end), (later_start, _) in itertools.pairwise(ranges):
            assert earlier_end <= later_start, f"two bookings overlap on {resources[rid].name}"


def test_demo_prints_working_credentials_and_urls(container: Container) -> None:
    use_cases = container.use_cases
    text = create_demo(use_cases, BASE_URL)
    owner = owner_of(use_cases, text)

    slug = printed(text, "org slug")
    assert use_cases.accounts.organisation(owner.org_id).slug == slug
    assert use_cases.accounts.authenticate(printed(text, "API key")) == owner
    assert use_cases.accounts.authenticate(printed(text, "session token")) == owner
    for url in (f"{BASE_URL}/docs", f"{BASE_URL}/openapi.json",
                f"{BASE_URL}/v1/public/{slug}/services", f"{BASE_URL}/v1/services/"):
        assert url in text
    assert text.count("curl ") == 2


def test_the_printed_curl_commands_work(container: Container, client: TestClient) -> None:
    text = create_demo(container.use_cases, BASE_URL)
    commands = re.findall(r"^  curl .*?(?=\n\n|\Z)", text, re.MULTILINE | re.DOTALL)
    assert len(commands) == 2
    query, booking = (shlex.split(c.replace("\\\n", " ")) for c in commands)

    header, url = query[query.index("-H") + 1], query[-1]
    name, value = header.split(": ", 1)
    answer = client.get(url, headers={name: value})
    assert answer.status_code == 200, answer.text
    assert answer.json()["slots"]

    url, body = booking[booking.index("-X") + 2], booking[booking.index("-d") + 1]
    answer = client.post(url, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["manage_token"]


def test_demo_runs_twice_on_one_database(container: Container) -> None:
    use_cases = container.use_cases
    first_text = create_demo(use_cases, BASE_URL)
    second_text = create_demo(use_cases, BASE_URL)
    first, second = owner_of(use_cases, first_text), owner_of(use_cases, second_text)

    assert first.org_id != second.org_id
    assert printed(first_text, "org slug") != printed(second_text, "org slug")
    assert printed(first_text, "owner e-mail") != printed(second_text, "owner e-mail")
    first_bookings = bookings_of(use_cases, first.org_id)
    second_bookings = bookings_of(use_cases, second.org_id)
    assert len(first_bookings) >= 10
    assert len(second_bookings) == len(first_bookings), "each clinic books its own week"
