"""Meeting links for online services: the port, what it takes and gives, and how it fails.

An online service's booking confirms only once its meeting exists. Adapters translate every
vendor failure at the boundary into one of two answers, keeping the cause (`__cause__`):

    MeetingError
    ├── MeetingUnavailable   transient (network, timeout, 5xx, 429): retry later
    └── MeetingRejected      permanent (bad credentials, refused input, malformed answer)
        └── MeetingGone      the provider no longer knows the meeting (on update)

Anything else escaping an adapter is a bug, not an outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True, slots=True)
class MeetingRequest:
    """What a booking asks of a provider: [start, end) as aware UTC instants; `timezone` is the
    IANA zone the provider shows times in (the booking's, for invitations)."""

    booking_id: str
    title: str
    start: datetime
    end: datetime
    timezone: str
    host_email: str | None
    attendee_emails: tuple[str, ...]
    description: str | None = None

    def __post_init__(self) -> None:
        for name, instant in (("start", self.start), ("end", self.end)):
            if instant.utcoffset() != timedelta(0):
                raise ValueError(f"{name} must be an aware UTC datetime, got {instant!r}")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if not self.booking_id:
            raise ValueError("booking_id must not be empty")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA zone {self.timezone!r}") from exc

    @property
    def duration_min(self) -> int:
        """Whole minutes, rounded up: providers take minutes and must not cut the end short."""
        return -(-int((self.end - self.start).total_seconds()) // 60)

    @property
    def idempotency_key(self) -> str:
        """The key a create is deduplicated by: the booking and its start. A retry of the same
        create shares it; a create after a reschedule does not, so a provider that replays
        stored answers never hands back a meeting deleted since at the old time."""
        return f"{self.booking_id}@{self.start:%Y%m%dT%H%M%SZ}"


@dataclass(frozen=True, slots=True)
class Meeting:
    """A meeting that exists at `provider`. `host_url` starts it as host (Zoom's `start_url`):
    a credential, never shown to attendees nor logged. `data` is the provider's own,
    JSON-serialisable; only the adapter that wrote it reads it."""

    provider: str
    external_id: str
    join_url: str
    host_url: str | None = None
    passcode: str | None = None
    # Excluded from the hash: a dict is unhashable, and identity is (provider, external_id).
    data: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict for a JSON column; `from_json` reads it back equal."""
        return {
            "provider": self.provider,
            "external_id": self.external_id,
            "join_url": self.join_url,
            "host_url": self.host_url,
            "passcode": self.passcode,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Meeting:
        """Raises ValueError when `value` is not what `to_json` writes."""
        try:
            meeting = cls(
                provider=value["provider"], external_id=value["external_id"],
                join_url=value["join_url"], host_url=value.get("host_url"),
                passcode=value.get("passcode"), data=dict(value.get("data") or {}),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a stored meeting: {exc}") from exc
        required = (meeting.provider, meeting.external_id, meeting.join_url)
        optional = (meeting.host_url, meeting.passcode)
        if not all(isinstance(v, str) and v for v in required) or not all(
            v is None or isinstance(v, str) for v in optional
        ):
            raise ValueError("not a stored meeting: wrong field types")
        return meeting


class MeetingError(Exception):
    """Base of every failure a `MeetingProvider` reports."""


class MeetingUnavailable(MeetingError):
    """Transient: the provider could not answer now. Retry, not before `retry_after_s` when the
    provider said how long to wait (None: the caller's own backoff)."""

    def __init__(self, detail: str, retry_after_s: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class MeetingRejected(MeetingError):
    """Permanent: the same call will fail again (credentials, refused input, an answer that is
    not a meeting). Do not retry; fail the booking closed and tell an operator."""

    def __init__(self, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.status = status


class MeetingGone(MeetingRejected):
    """The provider does not know the meeting any more (deleted on its side). Updating it is
    pointless; a caller may `create` a new one instead."""


class MeetingProvider(Protocol):
    """Creates, moves and removes the meeting of one booking. Calls are synchronous and bounded
    by the adapter's timeout; each raises `MeetingUnavailable` or `MeetingRejected` only."""

    name: str

    def create(self, request: MeetingRequest) -> Meeting:
        """A new meeting for `request.booking_id`.

        Idempotency: the adapter sends `request.idempotency_key` (booking id and start) where
        the provider supports one, so a retry after an answer was lost returns the same
        meeting. Where the provider ignores it (Zoom does), a second call creates a second
        meeting and the first is left behind: callers store the returned `Meeting` before
        anything else and, holding one, call `update` rather than `create`. Providers without
        a server side (Jitsi) mint a new link on each call.
        """
        ...

    def update(self, meeting: Meeting, request: MeetingRequest) -> Meeting:
        """Move `meeting` to the request's times and title (a reschedule), keeping its link where
        the provider allows. Returns the meeting as it now is, which may differ (store it).

        Idempotency: the same update twice leaves the same meeting. Raises `MeetingGone` when
        the provider no longer knows the meeting.
        """
        ...

    def delete(self, meeting: Meeting) -> None:
        """Remove the meeting. Idempotent: a meeting that is already gone is success."""
        ...
