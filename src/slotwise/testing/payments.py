"""Helpers for tests of the payment flow: settings that point Stripe at a `FakeStripe`, a
real job worker for a container, webhook deliveries signed as Stripe signs them.

    with FakeStripe() as fake:
        container = build(Settings(**stripe_settings(fake), ...), clock=clock)
        with running_jobs(container):
            booking = wait_for(lambda: client_secret_of(...))
            body = fake.succeed(intent_id(booking))
            deliver(client, fake, body)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

import httpx

from slotwise.bootstrap import Container, Worker
from slotwise.testing.fakes.stripe import FakeStripe
from slotwise.testing.workers import running
from slotwise.worker.tasks import registry

T = TypeVar("T")

WEBHOOK = "/v1/payments/stripe/webhook"


def stripe_settings(fake: FakeStripe) -> dict[str, Any]:
    return {"stripe_api_key": fake.api_key, "stripe_webhook_secret": fake.webhook_secret,
            "stripe_api_base": fake.url}


@contextmanager
def running_jobs(container: Container, *, backoff_s: int = 1) -> Iterator[Worker]:
    """The container's real job registry (payments, lifecycle, the outbox relay) run by the
    engine its database uses, until the block ends."""
    jobs = registry(container.use_cases, max_attempts=3, backoff_s=backoff_s,
                    settle_after=timedelta(days=365))
    with running(container, jobs) as worker:
        yield worker


def wait_for(probe: Callable[[], T | None], timeout_s: float = 20) -> T:
    """Poll ``probe`` until it answers something truthy, and return that."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def deliver(client: httpx.Client, fake: FakeStripe, body: bytes, *,
            secret: str | None = None) -> httpx.Response:
    """POST a webhook body to the app as Stripe would, signed with the endpoint's secret (or
    ``secret``)."""
    return client.post(WEBHOOK, content=body, headers=fake.headers_for(body, secret=secret))


def intent_id(payment: dict[str, Any]) -> str:
    """The PaymentIntent's id, read from the booking answer's client secret
    (``pi_…_secret_…``)."""
    secret: str = payment["client_secret"]
    return secret.split("_secret_")[0]
