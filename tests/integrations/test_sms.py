"""TwilioSms against a local server shaped like Twilio's Messages API."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator

import pytest

from slotwise.domain.notifications import (
    DeliveryRejected,
    DeliveryUnavailable,
    MessageKind,
    Sms,
    message_key,
)
from slotwise.integrations.messages import render_sms
from slotwise.integrations.sms import IDEMPOTENCY_HEADER, TwilioSms
from slotwise.testing.fakes.twilio import FakeTwilio, segments

TO = "+4915112345678"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as twilio:
        yield twilio


def sender_for(twilio: FakeTwilio, **options) -> TwilioSms:
    fields = {"account_sid": twilio.account_sid, "auth_token": twilio.auth_token,
              "from_number": twilio.from_number, "api_base": twilio.base_url, "timeout_s": 5,
              **options}
    return TwilioSms(**fields)


def test_a_text_is_created_and_its_sid_returned(twilio):
    with sender_for(twilio) as sms:
        sid = sms.send(Sms(to=TO, body="Your booking is confirmed."), "bk_1:confirmation:0")

    assert sid.startswith("SM")
    assert len(sid) == 34
    [message] = twilio.messages
    assert message["sid"] == sid
    assert message["status"] == "queued"
    assert (message["to"], message["from"], message["body"]) == (
        TO, twilio.from_number, "Your booking is confirmed.")
    [request] = twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    credentials = base64.b64encode(f"{twilio.account_sid}:{twilio.auth_token}".encode())
    assert request.headers["authorization"] == f"Basic {credentials.decode()}"
    assert request.headers[IDEMPOTENCY_HEADER.lower()] == "bk_1:confirmation:0"


def test_a_rendered_reminder_goes_out_as_rendered(twilio, make_details):
    details = make_details(locale="fr")
    text = render_sms(MessageKind.REMINDER_24H, details)
    assert text is not None

    with sender_for(twilio) as sms:
        sms.send(text, message_key(MessageKind.REMINDER_24H, details))

    assert twilio.messages[0]["body"] == (
        "Rappel de Acme Dental : Check-up le lun. 1 mars, 13:00 UTC+01:00. "
        "Gérer : https://book.example/m/tok")
    assert twilio.messages[0]["num_segments"] == "1"


def test_wrong_credentials_are_unavailable_until_an_operator_fixes_them(twilio):
    with sender_for(twilio, auth_token="wrong") as sms, \
            pytest.raises(DeliveryUnavailable) as unavailable:
        sms.send(Sms(to=TO, body="Hi"), "k")

    assert unavailable.value.code == "20003"
    assert not unavailable.value.maybe_sent
    assert twilio.messages == []


@pytest.mark.parametrize("to", ["12345", "+15005550001"])
def test_an_invalid_number_is_rejected_for_good(twilio, to):
    with sender_for(twilio) as sms, pytest.raises(DeliveryRejected) as rejected:
        sms.send(Sms(to=to, body="Hi"), "k")

    assert rejected.value.code == "21211"
    assert twilio.messages == []


def test_a_recipient_who_opted_out_is_rejected(twilio):
    with sender_for(twilio) as sms, pytest.raises(DeliveryRejected) as rejected:
        sms.send(Sms(to="+15005550004", body="Hi"), "k")

    assert rejected.value.code == "21610"


@pytest.mark.parametrize(("status", "code", "maybe_sent"), [
    (503, "20503", False),
    (429, "20429", False),
    (500, "20500", True),
])
def test_throttling_and_outages_are_retried_later(twilio, status, code, maybe_sent):
    twilio.fail_next(status)

    with sender_for(twilio) as sms:
        with pytest.raises(DeliveryUnavailable) as unavailable:
            sms.send(Sms(to=TO, body="Hi"), "k")
        assert unavailable.value.code == code
        assert unavailable.value.maybe_sent is maybe_sent

        sms.send(Sms(to=TO, body="Hi"), "k")  # the retry goes through

    assert len(twilio.messages) == 1


def test_a_retry_carries_the_same_idempotency_token(twilio):
    twilio.fail_next(503)
    with sender_for(twilio) as sms:
        with pytest.raises(DeliveryUnavailable):
            sms.send(Sms(to=TO, body="Hi"), "bk_1:reminder_1h:0")
        sms.send(Sms(to=TO, body="Hi"), "bk_1:reminder_1h:0")

    tokens = [r.headers[IDEMPOTENCY_HEADER.lower()] for r in twilio.requests]
    assert tokens == ["bk_1:reminder_1h:0"] * 2


def test_a_server_that_honours_the_token_sends_one_text_for_two_calls():
    with FakeTwilio(honour_idempotency_token=True) as twilio, sender_for(twilio) as sms:
        first = sms.send(Sms(to=TO, body="Hi"), "bk_1:confirmation:0")
        again = sms.send(Sms(to=TO, body="Hi"), "bk_1:confirmation:0")
        other = sms.send(Sms(to=TO, body="Hi"), "bk_1:confirmation:1")

        assert first == again != other
        assert len(twilio.messages) == 2


def test_an_unreachable_api_is_unavailable_and_nothing_was_sent():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sms = TwilioSms("AC" + "0" * 32, "token", "+15005550006",
                    api_base=f"http://127.0.0.1:{port}", timeout_s=2)

    with sms, pytest.raises(DeliveryUnavailable) as unavailable:
        sms.send(Sms(to=TO, body="Hi"), "k")

    assert not unavailable.value.maybe_sent


@pytest.mark.parametrize(("body", "parts"), [
    ("a" * 160, 1),
    ("a" * 161, 2),
    ("Grüße: ä ö ü ß é", 1),
    ("€" * 80, 1),  # two septets each: 160
    ("ç" * 70, 1),  # not in GSM-7 (only Ç is): UCS-2
    ("ç" * 71, 2),
])
def test_the_fake_counts_segments_as_twilio_bills_them(body, parts):
    assert segments(body) == parts
