"""Webhook signatures (sign/verify) and the signed poster against a local receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from datetime import UTC, datetime, timedelta

import pytest

from slotwise.app.clock import FrozenClock
from slotwise.domain.notifications import DeliveryRejected, DeliveryUnavailable
from slotwise.integrations.webhooks import (
    SIGNATURE_HEADER,
    HttpWebhookPoster,
    InvalidSignature,
    sign,
    signature_header,
    verify,
)
from slotwise.testing.fakes.webhook_receiver import WebhookReceiver

SECRET = "whsec_test_3f9c"
T = 1_803_902_400  # 2027-03-01 12:00 UTC, in unix seconds
BODY = json.dumps({"type": "booking.confirmed", "data": {"id": "bk_1"}}).encode()


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()

    assert sign(SECRET, T, BODY) == expected
    assert signature_header(SECRET, T, BODY) == f"t={T},v1={expected}"


def test_a_fresh_signature_of_the_body_verifies():
    verify(SECRET, signature_header(SECRET, T, BODY), BODY, now=T + 299)


def test_a_tampered_body_is_refused():
    header = signature_header(SECRET, T, BODY)

    with pytest.raises(InvalidSignature, match="no signature matches"):
        verify(SECRET, header, BODY.replace(b"bk_1", b"bk_2"), now=T)


def test_another_secret_is_refused():
    with pytest.raises(InvalidSignature, match="no signature matches"):
        verify("whsec_other", signature_header(SECRET, T, BODY), BODY, now=T)


@pytest.mark.parametrize("now", [T + 301, T - 301])
def test_a_stale_or_future_timestamp_is_refused(now):
    with pytest.raises(InvalidSignature, match="more than 300 s"):
        verify(SECRET, signature_header(SECRET, T, BODY), BODY, now=now)


def test_the_tolerance_can_be_narrowed():
    with pytest.raises(InvalidSignature):
        verify(SECRET, signature_header(SECRET, T, BODY), BODY, now=T + 31, tolerance_s=30)


def test_a_replayed_timestamp_with_the_old_signature_is_refused():
    # Moving t forward to look fresh breaks the signature: t is signed too.
    old = sign(SECRET, T, BODY)

    with pytest.raises(InvalidSignature, match="no signature matches"):
        verify(SECRET, f"t={T + 3600},v1={old}", BODY, now=T + 3600)


@pytest.mark.parametrize("header", [
    "", "t=abc,v1=00", f"v1={'0' * 64}", f"t={T}", f"t={T},v0=00", f"t={T},v1=ünïcode",
])
def test_a_malformed_header_is_refused_not_crashed_on(header):
    with pytest.raises(InvalidSignature):
        verify(SECRET, header, BODY, now=T)


def test_any_of_several_signatures_may_match_while_a_secret_rolls_over():
    header = f"{signature_header('whsec_old', T, BODY)},v1={sign(SECRET, T, BODY)}"

    verify(SECRET, header, BODY, now=T)
    verify("whsec_old", header, BODY, now=T)


def test_the_poster_signs_each_attempt_and_returns_each_status():
    clock = FrozenClock(datetime(2027, 3, 1, 12, 0, tzinfo=UTC))
    with WebhookReceiver(statuses=[500, 500, 200]) as receiver, \
            HttpWebhookPoster(timeout_s=5, clock=clock) as poster:
        statuses = []
        for _ in range(3):
            statuses.append(poster.post(receiver.url("/hooks/slotwise"), BODY,
                                        {"Slotwise-Event-Id": "evt_1"}, secret=SECRET))
            clock.advance(timedelta(minutes=10))
        received = receiver.wait_for(3)

    assert statuses == [500, 500, 200]
    timestamps = []
    for webhook in received:
        assert webhook.method == "POST"
        assert webhook.path == "/hooks/slotwise"
        assert webhook.body == BODY
        assert webhook.headers["content-type"] == "application/json"
        assert webhook.headers["slotwise-event-id"] == "evt_1"
        header = webhook.headers[SIGNATURE_HEADER.lower()]
        timestamp = int(header.split(",")[0].removeprefix("t="))
        verify(SECRET, header, webhook.body, now=timestamp)
        timestamps.append(timestamp)
    # Signed when sent: a retry ten minutes later is not refused as stale.
    assert timestamps == [T, T + 600, T + 1200]


def test_the_caller_cannot_override_the_signature():
    with WebhookReceiver() as receiver, HttpWebhookPoster() as poster:
        poster.post(receiver.url(), BODY, {SIGNATURE_HEADER: "t=1,v1=forged"}, secret=SECRET)
        [webhook] = receiver.wait_for(1)

    assert webhook.headers[SIGNATURE_HEADER.lower()] != "t=1,v1=forged"


def test_a_redirect_is_the_answer_not_a_new_target():
    with WebhookReceiver(statuses=[302]) as receiver, HttpWebhookPoster() as poster:
        assert poster.post(receiver.url(), BODY, {}, secret=SECRET) == 302
        assert len(receiver.received) == 1


def test_a_receiver_too_slow_to_answer_is_unavailable_and_may_have_it():
    with WebhookReceiver(delay_s=1) as receiver, HttpWebhookPoster(timeout_s=0.2) as poster:
        with pytest.raises(DeliveryUnavailable) as unavailable:
            poster.post(receiver.url(), BODY, {}, secret=SECRET)

        assert unavailable.value.maybe_sent
        assert len(receiver.wait_for(1)) == 1


def test_an_unreachable_receiver_is_unavailable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with HttpWebhookPoster(timeout_s=2) as poster, \
            pytest.raises(DeliveryUnavailable) as unavailable:
        poster.post(f"http://127.0.0.1:{port}/hooks", BODY, {}, secret=SECRET)

    assert not unavailable.value.maybe_sent


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "file:///etc/passwd", "/hooks"])
def test_a_url_that_is_not_http_is_rejected_for_good(url):
    with HttpWebhookPoster() as poster, pytest.raises(DeliveryRejected):
        poster.post(url, BODY, {}, secret=SECRET)


def test_posting_unsigned_is_a_programming_error():
    with HttpWebhookPoster() as poster, pytest.raises(ValueError, match="signing secret"):
        poster.post("https://example.com/hook", BODY, {}, secret="")
