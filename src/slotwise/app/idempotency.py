"""Idempotency keys with Stripe's semantics.

The same key with the same request replays the first answer (status and body) for at least
`retention`; with another request it is refused; while the first is still running, a second
gets "in flight". 5xx answers are not kept, so a retry after a server fault runs again.
A claim still in flight after `abandon_after` belongs to a process that died mid-request; it
is taken over, so a crash never blocks a key for the whole retention.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import replace
from datetime import datetime, timedelta

from slotwise.domain.errors import IdempotencyInFlight, IdempotencyMismatch
from slotwise.domain.model import IdempotencyRecord
from slotwise.domain.ports import Clock, IdempotencyStore


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """The request's identity for a key: a JSON body counts by its content, so a retry whose
    client spaces or orders the same JSON differently is still the same request."""
    with contextlib.suppress(ValueError):  # not JSON (or empty): its bytes are its identity
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), body])).hexdigest()


class Idempotency:
    def __init__(self, store: IdempotencyStore, clock: Clock,
                 retention: timedelta = timedelta(hours=24),
                 abandon_after: timedelta = timedelta(seconds=60)) -> None:
        self._store = store
        self._clock = clock
        self._retention = retention
        self._abandon_after = abandon_after

    def begin(self, scope: str, key: str, route: str, fingerprint: str
              ) -> IdempotencyRecord | None:
        """Claim the key; return the stored answer to replay instead, if there is one."""
        now = self._clock.now()
        claim = IdempotencyRecord(scope=scope, key=key, route=route, request_hash=fingerprint,
                                  created_at=now)
        existing = self._store.claim(claim)
        if existing is not None and self._stale(existing, now):
            self._store.forget(scope, key, route)
            existing = self._store.claim(claim)
        if existing is None:
            return None
        if existing.request_hash != fingerprint:
            raise IdempotencyMismatch(
                "this Idempotency-Key was used with a different request")
        if existing.status_code is None:
            raise IdempotencyInFlight("a request with this Idempotency-Key is still running")
        return existing

    def _stale(self, record: IdempotencyRecord, now: datetime) -> bool:
        if record.status_code is None:
            return record.created_at + self._abandon_after < now
        return record.created_at + self._retention < now

    def finish(self, record: IdempotencyRecord, status_code: int, body: bytes,
               content_type: str | None) -> None:
        if status_code >= 500:
            self.abandon(record)
            return
        self._store.complete(replace(record, status_code=status_code, body=body,
                                     content_type=content_type))

    def abandon(self, record: IdempotencyRecord) -> None:
        self._store.forget(record.scope, record.key, record.route)
