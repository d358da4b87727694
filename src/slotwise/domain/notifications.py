"""Notifications: what a message says, and the ports that deliver it.

The lifecycle decides which `MessageKind` goes out when; a `MessageRenderer` turns the kind and
its details into an `Email` or an `Sms`: a `BookingDetails` for a message about a booking (or
a waitlist offer), a `ConnectionDetails` for one to the organisation about a calendar
connection. `Mailer`, `SmsSender` and `WebhookPoster` deliver. Every delivery port fails
with one of two errors, so a caller needs one rule:

    DeliveryError
    ├── DeliveryUnavailable   try again later: the provider is down, slow, throttling, or
    │                         refuses our credentials (an operator can fix that; the message
    │                         is still good)
    └── DeliveryRejected      never retry: this message cannot be delivered (bad address,
                              invalid number, content refused)

`message_key` names one message (subject, kind, sequence). Senders pass it on to the provider
where the provider can use it; the lifecycle's own record of what it sent is what guarantees
a customer never gets a message twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slotwise.domain.model import Price


class MessageKind(StrEnum):
    CONFIRMATION = "confirmation"
    PENDING = "pending"  # received, awaiting payment or approval
    RESCHEDULE = "reschedule"
    CANCELLATION = "cancellation"
    REMINDER_24H = "reminder_24h"
    REMINDER_1H = "reminder_1h"
    REVIEW_REQUEST = "review_request"
    FAILED = "failed"  # the booking failed closed; `reason` says why
    WAITLIST_OFFER = "waitlist_offer"
    TEAM_FAILED = "team_failed"  # to the organisation: a booking failed closed, and why
    CALENDAR_FAILED = "calendar_failed"  # to the organisation: a calendar connection fails


# Kinds about a calendar connection (`ConnectionDetails`); every other kind is about a booking.
CONNECTION_KINDS = frozenset({MessageKind.CALENDAR_FAILED})


@dataclass(frozen=True, slots=True)
class BookingDetails:
    """Everything a message about one booking needs, as plain data.

    `start`, `end` and `offer_expires_at` are aware instants; messages show them in
    `customer_timezone` (IANA). `locale` is a BCP 47 / CLDR tag ("de", "fr-CH"); a language
    without templates falls back to English. `sequence` is the booking's iCalendar SEQUENCE:
    0 when booked, one more at every reschedule and at cancellation (RFC 5546: a CANCEL must
    carry a higher SEQUENCE than the last REQUEST). For a waitlist offer, `booking_id` is the
    waitlist entry's id and `sequence` counts the offers made to it.
    """

    booking_id: str
    org_name: str
    org_email: str  # the organizer in invites, and where replies go
    service_name: str
    start: datetime
    end: datetime
    customer_name: str
    customer_email: str
    customer_timezone: str
    locale: str
    sequence: int = 0
    customer_phone: str | None = None  # E.164
    location_name: str | None = None
    meeting_url: str | None = None
    manage_url: str | None = None
    review_url: str | None = None
    resource_names: tuple[str, ...] = ()
    reason: str | None = None  # why it failed or was cancelled
    refund: Price | None = None
    offer_url: str | None = None
    offer_expires_at: datetime | None = None
    # Someone other than the customer receives it (a message to the team about them).
    recipient_email: str | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end", "offer_expires_at"):
            instant = getattr(self, name)
            if instant is not None and instant.utcoffset() is None:
                raise ValueError(f"{name} must be an aware datetime")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.sequence < 0:
            raise ValueError("sequence must not be negative")
        try:
            ZoneInfo(self.customer_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            # Fail where the details are built, not in a worker rendering them later.
            raise ValueError(f"unknown time zone {self.customer_timezone!r}") from exc


@dataclass(frozen=True, slots=True)
class ConnectionDetails:
    """Everything a message to the organisation about one failing calendar connection needs.

    `calendar` is the calendar's name, else its id at the provider. `access_refused`: the
    provider no longer accepts our credentials (a person must reconnect); otherwise
    `last_error` says what went wrong. `last_success_at` (aware, shown in `timezone`, IANA) is
    when busy time was last read, None if never. `sequence` counts the connection's failures
    told before this one.
    """

    connection_id: str
    org_name: str
    org_email: str  # where replies go
    recipient_email: str
    resource_name: str
    provider: str
    calendar: str
    access_refused: bool
    last_error: str | None
    last_success_at: datetime | None
    timezone: str
    locale: str = "en"
    sequence: int = 0

    def __post_init__(self) -> None:
        if self.last_success_at is not None and self.last_success_at.utcoffset() is None:
            raise ValueError("last_success_at must be an aware datetime")
        if self.sequence < 0:
            raise ValueError("sequence must not be negative")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc


MessageDetails = BookingDetails | ConnectionDetails


def subject_id(details: MessageDetails) -> str:
    """The id of what the message is about: a booking, a waitlist entry, a connection."""
    if isinstance(details, ConnectionDetails):
        return details.connection_id
    return details.booking_id


def message_key(kind: MessageKind, details: MessageDetails) -> str:
    """The identity of one message: the same subject, kind and sequence are the same message.

    A reschedule raises the sequence, so its confirmation and the reminders for the new time
    are new messages. Channels share the key; a record of what was sent pairs it with one.
    """
    return f"{subject_id(details)}:{kind.value}:{details.sequence}"


class Attachment(NamedTuple):
    filename: str
    mime_type: str  # may carry parameters: "text/calendar; method=REQUEST"
    content: bytes


@dataclass(frozen=True, slots=True)
class Email:
    """One message to one recipient. `headers` are extra header fields (Message-ID, ...)."""

    to: str
    subject: str
    text: str
    html: str
    to_name: str = ""
    from_name: str = ""  # shown with the mailer's own sender address
    reply_to: str | None = None
    attachments: tuple[Attachment, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Sms:
    to: str  # E.164
    body: str


class DeliveryError(Exception):
    """`code` is the provider's own (an SMTP reply code, a Twilio error code), when known."""

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


class DeliveryUnavailable(DeliveryError):
    """Try again later. `maybe_sent`: the provider may have taken the message before failing
    (a timeout after sending, a 5xx), so a retry may deliver a second copy."""

    def __init__(self, detail: str, *, code: str | None = None, maybe_sent: bool = False
                 ) -> None:
        super().__init__(detail, code=code)
        self.maybe_sent = maybe_sent


class DeliveryRejected(DeliveryError):
    pass


class MessageRenderer(Protocol):
    def email(self, kind: MessageKind, details: MessageDetails) -> Email:
        """Raises ValueError when the details do not fit the kind (`CONNECTION_KINDS`)."""
        ...

    def sms(self, kind: MessageKind, details: BookingDetails) -> Sms | None:
        """None when the kind has no text message or the customer has no phone."""
        ...


class Mailer(Protocol):
    def send(self, email: Email, idempotency_key: str) -> None:
        """Hand the message to the mail system. Raises `DeliveryUnavailable` or
        `DeliveryRejected`; returning means the server accepted it."""
        ...


class SmsSender(Protocol):
    def send(self, sms: Sms, idempotency_key: str) -> str:
        """Send the text; returns the provider's message id. Raises as `Mailer.send`."""
        ...


class WebhookPoster(Protocol):
    def post(self, url: str, body: bytes, headers: Mapping[str, str], *, secret: str) -> int:
        """POST `body` with `headers` plus a signature made with `secret` at the moment of
        sending (so a retry hours later is not refused as stale); returns the HTTP status.
        Raises `DeliveryUnavailable` when no answer came, `DeliveryRejected` for a URL that
        can never be posted to."""
        ...
