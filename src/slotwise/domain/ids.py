"""Opaque, prefixed, unguessable identifiers (`bk_3f9c…`), like Stripe's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIXES = {
    "org": "org",
    "user": "usr",
    "api_key": "key",
    "session": "ses",
    "location": "loc",
    "resource": "res",
    "block": "blk",
    "service": "svc",
    "customer": "cus",
    "booking": "bk",
    "allocation": "alc",
    "hold": "hld",
    "series": "ser",
    "event": "evt",
    "fix": "fix",
    "audit": "aud",
    "waitlist": "wl",
    "payment": "pay",
    "refund": "rfd",
    "message": "msg",
    "webhook": "we",
    "delivery": "whd",
    "calendar": "cal",
    "feed": "icf",
    "conflict": "cf",
}


def new_id(kind: str) -> str:
    return f"{PREFIXES[kind]}_{secrets.token_hex(12)}"


def new_secret(prefix: str) -> str:
    """A bearer secret: shown once, stored only as a hash."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def derived_secret(key: bytes, prefix: str, subject: str) -> str:
    """A bearer secret recomputable from `subject` by whoever holds `key` (so a job can put
    the customer's link into an e-mail later), stored like any other only as a digest."""
    mac = hmac.new(key, subject.encode(), hashlib.sha256).digest()
    return f"{prefix}_{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def digest(secret: str) -> str:
    """How bearer secrets are stored: high-entropy, so a plain SHA-256 is the right hash."""
    return hashlib.sha256(secret.encode()).hexdigest()
