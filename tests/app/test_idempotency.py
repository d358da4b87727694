"""Idempotency records: replay, mismatch, in-flight, and recovery after a crash."""

from __future__ import annotations

from datetime import timedelta

import pytest

from slotwise.app.clock import FrozenClock
from slotwise.app.idempotency import Idempotency, request_fingerprint
from slotwise.bootstrap import Container
from slotwise.domain.errors import IdempotencyInFlight, IdempotencyMismatch
from slotwise.domain.model import IdempotencyRecord
from slotwise.store.idempotency import SqlIdempotencyStore


def test_a_claim_left_by_a_dead_process_is_taken_over(container: Container,
                                                      clock: FrozenClock) -> None:
    keys = Idempotency(SqlIdempotencyStore(container.engine), clock)
    assert keys.begin("org:crash", "k", "/v1/bookings", "body") is None  # then the process died
    with pytest.raises(IdempotencyInFlight):
        keys.begin("org:crash", "k", "/v1/bookings", "body")
    clock.advance(timedelta(seconds=61))
    assert keys.begin("org:crash", "k", "/v1/bookings", "body") is None


def test_a_finished_answer_is_replayed_for_a_day_then_forgotten(container: Container,
                                                                clock: FrozenClock) -> None:
    keys = Idempotency(SqlIdempotencyStore(container.engine), clock)
    assert keys.begin("org:day", "k", "/v1/holds", "body") is None
    keys.finish(IdempotencyRecord("org:day", "k", "/v1/holds", "body", clock.now()), 201,
                b'{"id": 1}', "application/json")
    clock.advance(timedelta(hours=23))
    replay = keys.begin("org:day", "k", "/v1/holds", "body")
    assert replay is not None and replay.status_code == 201 and replay.body == b'{"id": 1}'
    with pytest.raises(IdempotencyMismatch):
        keys.begin("org:day", "k", "/v1/holds", "other body")
    clock.advance(timedelta(hours=2))
    assert keys.begin("org:day", "k", "/v1/holds", "other body") is None


def test_a_server_error_is_not_kept(container: Container, clock: FrozenClock) -> None:
    keys = Idempotency(SqlIdempotencyStore(container.engine), clock)
    assert keys.begin("org:5xx", "k", "/v1/bookings", "body") is None
    keys.finish(IdempotencyRecord("org:5xx", "k", "/v1/bookings", "body", clock.now()), 503,
                b"{}", "application/problem+json")
    assert keys.begin("org:5xx", "k", "/v1/bookings", "body") is None


def test_a_json_body_counts_by_its_content_not_its_spacing_or_key_order() -> None:
    compact = request_fingerprint("POST", "/v1/bookings", b'{"a":1,"b":[1,2]}')
    spaced = request_fingerprint("POST", "/v1/bookings", b'{ "b": [1, 2], "a": 1 }')
    other = request_fingerprint("POST", "/v1/bookings", b'{"a":2,"b":[1,2]}')
    assert compact == spaced
    assert other != compact
    assert request_fingerprint("POST", "/x", b"not json") != request_fingerprint(
        "POST", "/x", b"not  json")
