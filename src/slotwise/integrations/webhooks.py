"""Signed outgoing webhooks: the `WebhookPoster` port over httpx, and the signature scheme.

Every POST carries `Slotwise-Signature: t=<unix seconds>,v1=<hex>`, where the hex is
HMAC-SHA256 with the endpoint's secret over `f"{t}.".encode() + body` — the raw body, byte for
byte, as Stripe does it. A subscriber recomputes it (`verify` below) and refuses a signature
older than a few minutes, so a captured request cannot be replayed later. The poster signs at
the moment of sending, so every retry carries a fresh timestamp.

    import time
    from slotwise.integrations.webhooks import InvalidSignature, verify

    try:
        verify(secret, request.headers["Slotwise-Signature"], raw_body, now=time.time())
    except InvalidSignature:
        return 400

More than one `v1=` may appear (a verifier accepts any), which leaves room to roll a secret
over by signing with the old and the new one for a while.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from types import TracebackType

import httpx

from slotwise.domain.notifications import DeliveryRejected, DeliveryUnavailable
from slotwise.domain.ports import Clock

SIGNATURE_HEADER = "Slotwise-Signature"
USER_AGENT = "slotwise-webhooks/1"


class InvalidSignature(ValueError):
    """The signature header is missing parts, does not match the body, or is too old."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over `f"{timestamp}.".encode() + body`, hex."""
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance_s: int = 300) -> None:
    """Return if `header` signs `body` with `secret` within `tolerance_s` of `now` (unix
    seconds, either side); raise `InvalidSignature` otherwise."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise InvalidSignature("the timestamp is not a number") from None
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidSignature("expected t=<unix seconds>,v1=<hex>")
    expected = sign(secret, timestamp, body).encode()
    matched = False
    for candidate in signatures:
        # Constant time, and bytes: compare_digest refuses a str that is not ASCII.
        matched |= hmac.compare_digest(expected, candidate.encode())
    if not matched:
        raise InvalidSignature("no signature matches the body")
    if abs(now - timestamp) > tolerance_s:
        raise InvalidSignature(f"the signature is more than {tolerance_s} s from now")


class HttpWebhookPoster:
    """POSTs JSON bodies, signed; returns the status without reading the answer's body and
    without following redirects (a subscriber's 3xx is its answer, not a new target)."""

    def __init__(self, timeout_s: float = 5, client: httpx.Client | None = None, *,
                 clock: Clock | None = None) -> None:
        self._timeout = httpx.Timeout(timeout_s)
        self._owns_client = client is None
        self._client = client or httpx.Client()
        self._clock = clock

    def post(self, url: str, body: bytes, headers: Mapping[str, str], *, secret: str) -> int:
        if not secret:
            raise ValueError("a webhook needs a signing secret")
        if not url.lower().startswith(("https://", "http://")):
            raise DeliveryRejected(f"not an http(s) URL: {url!r}")
        now = self._clock.now() if self._clock else datetime.now(UTC)
        sent_headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **headers,
            SIGNATURE_HEADER: signature_header(secret, int(now.timestamp()), body),
        }
        try:
            with self._client.stream("POST", url, content=body, headers=sent_headers,
                                     timeout=self._timeout, follow_redirects=False) as response:
                return response.status_code
        except httpx.InvalidURL as exc:
            raise DeliveryRejected(f"invalid URL {url!r}: {exc}") from exc
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise DeliveryUnavailable(f"{url}: unreachable: {exc!r}") from exc
        except httpx.TransportError as exc:
            raise DeliveryUnavailable(f"{url}: no answer: {exc!r}", maybe_sent=True) from exc

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> HttpWebhookPoster:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
