"""SmtpMailer against a real SMTP server (aiosmtpd on a local port)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from icalendar import Calendar

from slotwise.domain.notifications import (
    DeliveryRejected,
    DeliveryUnavailable,
    Email,
    MessageKind,
    message_key,
)
from slotwise.integrations.email import IDEMPOTENCY_HEADER, SmtpMailer
from slotwise.integrations.messages import render_email
from slotwise.testing.smtp import SmtpSink

SENDER = "bookings@slotwise.example"
NOW = datetime(2027, 2, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def mailer_for(sink: SmtpSink, **options) -> SmtpMailer:
    return SmtpMailer(sink.host, sink.port, sender=SENDER, timeout_s=5, **options)


def plain_email(**overrides) -> Email:
    fields = {"to": "ana@example.com", "subject": "Hello", "text": "Hi.\n",
              "html": "<p>Hi.</p>", **overrides}
    return Email(**fields)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens on it any more


def structure(message: EmailMessage) -> list[tuple[int, str]]:
    def walk(part: EmailMessage, depth: int) -> Iterator[tuple[int, str]]:
        yield depth, part.get_content_type()
        if part.is_multipart():
            for child in part.iter_parts():
                yield from walk(child, depth + 1)
    return list(walk(message, 0))


def test_a_confirmation_arrives_with_text_html_and_an_invitation(sink, make_details):
    details = make_details(locale="de")
    email = render_email(MessageKind.CONFIRMATION, details, now=NOW)
    key = message_key(MessageKind.CONFIRMATION, details)

    mailer_for(sink).send(email, key)

    [message] = sink.wait_for(1)
    assert structure(message) == [
        (0, "multipart/mixed"),
        (1, "multipart/alternative"),
        (2, "text/plain"),
        (2, "text/html"),
        (2, "text/calendar"),
        (1, "application/ics"),
    ]
    assert sink.envelopes[0].mail_from == SENDER
    assert sink.envelopes[0].rcpt_tos == ("ana@example.com",)
    assert message["Subject"] == email.subject
    assert message["From"].addresses[0].display_name == "Acme Dental"
    assert message["From"].addresses[0].addr_spec == SENDER
    assert message["To"].addresses[0].display_name == "Ana Müller"
    assert message["Reply-To"] == "hello@acme.example"
    assert message["Message-ID"] == "<bk_0123456789abcdef01234567.confirmation.0@acme.example>"
    assert message[IDEMPOTENCY_HEADER] == key
    assert message["Auto-Submitted"] == "auto-generated"

    body = message.get_body(("plain",))
    assert body is not None
    assert "Ihre Buchung bei Acme Dental ist bestätigt." in body.get_content()
    html = message.get_body(("html",))
    assert html is not None
    assert "Guten Tag Ana Müller," in html.get_content()

    [alternative] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    [attachment] = [p for p in message.walk() if p.get_content_type() == "application/ics"]
    # What Outlook and Gmail read: an inline alternative whose method matches the METHOD.
    assert alternative.get_content_disposition() is None
    assert alternative.get_param("method") == "REQUEST"
    # Unquoted on the wire, as Google Calendar and Exchange write it.
    assert b'Content-Type: text/calendar; charset="utf-8"; method=REQUEST\r\n' in sink.raw[0]
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "invite.ics"
    invite = email.attachments[0].content
    assert alternative.get_content().encode() == invite
    assert attachment.get_content() == invite
    [event] = Calendar.from_ical(invite).walk("VEVENT")
    assert str(event["UID"]) == "bk_0123456789abcdef01234567@slotwise"


def test_a_cancellation_carries_method_cancel(sink, make_details):
    email = render_email(MessageKind.CANCELLATION, make_details(sequence=1), now=NOW)

    mailer_for(sink).send(email, "k")

    [message] = sink.wait_for(1)
    [calendar_part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert calendar_part.get_param("method") == "CANCEL"
    assert Calendar.from_ical(calendar_part.get_content())["METHOD"] == "CANCEL"


def test_a_message_without_attachments_is_just_text_and_html(sink):
    mailer_for(sink).send(plain_email(), "k")

    [message] = sink.wait_for(1)
    assert structure(message) == [(0, "multipart/alternative"), (1, "text/plain"),
                                  (1, "text/html")]


def test_without_a_message_id_the_key_makes_one_and_a_retry_reuses_it(sink):
    mailer = mailer_for(sink)
    mailer.send(plain_email(), "bk_1:reminder_24h:0")
    mailer.send(plain_email(), "bk_1:reminder_24h:0")
    mailer.send(plain_email(), "bk_1:reminder_1h:0")

    first, retry, other = sink.wait_for(3)
    assert first["Message-ID"] == retry["Message-ID"]
    assert first["Message-ID"].endswith("@slotwise.example>")
    assert other["Message-ID"] != first["Message-ID"]


def test_a_line_break_in_a_name_or_subject_cannot_inject_headers(sink):
    email = plain_email(subject="Hi\r\nBcc: victim@example.com", to_name="Ana\nBcc: x@y.z")

    mailer_for(sink).send(email, "k")

    [message] = sink.wait_for(1)
    assert message["Bcc"] is None
    assert sink.envelopes[0].rcpt_tos == ("ana@example.com",)


def test_a_refused_recipient_is_rejected_for_good(sink):
    sink.fail_next(550, "5.1.1 No such user")

    with pytest.raises(DeliveryRejected) as refused:
        mailer_for(sink).send(plain_email(), "k")

    assert refused.value.code == "550"
    assert "No such user" in refused.value.detail
    mailer_for(sink).send(plain_email(), "k")  # the failure was for one message only
    assert len(sink.wait_for(1)) == 1


def test_a_greylisted_recipient_is_retried_later(sink):
    sink.fail_next(450, "4.2.0 Greylisted, try again later")

    with pytest.raises(DeliveryUnavailable) as unavailable:
        mailer_for(sink).send(plain_email(), "k")

    assert unavailable.value.code == "450"
    assert not unavailable.value.maybe_sent


@pytest.mark.parametrize(("code", "error"), [
    (554, DeliveryRejected),
    (451, DeliveryUnavailable),
])
def test_a_message_refused_after_data_follows_the_reply_class(sink, code, error):
    sink.fail_next(code, "refused", stage="data")

    with pytest.raises(error):
        mailer_for(sink).send(plain_email(), "k")
    assert sink.messages == []


def test_our_sender_refused_is_for_an_operator_to_fix_not_a_lost_message(sink):
    sink.fail_next(553, "5.7.1 Sender address rejected", stage="mail")

    with pytest.raises(DeliveryUnavailable) as unavailable:
        mailer_for(sink).send(plain_email(), "k")

    assert unavailable.value.code == "553"


def test_a_server_that_is_down_is_unavailable():
    mailer = SmtpMailer("127.0.0.1", closed_port(), sender=SENDER, timeout_s=2)

    with pytest.raises(DeliveryUnavailable) as unavailable:
        mailer.send(plain_email(), "k")

    assert not unavailable.value.maybe_sent
    assert isinstance(unavailable.value.__cause__, OSError)


def test_a_malformed_recipient_is_rejected_before_connecting(sink):
    with pytest.raises(DeliveryRejected):
        mailer_for(sink).send(plain_email(to="not an address"), "k")


def test_login_with_the_right_credentials_delivers():
    with SmtpSink(credentials=("mailer", "s3cret")) as sink:
        mailer_for(sink, username="mailer", password="s3cret").send(plain_email(), "k")

        assert len(sink.wait_for(1)) == 1


@pytest.mark.parametrize(("options", "code"), [
    ({"username": "mailer", "password": "wrong"}, "535"),
    ({}, "530"),
])
def test_bad_or_missing_credentials_are_unavailable_until_fixed(options, code):
    with SmtpSink(credentials=("mailer", "s3cret")) as sink:
        with pytest.raises(DeliveryUnavailable) as unavailable:
            mailer_for(sink, **options).send(plain_email(), "k")

        assert unavailable.value.code == code
        assert sink.messages == []


def test_tls_settings_that_contradict_each_other_are_refused():
    with pytest.raises(ValueError, match="not both"):
        SmtpMailer("localhost", 465, sender=SENDER, starttls=True, use_ssl=True)
