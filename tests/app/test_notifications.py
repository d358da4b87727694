"""Messages to customers end to end: a real worker, a real SMTP server (SmtpSink), Twilio faked
at the HTTP layer, a pinned clock moved by hand.

A booking's confirmation carries an iTIP REQUEST (SEQUENCE 0), a reschedule a REQUEST with
SEQUENCE 1 and moved reminders, a cancellation a CANCEL and no more reminders; reminders go
24 h and 1 h before the start and the review request 2 h after the end, when the clock says
so; and the customer never gets a message twice: not from a duplicate job, not after a
retried SMTP failure, not after a worker killed between the SMTP server's acceptance and the
record of it. A calendar connection that starts failing is told to the organisation's owner,
once, unless it works again before the message goes out.

The module has databases of its own: a running worker relays every event in its database,
and other modules leave thousands behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar

from slotwise.api.app import create_app
from slotwise.app.calendar_connections import ConnectionFields
from slotwise.app.clock import FrozenClock
from slotwise.app.notifications import INTERRUPTED, NO_SMTP, NotificationReactor, send_job
from slotwise.bootstrap import Container, build
from slotwise.domain import events
from slotwise.domain.calendars import CalendarAuthError, CalendarConnection
from slotwise.domain.jobs import JobState
from slotwise.domain.messages import (
    Channel,
    MessageState,
    dedupe_key,
    e164,
    plan_booked,
    schedule_problem,
)
from slotwise.domain.model import NotificationSchedule, Principal, Role
from slotwise.domain.notifications import BookingDetails, MessageKind, message_key
from slotwise.settings import Settings
from slotwise.testing.api import Org, book, resource, service, signup
from slotwise.testing.databases import PostgresUnavailable, migrated_database
from slotwise.testing.fakes.calendar import FakeCalendar
from slotwise.testing.fakes.meetings import FakeZoomServer
from slotwise.testing.fakes.stripe import FakeStripe
from slotwise.testing.fakes.twilio import FakeTwilio
from slotwise.testing.payments import deliver, intent_id, stripe_settings
from slotwise.testing.payments import wait_for as wait_for_value
from slotwise.testing.smtp import SmtpSink
from slotwise.testing.workers import running, wait_for

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)  # the clock fixture's start
DAY = "2027-03-08"
TEN = f"{DAY}T10:00:00Z"  # a Monday; the services run 60 minutes
MAIL_FROM = "bookings@clinic.example"
BASE_URL = "https://book.clinic.example"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# The schedule, pure.

def test_a_booking_plans_its_confirmation_reminders_and_review_request() -> None:
    start, end = at(TEN), at(TEN) + timedelta(hours=1)
    planned = plan_booked(MessageKind.CONFIRMATION, start, end, NotificationSchedule(), T0)
    assert [(p.kind, p.due_at) for p in planned] == [
        (MessageKind.CONFIRMATION, T0),
        (MessageKind.REMINDER_24H, at("2027-03-07T10:00:00Z")),
        (MessageKind.REMINDER_1H, at("2027-03-08T09:00:00Z")),
        (MessageKind.REVIEW_REQUEST, at("2027-03-08T13:00:00Z")),
    ]


def test_reminders_already_due_are_not_planned() -> None:
    start = T0 + timedelta(hours=5)  # the 24 h reminder would have been due 19 h ago
    planned = plan_booked(MessageKind.CONFIRMATION, start, start + timedelta(hours=1),
                          NotificationSchedule(), T0)
    assert [p.kind for p in planned] == [MessageKind.CONFIRMATION, MessageKind.REMINDER_1H,
                                         MessageKind.REVIEW_REQUEST]
    exactly_due = plan_booked(MessageKind.CONFIRMATION, T0 + timedelta(hours=1),
                              T0 + timedelta(hours=2), NotificationSchedule(), T0)
    assert [p.kind for p in exactly_due] == [MessageKind.CONFIRMATION,
                                             MessageKind.REVIEW_REQUEST]
    none = NotificationSchedule(reminders_min=(), review_after_min=None)
    assert [p.kind for p in plan_booked(MessageKind.RESCHEDULE, at(TEN), at(TEN), none, T0)
            ] == [MessageKind.RESCHEDULE]


def test_a_schedule_has_at_most_one_reminder_of_each_kind() -> None:
    assert schedule_problem(NotificationSchedule()) is None
    assert schedule_problem(NotificationSchedule(reminders_min=(2880, 30))) is None
    assert schedule_problem(NotificationSchedule(reminders_min=(60, 30))) is not None
    assert schedule_problem(NotificationSchedule(reminders_min=(1440, 2880))) is not None
    assert schedule_problem(NotificationSchedule(reminders_min=(0,))) is not None
    assert schedule_problem(NotificationSchedule(review_after_min=-1)) is not None


def test_the_dedupe_key_is_the_message_key_and_the_channel() -> None:
    details = BookingDetails(
        booking_id="bk_1", org_name="Clinic", org_email=MAIL_FROM, service_name="Check-up",
        start=at(TEN), end=at(TEN) + timedelta(hours=1), customer_name="Ana",
        customer_email="ana@example.com", customer_timezone="UTC", locale="en", sequence=2)
    assert dedupe_key("bk_1", MessageKind.RESCHEDULE, 2, Channel.SMS) == \
        message_key(MessageKind.RESCHEDULE, details) + ":sms"


def test_only_numbers_written_in_e164_get_text_messages() -> None:
    assert e164("+49 151 1234-5678") == "+4915112345678"
    assert e164("0049 (151) 12345678") == "+4915112345678"
    assert e164("0151 12345678") is None  # no country code: never guessed
    assert e164(None) is None


# End to end.

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        with migrated_database(request.param, tmp_path_factory.mktemp("notify")) as url:
            yield url
    except PostgresUnavailable as error:
        pytest.fail(str(error))


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as twilio:
        yield twilio


def settings_for(database_url: str, sink: SmtpSink | None, twilio: FakeTwilio | None = None,
                 **more: Any) -> Settings:
    fields: dict[str, Any] = {
        "database_url": database_url, "database_pool_size": 4, "password_hash_time_cost": 1,
        "password_hash_memory_kib": 1024, "mail_from": MAIL_FROM, "public_base_url": BASE_URL,
        "job_backoff_s": 1, "job_max_attempts": 3, "stuck_job_after_s": 5, **more}
    if sink is not None:
        fields |= {"smtp_host": sink.host, "smtp_port": sink.port}
    if twilio is not None:
        fields |= {"twilio_account_sid": twilio.account_sid,
                   "twilio_auth_token": twilio.auth_token, "twilio_from": twilio.from_number,
                   "twilio_api_base": twilio.base_url}
    return Settings(**fields)


@pytest.fixture
def stripe() -> Iterator[FakeStripe]:
    with FakeStripe() as stripe:
        yield stripe


@pytest.fixture
def container(database_url: str, clock: FrozenClock, sink: SmtpSink, twilio: FakeTwilio,
              stripe: FakeStripe) -> Iterator[Container]:
    built = build(settings_for(database_url, sink, twilio, **stripe_settings(stripe)),
                  clock=clock)
    yield built
    built.close()


def mails_to(sink: SmtpSink, address: str) -> list[EmailMessage]:
    return [m for m in list(sink.messages) if address in str(m["To"])]


def invite(message: EmailMessage) -> Any:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            calendar = Calendar.from_ical(part.get_payload(decode=True))
            [event] = calendar.walk("VEVENT")
            return calendar, event
    return None


def states(container: Container, org: Org, booking_id: str) -> dict[str, str]:
    found = container.use_cases.notifications.of_booking(org.id, booking_id)
    return {f"{m.kind.value}:{m.channel.value}": m.state.value for m in found}


def settled(container: Container, org: Org, booking_id: str) -> bool:
    """The booking has messages, and none is queued or being sent."""
    found = set(states(container, org, booking_id).values())
    return bool(found) and not {"queued", "sending"} & found


def customer(tag: str) -> str:
    return f"{tag}-{time.monotonic_ns()}@example.com"


def setup(client: TestClient, **service_fields: Any) -> tuple[Org, dict[str, Any]]:
    org = signup(client, timezone="Europe/Berlin", name="Praxis Sonnenschein")
    resource(org, name="Dr. Ng")
    return org, service(org, name="Check-up", **service_fields)


def dispatch_at(container: Container, clock: FrozenClock, instant: str) -> None:
    clock.set(at(instant))
    container.use_cases.notifications.dispatch()


def test_the_confirmation_arrives_once_with_its_invitation_then_reminders_and_review_on_time(
        client: TestClient, container: Container, clock: FrozenClock, sink: SmtpSink) -> None:
    org, svc = setup(client)
    email = customer("ana")
    with running(container):
        booked = book(org, svc["id"], TEN, email=email)
        [confirmation] = _wait_mails(sink, email, 1)
        wait_for(lambda: settled(container, org, booked["id"]))
        assert "Check-up" in str(confirmation["Subject"])
        calendar, event = invite(confirmation)
        assert str(calendar["METHOD"]) == "REQUEST"
        assert str(event["UID"]) == f"{booked['id']}@slotwise"
        assert int(event["SEQUENCE"]) == 0
        assert event.decoded("DTSTART") == at(TEN)
        assert str(event["ORGANIZER"]) == f"mailto:{MAIL_FROM}"
        # The manage link carries the customer's own token.
        link = next(word for word in confirmation.get_body(("plain",)).get_content().split()
                    if word.startswith(f"{BASE_URL}/manage/"))
        token = parse_qs(urlsplit(link).query)["token"][0]
        mine = client.get(f"/v1/public/bookings/{booked['id']}", params={"token": token})
        assert mine.status_code == 200, mine.text

        dispatch_at(container, clock, "2027-03-07T09:59:00Z")  # a minute early
        assert states(container, org, booked["id"])["reminder_24h:email"] == "scheduled"
        dispatch_at(container, clock, "2027-03-07T10:00:00Z")
        [_, day_before] = _wait_mails(sink, email, 2)
        assert str(day_before["Subject"]).startswith("Reminder: Check-up")
        dispatch_at(container, clock, "2027-03-08T09:00:00Z")
        [*_, hour_before] = _wait_mails(sink, email, 3)
        assert str(hour_before["Subject"]).startswith("Starting soon: Check-up")
        dispatch_at(container, clock, "2027-03-08T12:59:00Z")
        dispatch_at(container, clock, "2027-03-08T13:00:00Z")  # 2 h after the end
        [*_, review] = _wait_mails(sink, email, 4)
        assert str(review["Subject"]) == "How was your Check-up?"
        assert invite(review) is None
        wait_for(lambda: settled(container, org, booked["id"]))
        container.use_cases.notifications.dispatch()  # nothing left: nothing twice
        time.sleep(0.5)
    assert len(mails_to(sink, email)) == 4
    assert set(states(container, org, booked["id"]).values()) == {"sent"}


def test_the_whole_way_of_a_paid_online_booking_hold_payment_link_invite_reminders_review(
        client: TestClient, database_url: str, clock: FrozenClock, sink: SmtpSink,
        stripe: FakeStripe) -> None:
    """The issue's first path, every part real or faked at the HTTP layer: a hold, a booking
    that waits for its payment and its meeting link, Stripe's signed webhook, the Zoom-shaped
    API making the link, the confirmation with its invitation and the link, the reminders at
    their instants on a pinned clock, the review request; each message exactly once."""
    with FakeZoomServer(token="zoom-e2e") as zoom:
        built = build(settings_for(database_url, sink, meeting_http_base_url=zoom.base_url,
                                   meeting_http_token="zoom-e2e", **stripe_settings(stripe)),
                      clock=clock)
        try:
            _the_whole_way(TestClient(create_app(built.use_cases)), built, clock, sink, stripe,
                           zoom)
        finally:
            built.close()


def _the_whole_way(client: TestClient, container: Container, clock: FrozenClock,
                   sink: SmtpSink, stripe: FakeStripe, zoom: FakeZoomServer) -> None:
    org, svc = setup(client, price={"amount": 8000, "currency": "EUR"}, payment="full",
                     meeting_provider="http", cancellation_policy={"preset": "moderate"})
    email = customer("whole-way")
    hold = org.post("/v1/holds", {"service_id": svc["id"], "start": TEN})
    assert hold.status_code == 201, hold.text
    with running(container):
        booked = book(org, svc["id"], TEN, email=email, hold_id=hold.json()["id"])
        assert booked["status"] == "pending"
        assert set(booked["awaiting"]) == {"payment", "meeting"}
        payment = wait_for_value(
            lambda: (p := org.get(f"/v1/bookings/{booked['id']}").json()["payment"])
            ["client_secret"] and p)
        wait_for(lambda: org.get(f"/v1/bookings/{booked['id']}").json()["meeting"] is not None)
        assert org.get(f"/v1/bookings/{booked['id']}").json()["status"] == "pending"  # unpaid
        assert mails_to(sink, email) == []
        assert deliver(client, stripe, stripe.succeed(intent_id(payment))).status_code == 200
        [confirmation] = _wait_mails(sink, email, 1)
        confirmed = org.get(f"/v1/bookings/{booked['id']}").json()
        assert (confirmed["status"], confirmed["awaiting"]) == ("confirmed", [])
        join_url = confirmed["meeting"]["join_url"]
        assert {m["join_url"] for m in zoom.meetings.values()} == {join_url}
        assert join_url in confirmation.get_body(("plain",)).get_content()
        calendar, event = invite(confirmation)
        assert (str(calendar["METHOD"]), int(event["SEQUENCE"])) == ("REQUEST", 0)
        assert str(event["URL"]) == join_url
        wait_for(lambda: settled(container, org, booked["id"]))

        dispatch_at(container, clock, "2027-03-07T10:00:00Z")  # 24 h before
        [_, day_before] = _wait_mails(sink, email, 2)
        assert str(day_before["Subject"]).startswith("Reminder: Check-up")
        dispatch_at(container, clock, "2027-03-08T09:00:00Z")  # 1 h before
        [*_, hour_before] = _wait_mails(sink, email, 3)
        assert join_url in hour_before.get_body(("plain",)).get_content()
        dispatch_at(container, clock, "2027-03-08T13:00:00Z")  # 2 h after the end
        [*_, review] = _wait_mails(sink, email, 4)
        assert str(review["Subject"]) == "How was your Check-up?"
        wait_for(lambda: settled(container, org, booked["id"]))
        container.use_cases.notifications.dispatch()
        time.sleep(0.5)
    assert len(mails_to(sink, email)) == 4
    assert set(states(container, org, booked["id"]).values()) == {"sent"}


def test_a_booking_that_fails_closed_tells_the_customer_and_the_team_why(
        client: TestClient, container: Container, clock: FrozenClock, sink: SmtpSink) -> None:
    org, svc = setup(client, price={"amount": 5000, "currency": "EUR"}, payment="full")
    email = customer("unpaid")
    with running(container):
        booked = book(org, svc["id"], TEN, email=email)
        clock.advance(timedelta(seconds=container.settings.payment_deadline_s + 1))
        container.use_cases.fixer.run()
        [told] = _wait_mails(sink, email, 1)
        [team] = _wait_mails(sink, org.email, 1)
    assert str(told["Subject"]).startswith("Booking not completed")
    assert str(team["Subject"]).startswith("Booking failed: Check-up")
    text = team.get_body(("plain",)).get_content()
    assert "The payment did not arrive in time" in text
    assert email in text
    assert "/manage/" not in text  # the customer's own link stays theirs
    assert org.get(f"/v1/bookings/{booked['id']}").json()["status"] == "failed"


def _wait_mails(sink: SmtpSink, address: str, count: int) -> list[EmailMessage]:
    wait_for(lambda: len(mails_to(sink, address)) >= count)
    return mails_to(sink, address)


def test_a_paid_booking_is_confirmed_with_its_invitation_once_paid_and_refunds_show(
        client: TestClient, container: Container, sink: SmtpSink, stripe: FakeStripe) -> None:
    org, svc = setup(client, price={"amount": 5000, "currency": "EUR"}, payment="full")
    email = customer("paying")
    with running(container):
        booked = book(org, svc["id"], TEN, email=email)
        assert (booked["status"], booked["awaiting"]) == ("pending", ["payment"])
        payment = wait_for_value(  # once the payments job has started the intent
            lambda: (p := org.get(f"/v1/bookings/{booked['id']}").json()["payment"])
            ["client_secret"] and p)
        time.sleep(0.3)
        assert mails_to(sink, email) == []  # nothing while the customer is paying
        assert deliver(client, stripe, stripe.succeed(intent_id(payment))).status_code == 200
        [confirmation] = _wait_mails(sink, email, 1)
        calendar, event = invite(confirmation)
        assert (str(calendar["METHOD"]), int(event["SEQUENCE"])) == ("REQUEST", 0)
        assert org.post(f"/v1/bookings/{booked['id']}/cancel", {}).status_code == 200
        [_, cancelled] = _wait_mails(sink, email, 2)
    assert str(invite(cancelled)[0]["METHOD"]) == "CANCEL"
    assert "€50.00" in cancelled.get_body(("plain",)).get_content()  # flexible: all of it


def test_an_online_booking_is_confirmed_with_its_meeting_link_and_no_pending_message(
        client: TestClient, container: Container, sink: SmtpSink) -> None:
    org, svc = setup(client, meeting_provider="jitsi")
    email = customer("online")
    with running(container):
        booked = book(org, svc["id"], TEN, email=email)
        assert booked["status"] == "pending"
        [confirmation] = _wait_mails(sink, email, 1)
        wait_for(lambda: settled(container, org, booked["id"]))
    meeting_url = org.get(f"/v1/bookings/{booked['id']}").json()["meeting"]["join_url"]
    assert meeting_url in confirmation.get_body(("plain",)).get_content()
    calendar, event = invite(confirmation)
    assert (str(calendar["METHOD"]), int(event["SEQUENCE"])) == ("REQUEST", 0)
    assert str(event["URL"]) == meeting_url
    assert len(mails_to(sink, email)) == 1


def test_a_booking_awaiting_approval_hears_it_is_pending_then_confirmed(
        client: TestClient, container: Container, sink: SmtpSink) -> None:
    org = signup(client, timezone="UTC")
    resource(org, requires_approval=True)
    svc = service(org)
    email = customer("waiting")
    with running(container):
        booked = book(org, svc["id"], TEN, email=email)
        [pending] = _wait_mails(sink, email, 1)
        assert str(pending["Subject"]).startswith("Booking request received")
        assert invite(pending) is None
        assert org.post(f"/v1/bookings/{booked['id']}/approve").status_code == 200
        [_, confirmed] = _wait_mails(sink, email, 2)
    assert str(invite(confirmed)[0]["METHOD"]) == "REQUEST"


def test_a_reschedule_sends_sequence_1_and_moves_the_reminders(
        client: TestClient, container: Container, clock: FrozenClock, sink: SmtpSink) -> None:
    org, svc = setup(client)
    email = customer("moved")
    with running(container):
        booked = book(org, svc["id"], TEN, email=email)
        _wait_mails(sink, email, 1)
        moved = org.post(f"/v1/bookings/{booked['id']}/reschedule",
                         {"start": "2027-03-09T14:00:00Z"})
        assert moved.status_code == 200, moved.text
        [first, second] = _wait_mails(sink, email, 2)
        wait_for(lambda: settled(container, org, booked["id"]))
        (_, was), (calendar, now) = invite(first), invite(second)
        assert str(calendar["METHOD"]) == "REQUEST"
        assert str(now["UID"]) == str(was["UID"])
        assert (int(was["SEQUENCE"]), int(now["SEQUENCE"])) == (0, 1)
        assert now.decoded("DTSTART") == at("2027-03-09T14:00:00Z")
        messages = container.use_cases.notifications.of_booking(org.id, booked["id"])
        assert {(m.kind.value, m.sequence, m.due_at, m.state.value) for m in messages
                if m.kind is not MessageKind.CONFIRMATION and m.channel is Channel.EMAIL} == {
            ("reminder_24h", 0, at("2027-03-07T10:00:00Z"), "dropped"),
            ("reminder_1h", 0, at("2027-03-08T09:00:00Z"), "dropped"),
            ("review_request", 0, at("2027-03-08T13:00:00Z"), "dropped"),
            ("reschedule", 1, T0, "sent"),
            ("reminder_24h", 1, at("2027-03-08T14:00:00Z"), "scheduled"),
            ("reminder_1h", 1, at("2027-03-09T13:00:00Z"), "scheduled"),
            ("review_request", 1, at("2027-03-09T17:00:00Z"), "scheduled"),
        }
        dispatch_at(container, clock, "2027-03-08T10:00:00Z")  # the old reminder's time
        time.sleep(0.5)
        assert len(mails_to(sink, email)) == 2
        dispatch_at(container, clock, "2027-03-08T14:00:00Z")
        [*_, reminder] = _wait_mails(sink, email, 3)
    assert str(reminder["Subject"]).startswith("Reminder: Check-up")


def test_a_cancellation_sends_a_cancel_and_drops_the_reminders(
        client: TestClient, container: Container, clock: FrozenClock, sink: SmtpSink) -> None:
    org, svc = setup(client)
    email = customer("cancelled")
    with running(container):
        booked = book(org, svc["id"], TEN, email=email)
        _wait_mails(sink, email, 1)
        org.post(f"/v1/bookings/{booked['id']}/cancel", {"reason": "the doctor is ill"})
        [first, cancelled] = _wait_mails(sink, email, 2)
        wait_for(lambda: settled(container, org, booked["id"]))
        calendar, event = invite(cancelled)
        assert str(calendar["METHOD"]) == "CANCEL"
        assert str(event["UID"]) == str(invite(first)[1]["UID"])
        assert int(event["SEQUENCE"]) == 1
        assert "the doctor is ill" in cancelled.get_body(("plain",)).get_content()
        assert states(container, org, booked["id"]) == {
            "confirmation:email": "sent", "reminder_24h:email": "dropped",
            "reminder_1h:email": "dropped", "review_request:email": "dropped",
            "cancellation:email": "sent"}
        for instant in ("2027-03-07T10:00:00Z", "2027-03-08T09:00:00Z",
                        "2027-03-08T13:00:00Z"):
            dispatch_at(container, clock, instant)
        time.sleep(0.5)
    assert len(mails_to(sink, email)) == 2


def test_a_duplicate_send_job_sends_one_email(
        client: TestClient, container: Container, sink: SmtpSink) -> None:
    org, svc = setup(client)
    email = customer("twice")
    booked = book(org, svc["id"], TEN, email=email)
    while container.use_cases.relay():
        pass
    [message] = [m for m in container.use_cases.notifications.of_booking(org.id, booked["id"])
                 if m.state is MessageState.QUEUED]
    with container.uow(write=True) as uow:
        for _ in range(2):
            uow.jobs.defer(send_job(message))  # two more jobs race the first for it
        uow.commit()
    with running(container):
        wait_for(lambda: _jobs_done(container, org))
        time.sleep(0.3)
    assert len(mails_to(sink, email)) == 1
    assert states(container, org, booked["id"])["confirmation:email"] == "sent"


def _jobs_done(container: Container, org: Org) -> bool:
    with container.uow() as uow:
        found = uow.jobs.list(org.id, None)
    return all(j.state in (JobState.SUCCEEDED, JobState.FAILED) for j in found)


def test_an_smtp_4xx_is_retried_and_the_customer_gets_one_email(
        client: TestClient, container: Container, sink: SmtpSink) -> None:
    org, svc = setup(client)
    email = customer("greylisted")
    sink.fail_next(451, "4.7.1 Greylisted, try again later")
    with running(container):
        booked = book(org, svc["id"], TEN, email=email)
        _wait_mails(sink, email, 1)
        wait_for(lambda: settled(container, org, booked["id"]))
        time.sleep(0.3)
    assert len(mails_to(sink, email)) == 1
    [confirmation] = [m for m in container.use_cases.notifications.of_booking(
        org.id, booked["id"]) if m.kind is MessageKind.CONFIRMATION]
    assert (confirmation.state, confirmation.attempts) == (MessageState.SENT, 2)
    assert "451" in (confirmation.last_error or "")


def test_an_smtp_server_deferring_every_attempt_fails_the_message_after_the_last(
        client: TestClient, container: Container, sink: SmtpSink) -> None:
    org, svc = setup(client)
    for _ in range(3):  # job_max_attempts
        sink.fail_next(421, "4.3.2 Service shutting down")
    with running(container):
        booked = book(org, svc["id"], TEN, email=customer("deferred"))
        wait_for(lambda: states(container, org, booked["id"]).get("confirmation:email")
                 == "failed", timeout_s=20)
        wait_for(lambda: _jobs_done(container, org))
    [confirmation] = [m for m in container.use_cases.notifications.of_booking(
        org.id, booked["id"]) if m.kind is MessageKind.CONFIRMATION]
    assert confirmation.attempts == 3
    assert (confirmation.last_error or "").startswith("gave up after 3 attempts")
    with container.uow() as uow:
        [job] = [j for j in uow.jobs.list(org.id, JobState.FAILED)
                 if j.task == "notifications.send"]
    assert job.attempts == 3  # dead-lettered too: /readyz shows the mail server failing


def test_a_refused_recipient_fails_the_message_without_retrying(
        client: TestClient, container: Container, sink: SmtpSink) -> None:
    org, svc = setup(client)
    sink.fail_next(550, "5.1.1 No such user")
    with running(container):
        booked = book(org, svc["id"], TEN, email=customer("nobody"))
        wait_for(lambda: states(container, org, booked["id"]).get("confirmation:email") == "failed")
    [confirmation] = [m for m in container.use_cases.notifications.of_booking(
        org.id, booked["id"]) if m.kind is MessageKind.CONFIRMATION]
    assert confirmation.attempts == 1
    assert "550" in (confirmation.last_error or "")


def test_text_messages_go_out_through_twilio_when_the_service_asks_for_them(
        client: TestClient, container: Container, sink: SmtpSink, twilio: FakeTwilio) -> None:
    org, svc = setup(client, notifications={"sms": True})
    assert svc["notifications"] == {"reminders_min": [1440, 60], "review_after_min": 120,
                                    "sms": True}
    email = customer("texted")
    with running(container):
        booked = book(org, svc["id"], TEN, email=email,
                      customer={"name": "Ana", "email": email, "phone": "+49 151 1234 5678"})
        _wait_mails(sink, email, 1)
        wait_for(lambda: settled(container, org, booked["id"]))
    [text] = [m for m in twilio.messages if m["to"] == "+4915112345678"]
    assert "Check-up" in text["body"]
    found = container.use_cases.notifications.of_booking(org.id, booked["id"])
    [sms] = [m for m in found if m.channel is Channel.SMS and m.state is MessageState.SENT]
    assert sms.provider_id == text["sid"]
    # A review request has no text message: only e-mail rows are planned for it.
    assert {m.kind for m in found if m.channel is Channel.SMS} == {
        MessageKind.CONFIRMATION, MessageKind.REMINDER_24H, MessageKind.REMINDER_1H}


def test_without_smtp_messages_are_rendered_and_recorded_as_skipped(
        client: TestClient, database_url: str, clock: FrozenClock) -> None:
    bare = build(settings_for(database_url, None), clock=clock)
    try:
        org, svc = setup(client)
        booked = book(org, svc["id"], TEN)
        with running(bare):
            wait_for(lambda: settled(bare, org, booked["id"]))
        [confirmation] = [m for m in bare.use_cases.notifications.of_booking(
            org.id, booked["id"]) if m.kind is MessageKind.CONFIRMATION]
        assert (confirmation.state, confirmation.last_error) == (MessageState.SKIPPED, NO_SMTP)
    finally:
        bare.close()


def test_a_waitlist_offer_carries_its_link(
        client: TestClient, container: Container, sink: SmtpSink) -> None:
    org = signup(client, timezone="UTC")
    resource(org, weekly=[{"days": ["mon"], "start": "10:00", "end": "11:00"}])
    svc = service(org, name="Check-up")
    taken = book(org, svc["id"], TEN)
    email = customer("waiting")
    with running(container):
        entry = org.post("/v1/waitlist", {
            "service_id": svc["id"], "start": f"{DAY}T09:00:00Z", "end": f"{DAY}T12:00:00Z",
            "customer": {"name": "Wanda", "email": email}}).json()
        org.post(f"/v1/bookings/{taken['id']}/cancel", {})
        [offer] = _wait_mails(sink, email, 1)
    assert str(offer["Subject"]).startswith("A place is free: Check-up")
    token = container.use_cases.waitlist.offer_token(
        container.use_cases.waitlist.get(org.id, entry["id"]))
    assert f"{BASE_URL}/waitlist/{entry['id']}?token={token}" in \
        offer.get_body(("plain",)).get_content()


# The crash window: a worker killed after the SMTP server took the message and before the
# worker recorded it.

WORKER = """
import time
from slotwise.bootstrap import build
from slotwise.settings import Settings
build(Settings()).start_jobs()
print("started", flush=True)
while True:
    time.sleep(1)
"""


def test_a_worker_killed_mid_send_and_restarted_repeats_nothing(
        client: TestClient, container: Container, sink: SmtpSink, tmp_path: Path) -> None:
    org, svc = setup(client)
    email = customer("crash")
    settings = container.settings
    env = {**os.environ, "SLOTWISE_DATABASE_URL": settings.database_url,
           "SLOTWISE_NOW": T0.isoformat(), "SLOTWISE_SMTP_HOST": sink.host,
           "SLOTWISE_SMTP_PORT": str(sink.port), "SLOTWISE_MAIL_FROM": MAIL_FROM,
           "SLOTWISE_PUBLIC_BASE_URL": BASE_URL, "SLOTWISE_STUCK_JOB_AFTER_S": "5",
           "SLOTWISE_DATABASE_POOL_SIZE": "4", "SLOTWISE_LOG_JSON": "false"}
    sink.stall_next_reply()  # the server has the message; the worker never hears so
    booked = book(org, svc["id"], TEN, email=email)
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen([sys.executable, "-c", WORKER], env=env, cwd=tmp_path,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_mails(sink, email, 1)
        wait_for(lambda: states(container, org, booked["id"]).get("confirmation:email")
                 == "sending")
    finally:
        worker.kill()  # SIGKILL: no shutdown; its job stays `doing`
        worker.wait(timeout=20)
        sink.release()
        log.close()
    # Restart: the embedded worker redoes its unfinished jobs when it starts; on PostgreSQL
    # the fixer requeues a job whose worker stopped beating.
    with running(container):
        if not settings.is_sqlite:
            wait_for(lambda: _requeued(container, org), timeout_s=30)
        wait_for(lambda: states(container, org, booked["id"]).get("confirmation:email")
                 == "failed")
        time.sleep(0.5)
    assert len(mails_to(sink, email)) == 1
    [confirmation] = [m for m in container.use_cases.notifications.of_booking(
        org.id, booked["id"]) if m.kind is MessageKind.CONFIRMATION]
    assert confirmation.last_error == INTERRUPTED
    assert confirmation.attempts == 1


def _requeued(container: Container, org: Org) -> bool:
    """Whether the fixer has put the dead worker's job back (it runs every 15 s too)."""
    container.use_cases.fixer.run()
    with container.uow() as uow:
        return not uow.jobs.list(org.id, JobState.DOING)


# A calendar connection that fails: the owner hears of it.

@pytest.fixture
def calendar() -> FakeCalendar:
    return FakeCalendar()


@pytest.fixture
def with_calendar(database_url: str, clock: FrozenClock, sink: SmtpSink,
                  calendar: FakeCalendar) -> Iterator[Container]:
    # Only the organisation "Praxis Sonnenschein" of this test reaches `calendar`: on
    # PostgreSQL the worker also runs other tests' leftover calendar jobs.
    built = build(settings_for(database_url, sink), clock=clock, calendar_providers={
        "fake": lambda connection, save: calendar if connection.org_id in calendar.owners
        else FakeCalendar()})
    built.use_cases.calendar_sync.timer = clock  # busy time read on the test's clock too
    yield built
    built.close()


def connected(container: Container, calendar: FakeCalendar
              ) -> tuple[Org, CalendarConnection]:
    """An organisation whose resource "Dr. Ng" has a calendar read once, successfully."""
    org = signup(TestClient(create_app(container.use_cases)), timezone="Europe/Berlin",
                 name="Praxis Sonnenschein")
    calendar.owners.add(org.id)
    practitioner = resource(org, name="Dr. Ng")
    connection = container.use_cases.calendars.connect(
        Principal(org_id=org.id, user_id="usr_test", role=Role.OWNER),
        ConnectionFields(resource_id=practitioner["id"], provider="fake",
                         calendar_id="primary"))
    assert container.use_cases.calendar_sync.sync(org.id, connection.id) is not None
    return org, connection


def calendar_messages(container: Container, org: Org, connection: CalendarConnection
                      ) -> list[tuple[str, str, str | None]]:
    """(kind, state, last error) of the connection's messages, by the failure they tell."""
    found = container.use_cases.notifications.of_booking(org.id, connection.id)
    return [(m.kind.value, m.state.value, m.last_error)
            for m in sorted(found, key=lambda m: m.sequence)]


def test_a_calendar_refusing_its_credentials_tells_the_owner_once(
        with_calendar: Container, calendar: FakeCalendar, sink: SmtpSink) -> None:
    container = with_calendar
    org, connection = connected(container, calendar)
    calendar.fail_with(CalendarAuthError("invalid_grant"))
    failed = container.use_cases.calendar_sync.sync(org.id, connection.id)
    assert failed is not None and failed.status.value == "auth_failed"
    with running(container):
        [alert] = _wait_mails(sink, org.email, 1)
        wait_for(lambda: calendar_messages(container, org, connection)
                 == [("calendar_failed", "sent", None)])
        # Failing again is the same failure: nothing more to tell.
        container.use_cases.calendar_sync.sync(org.id, connection.id)
        while container.use_cases.relay():
            pass
        time.sleep(0.5)
    assert len(mails_to(sink, org.email)) == 1
    assert str(alert["Subject"]) == "Calendar not syncing: primary (Dr. Ng)"
    text = " ".join(alert.get_body(("plain",)).get_content().split())
    assert "The calendar no longer accepts slotwise’s access: reconnect it." in text
    assert "CalendarAuthError: invalid_grant" in text
    # Busy time last read at T0, 13:00 in Berlin.
    assert "keeps the busy time it last read (Monday, March 1, 2027, 1:00 PM GMT+01:00)" in text
    assert "nothing is opened up for booking" in text
    assert "/manage/" not in text and BASE_URL not in text
    assert alert.get_body(("html",)) is not None

    # The event relayed again (a relay that crashed before marking it) plans nothing new.
    with container.uow(write=True) as uow:
        [event] = [e for e in uow.outbox.for_aggregate(org.id, connection.id)
                   if e.type == events.CALENDAR_FAILED]
        NotificationReactor().react(uow, event, T0)
        uow.commit()
    assert calendar_messages(container, org, connection) == [("calendar_failed", "sent", None)]


def test_a_calendar_working_again_before_the_alert_goes_out_is_not_told(
        with_calendar: Container, calendar: FakeCalendar, sink: SmtpSink) -> None:
    container = with_calendar
    org, connection = connected(container, calendar)
    calendar.fail_with(CalendarAuthError("invalid_grant"))
    container.use_cases.calendar_sync.sync(org.id, connection.id)
    while container.use_cases.relay():
        pass
    assert calendar_messages(container, org, connection) == [
        ("calendar_failed", "queued", None)]
    calendar.fail_with(None)
    healed = container.use_cases.calendar_sync.sync(org.id, connection.id)
    assert healed is not None and healed.status.value == "ok"
    with running(container):
        wait_for(lambda: calendar_messages(container, org, connection)
                 == [("calendar_failed", "dropped", "the calendar connection works again")])
        time.sleep(0.3)
    assert mails_to(sink, org.email) == []


def test_a_calendar_failing_again_before_the_alert_goes_out_is_told_once(
        with_calendar: Container, calendar: FakeCalendar, sink: SmtpSink) -> None:
    container = with_calendar
    org, connection = connected(container, calendar)
    for _ in range(2):  # fails, works again, fails again: two events, one e-mail
        calendar.fail_with(CalendarAuthError("invalid_grant"))
        container.use_cases.calendar_sync.sync(org.id, connection.id)
        calendar.fail_with(None)
        container.use_cases.calendar_sync.sync(org.id, connection.id)
    calendar.fail_with(CalendarAuthError("invalid_grant"))
    container.use_cases.calendar_sync.sync(org.id, connection.id)
    with running(container):
        _wait_mails(sink, org.email, 1)
        wait_for(lambda: {state for _, state, _ in calendar_messages(
            container, org, connection)} == {"dropped", "sent"})
        time.sleep(0.3)
    assert len(mails_to(sink, org.email)) == 1
    told = calendar_messages(container, org, connection)
    assert [state for _, state, _ in told] == ["dropped", "dropped", "sent"]
    assert told[0][2] == "superseded: the calendar connection failed again since"
