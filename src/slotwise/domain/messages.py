"""The record of every message to a customer: which, on what channel, when, and what became
of it. It is what guarantees a customer never gets the same message twice.

A row's way (`Messages.transition` moves it only from the states named, atomically):

    scheduled ──due──▶ queued ──claimed──▶ sending ──▶ sent
        │                │                    ├──▶ queued    try again later; nothing went out
        └───▶ dropped ◀──┘                    ├──▶ failed    refused for good, out of attempts,
                                              │              or perhaps delivered (never resent)
                                              └──▶ skipped   no transport configured, no text

`dropped`: a reschedule, cancellation or no-show made it pointless before it went out.
`dedupe_key` is unique: `message_key` (booking, kind, sequence) and the channel.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from slotwise.domain.model import NotificationSchedule
from slotwise.domain.notifications import MessageKind


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class MessageState(StrEnum):
    SCHEDULED = "scheduled"  # waits for its `due_at` (app clock)
    QUEUED = "queued"  # due: a send job will take it
    SENDING = "sending"  # claimed by a send job, which is handing it to the provider
    SENT = "sent"
    DROPPED = "dropped"
    FAILED = "failed"
    SKIPPED = "skipped"  # rendered, but nothing to send it with (`last_error` says why)


# States in which a message has not gone out and may still be dropped.
PENDING = (MessageState.SCHEDULED, MessageState.QUEUED)
# Kinds that only make sense while the booking stands at the time they were planned for.
FOLLOW_UPS = (MessageKind.REMINDER_24H, MessageKind.REMINDER_1H, MessageKind.REVIEW_REQUEST)
# Kinds with a text message (the templates' `sms` block); the others go by e-mail only.
SMS_KINDS = frozenset({MessageKind.CONFIRMATION, MessageKind.RESCHEDULE,
                       MessageKind.CANCELLATION, MessageKind.REMINDER_24H,
                       MessageKind.REMINDER_1H, MessageKind.FAILED,
                       MessageKind.WAITLIST_OFFER})
# A reminder this close to the start is the "starting soon" one; earlier ones the other.
SHORT_REMINDER_MAX_MIN = 90
MAX_REMINDER_MIN = 14 * 24 * 60


@dataclass(frozen=True, slots=True)
class Message:
    """One message to one customer (or the team) on one channel. `booking_id` is the
    booking's id, the waitlist entry's for a waitlist offer, or the calendar connection's for
    a calendar alert; `sequence` is the booking's iCalendar SEQUENCE when the message was
    planned (an offer's or a failure's place among the entry's offers or the connection's
    failures)."""

    id: str
    org_id: str
    booking_id: str
    kind: MessageKind
    channel: Channel
    due_at: datetime
    state: MessageState
    sequence: int
    dedupe_key: str
    created_at: datetime
    attempts: int = 0
    claim_token: str | None = None
    provider_id: str | None = None
    sent_at: datetime | None = None
    last_error: str | None = None


def dedupe_key(subject_id: str, kind: MessageKind, sequence: int, channel: Channel) -> str:
    """`notifications.message_key` of (booking, kind, sequence), and the channel."""
    return f"{subject_id}:{kind.value}:{sequence}:{channel.value}"


def reminder_kind(minutes_before: int) -> MessageKind:
    return (MessageKind.REMINDER_1H if minutes_before <= SHORT_REMINDER_MAX_MIN
            else MessageKind.REMINDER_24H)


def schedule_problem(schedule: NotificationSchedule) -> str | None:
    """Why the schedule cannot be kept, or None. Each reminder is its own kind of message
    (one message per booking, kind and sequence), so there is at most one of each."""
    reminders = schedule.reminders_min
    if any(not 1 <= m <= MAX_REMINDER_MIN for m in reminders):
        return f"reminders are between 1 and {MAX_REMINDER_MIN} minutes before the start"
    kinds = [reminder_kind(m) for m in reminders]
    if len(set(kinds)) != len(kinds):
        return (f"at most one reminder up to {SHORT_REMINDER_MAX_MIN} minutes before the "
                f"start and one earlier")
    after = schedule.review_after_min
    if after is not None and not 0 <= after <= MAX_REMINDER_MIN:
        return f"the review request goes between 0 and {MAX_REMINDER_MIN} minutes after the end"
    return None


@dataclass(frozen=True, slots=True)
class Planned:
    kind: MessageKind
    due_at: datetime


def plan_booked(first: MessageKind, start: datetime, end: datetime,
                schedule: NotificationSchedule, now: datetime) -> list[Planned]:
    """The messages a booked (or moved) booking gets: `first` now (a confirmation or a
    reschedule notice), each reminder still ahead (one already due or past is left out,
    rather than sent together with `first`), and the review request after the end (none
    when the booking is over already)."""
    planned = [Planned(first, now)]
    for minutes in sorted(set(schedule.reminders_min), reverse=True):
        due = start - timedelta(minutes=minutes)
        if due > now:
            planned.append(Planned(reminder_kind(minutes), due))
    if schedule.review_after_min is not None and end > now:
        planned.append(Planned(MessageKind.REVIEW_REQUEST,
                               end + timedelta(minutes=schedule.review_after_min)))
    return planned


_PHONE_PUNCTUATION = re.compile(r"[ ()./-]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def e164(phone: str | None) -> str | None:
    """The number in E.164 when it is written as one (spaces and punctuation allowed), else
    None: a text message needs the country code, and guessing it could reach a stranger."""
    if not phone:
        return None
    compact = _PHONE_PUNCTUATION.sub("", phone)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    return compact if _E164.fullmatch(compact) else None


class Messages(Protocol):
    def add(self, message: Message) -> bool:
        """Insert the message unless one with its `dedupe_key` exists (then False)."""
        ...

    def get(self, message_id: str) -> Message | None:
        """Any organisation's message (a job carries only the id)."""
        ...

    def of_booking(self, org_id: str, booking_id: str) -> builtins.list[Message]:
        """The booking's messages, oldest first."""
        ...

    def due(self, now: datetime, limit: int) -> builtins.list[Message]:
        """Scheduled messages of every organisation due at `now`, oldest first, locked for
        this transaction (rows another dispatcher has locked are skipped)."""
        ...

    def transition(self, message_id: str, from_states: Collection[MessageState],
                   to: MessageState, at: datetime, *, error: str | None = None,
                   claim_token: str | None = None, provider_id: str | None = None,
                   count_attempt: bool = False) -> bool:
        """Move the message to `to` if it is in one of `from_states`; False otherwise. Sets
        `sent_at` when `to` is sent; `error` becomes `last_error`; `count_attempt` adds one
        to `attempts`."""
        ...

    def drop_pending(self, org_id: str, booking_id: str, kinds: Collection[MessageKind]
                     ) -> int:
        """Drop the booking's messages of those kinds that have not gone out."""
        ...
