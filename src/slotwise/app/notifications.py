"""Messages to customers (and to the team): planned from the outbox's events, sent by jobs,
each at most once.

Planning (`NotificationReactor`, in the relay's transaction, events in order): a confirmed
booking gets its confirmation now, a reminder before the start for each of its service's
`reminders_min` still ahead, and a review request `review_after_min` after the end; a pending
one a "received" message (not when it waits only for its payment or meeting link: it is
confirmed or failed within moments); a reschedule drops the follow-ups not yet sent and
plans them again around the new time with a reschedule notice first; a cancellation,
decline, failure or no-show drops them and (but for a no-show) says so; a waitlist offer
sends its link; a calendar connection that starts failing is told to the organisation's
first owner, once per `calendar.connection_failed` event. Messages due now are `queued` with
their send job in the same transaction; later ones are `scheduled`, and the periodic
`notifications.dispatch` queues them when they come due on the app clock.

Sending (`Notifications.send`, one job per message): only a `queued` message is sent. Each
message is checked against the booking as it is now (a message planned for an older sequence
of the booking, or a reminder for a booking no longer confirmed, is dropped), rendered in the
customer's language and zone, and handed to the mailer or the SMS sender. A calendar alert is
checked against the connection (gone, working again, or failed again since: dropped).

At most once, and the crash window. The job first claims its message — `queued → sending`,
committed with the job's own claim token — then hands it to the provider, then records
`sent` in one transaction. A worker killed after the provider took the message and before
that commit leaves it `sending`; the engine runs the job again (a restarted embedded worker
redoes its unfinished jobs; the fixer requeues procrastinate's stuck ones) and the job, finding
its own claim, cannot know whether the message went out: it marks it `failed` ("may have been
delivered") and sends nothing. A job finding another job's claim leaves it alone. The price:
a crash in the same window *before* the provider took the message loses it — visibly, as
`failed` — rather than risk the customer reading it twice. `DeliveryUnavailable(maybe_sent=
True)` (a connection lost mid-transaction, Twilio's 5xx) is the same uncertainty and ends the
same way; only a failure that certainly sent nothing goes back to `queued`, and the job raises
so the engine retries it with backoff, until the attempts run out (`failed`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from slotwise.app.meetings import MEETING
from slotwise.app.payment_state import PAYMENT
from slotwise.domain import events
from slotwise.domain.booking import Booking, BookingStatus
from slotwise.domain.calendars import ConnectionStatus
from slotwise.domain.ids import new_id
from slotwise.domain.jobs import JobSpec
from slotwise.domain.messages import (
    FOLLOW_UPS,
    SMS_KINDS,
    Channel,
    Message,
    MessageState,
    Planned,
    dedupe_key,
    e164,
    plan_booked,
)
from slotwise.domain.model import NotificationSchedule, OutboxEvent, Price
from slotwise.domain.notifications import (
    BookingDetails,
    ConnectionDetails,
    DeliveryRejected,
    DeliveryUnavailable,
    Email,
    Mailer,
    MessageDetails,
    MessageKind,
    MessageRenderer,
    Sms,
    SmsSender,
    message_key,
)
from slotwise.domain.payments import RefundStatus
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from slotwise.domain.waitlist import EntryState, WaitlistEntry

SEND_TASK = "notifications.send"
DISPATCH_TASK = "notifications.dispatch"
NO_SMTP = "no SMTP server configured (SLOTWISE_SMTP_HOST)"
NO_SMS = "no SMS provider configured (SLOTWISE_TWILIO_*)"
INTERRUPTED = ("the send was interrupted after the message was handed over: it may have been "
               "delivered, so it is not sent again")
# Gates machines open within moments (the customer is paying; a link is being made): a
# booking waiting only for them hears once it is confirmed or failed, not before.
_PROMPT_GATES = frozenset({PAYMENT, MEETING})
# Events after which the booking's reminders and review request are pointless.
_ENDS_FOLLOW_UPS = frozenset({events.BOOKING_RESCHEDULED, events.BOOKING_CANCELLED,
                              events.BOOKING_DECLINED, events.BOOKING_FAILED,
                              events.BOOKING_NO_SHOW})


@dataclass(frozen=True, slots=True)
class Links:
    """The customer's links in messages: the manage page of a booking, a waitlist offer."""

    base_url: str
    manage_token: Callable[[Booking], str]
    offer_token: Callable[[WaitlistEntry], str]

    def manage(self, booking: Booking) -> str:
        token = quote(self.manage_token(booking), safe="")
        return f"{self.base_url.rstrip('/')}/manage/{booking.id}?token={token}"

    def offer(self, entry: WaitlistEntry) -> str:
        token = quote(self.offer_token(entry), safe="")
        return f"{self.base_url.rstrip('/')}/waitlist/{entry.id}?token={token}"


def send_job(message: Message) -> JobSpec:
    """The job that sends one message; its claim token tells a rerun of itself (after a
    crash) from another job for the same message."""
    return JobSpec(task=SEND_TASK, org_id=message.org_id,
                   args={"message_id": message.id, "claim": secrets.token_hex(8)})


class NotificationReactor:
    """Plans the messages each event causes (see the module docstring)."""

    def react(self, uow: UnitOfWork, event: OutboxEvent, now: datetime) -> None:
        if event.type == events.WAITLIST_OFFERED:
            self._offered(uow, event, now)
            return
        if event.type == events.CALENDAR_FAILED:
            self._calendar_failed(uow, event, now)
            return
        snapshot = event.payload.get("booking")
        if not event.type.startswith("booking.") or not isinstance(snapshot, dict):
            return
        booking_id = snapshot["id"]
        if event.type in _ENDS_FOLLOW_UPS:
            uow.messages.drop_pending(event.org_id, booking_id, FOLLOW_UPS)
        service = uow.services.get(event.org_id, snapshot["service_id"])
        schedule = service.notifications if service is not None else NotificationSchedule()
        planned = _plan(event.type, snapshot, schedule, now)
        if not planned:
            return
        phone = None
        if schedule.sms:
            booking = uow.bookings.get(event.org_id, booking_id)
            phone = e164(booking.customer.phone) if booking is not None else None
        sequence = int(snapshot.get("sequence") or 0)
        for item in planned:
            _add(uow, event.org_id, booking_id, item, sequence, phone, now)

    def _offered(self, uow: UnitOfWork, event: OutboxEvent, now: datetime) -> None:
        entry = uow.waitlist.get(event.org_id, event.aggregate_id)
        if entry is None:
            return
        service = uow.services.get(event.org_id, entry.service_id)
        sms = service is not None and service.notifications.sms
        # One message per offer: an entry offered again later gets a new one.
        offers = [e.id for e in uow.outbox.for_aggregate(event.org_id, entry.id)
                  if e.type == events.WAITLIST_OFFERED]
        sequence = offers.index(event.id) if event.id in offers else len(offers)
        _add(uow, event.org_id, entry.id, Planned(MessageKind.WAITLIST_OFFER, now), sequence,
             e164(entry.customer.phone) if sms else None, now)


    def _calendar_failed(self, uow: UnitOfWork, event: OutboxEvent, now: datetime) -> None:
        # One message per failure event: the sequence is the event's place among the
        # connection's failures, so a replayed event finds its message planned already.
        sequence = _failure_index(uow, event.org_id, event.aggregate_id, event.id)
        _add(uow, event.org_id, event.aggregate_id,
             Planned(MessageKind.CALENDAR_FAILED, now), sequence, None, now)


def _failure_index(uow: UnitOfWork, org_id: str, connection_id: str,
                   event_id: str | None = None) -> int:
    """The place of `event_id` among the connection's failure events (their count when it is
    None or not among them)."""
    failures = [e.id for e in uow.outbox.for_aggregate(org_id, connection_id)
                if e.type == events.CALENDAR_FAILED]
    return failures.index(event_id) if event_id in failures else len(failures)


def _plan(event_type: str, snapshot: dict[str, Any], schedule: NotificationSchedule,
          now: datetime) -> list[Planned]:
    start = datetime.fromisoformat(str(snapshot["start"]))
    end = datetime.fromisoformat(str(snapshot["end"]))
    confirmed = snapshot.get("status") == BookingStatus.CONFIRMED.value
    if event_type == events.BOOKING_CREATED:
        if confirmed:
            return plan_booked(MessageKind.CONFIRMATION, start, end, schedule, now)
        if set(snapshot.get("awaiting") or ()) <= _PROMPT_GATES:
            return []  # confirmed (or failed) within moments: one message then, not two
        return [Planned(MessageKind.PENDING, now)]
    if event_type == events.BOOKING_CONFIRMED:
        return plan_booked(MessageKind.CONFIRMATION, start, end, schedule, now)
    if event_type == events.BOOKING_RESCHEDULED and confirmed:
        # A pending booking hears of its (new) time with its confirmation.
        return plan_booked(MessageKind.RESCHEDULE, start, end, schedule, now)
    if event_type in (events.BOOKING_CANCELLED, events.BOOKING_DECLINED):
        return [Planned(MessageKind.CANCELLATION, now)]
    if event_type == events.BOOKING_FAILED:
        # The customer and the team are told why (the team by e-mail to the first owner).
        return [Planned(MessageKind.FAILED, now), Planned(MessageKind.TEAM_FAILED, now)]
    return []


def _add(uow: UnitOfWork, org_id: str, subject_id: str, item: Planned, sequence: int,
         phone: str | None, now: datetime) -> None:
    channels = [Channel.EMAIL]
    if phone is not None and item.kind in SMS_KINDS:
        channels.append(Channel.SMS)
    due_now = item.due_at <= now
    for channel in channels:
        message = Message(
            id=new_id("message"), org_id=org_id, booking_id=subject_id, kind=item.kind,
            channel=channel, due_at=item.due_at,
            state=MessageState.QUEUED if due_now else MessageState.SCHEDULED,
            sequence=sequence, created_at=now,
            dedupe_key=dedupe_key(subject_id, item.kind, sequence, channel))
        if uow.messages.add(message) and due_now:
            uow.jobs.defer(send_job(message))


@dataclass(frozen=True, slots=True)
class _Rendered:
    details: MessageDetails
    email: Email | None = None
    sms: Sms | None = None


class Notifications:
    """Dispatching and sending messages (jobs), and reading a booking's messages."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, renderer: MessageRenderer,
                 links: Links, *, mailer: Mailer | None, sms: SmsSender | None,
                 org_email: str, max_attempts: int = 8) -> None:
        self._uow = uow
        self._clock = clock
        self._renderer = renderer
        self._links = links
        self._mailer = mailer
        self._sms = sms
        self._org_email = org_email
        self._max_attempts = max_attempts

    def of_booking(self, org_id: str, booking_id: str) -> list[Message]:
        with self._uow() as uow:
            return uow.messages.of_booking(org_id, booking_id)

    def dispatch(self, limit: int = 500) -> int:
        """Queue the scheduled messages due by the app clock and defer their send jobs, in
        one transaction (periodic). Idempotent: only `scheduled` rows move, each once."""
        now = self._clock.now()
        with self._uow(write=True) as uow:
            due = uow.messages.due(now, limit)
            for message in due:
                if uow.messages.transition(message.id, [MessageState.SCHEDULED],
                                           MessageState.QUEUED, now):
                    uow.jobs.defer(send_job(message))
            uow.commit()
        return len(due)

    def send(self, message_id: str, claim: str) -> MessageState | None:
        """Send one queued message; returns the state it was left in (None: unknown id).

        Idempotent: a message not `queued` is not sent (sent, dropped, failed, or being sent
        by another job); the job's own claim found again means it was interrupted mid-send,
        and the message is marked `failed`, not sent again (module docstring). Raises the
        provider's `DeliveryUnavailable` when nothing went out: the message is back to
        `queued` for the engine's retry, or `failed` once the attempts are used up."""
        now = self._clock.now()
        with self._uow() as uow:
            message = uow.messages.get(message_id)
            if message is None:
                return None
            if message.state is MessageState.SENDING and message.claim_token == claim:
                return self._finish(message, MessageState.FAILED, INTERRUPTED)
            if message.state is not MessageState.QUEUED:
                return message.state
            found = self._details(uow, message)
        if isinstance(found, str):
            return self._finish(message, MessageState.DROPPED, found, frm=MessageState.QUEUED)
        rendered = self._render(message, found)
        problem = self._cannot_send(message, rendered)
        if problem is not None:
            return self._finish(message, MessageState.SKIPPED, problem, frm=MessageState.QUEUED)
        with self._uow(write=True) as uow:
            claimed = uow.messages.transition(message.id, [MessageState.QUEUED],
                                              MessageState.SENDING, now, claim_token=claim,
                                              count_attempt=True)
            uow.commit()
        if not claimed:
            return None  # dropped or claimed by another job meanwhile
        return self._hand_over(message, rendered)

    def _hand_over(self, message: Message, rendered: _Rendered) -> MessageState:
        key = message_key(message.kind, rendered.details)
        attempt = message.attempts + 1
        provider_id = None
        try:
            if rendered.email is not None and self._mailer is not None:
                self._mailer.send(rendered.email, key)
            elif rendered.sms is not None and self._sms is not None:
                provider_id = self._sms.send(rendered.sms, key)
        except DeliveryRejected as exc:
            return self._finish(message, MessageState.FAILED, f"refused: {exc.detail}")
        except DeliveryUnavailable as exc:
            if exc.maybe_sent:
                return self._finish(message, MessageState.FAILED,
                                    f"may have been delivered, so not retried: {exc.detail}")
            if attempt >= self._max_attempts:
                # Raised all the same: the job is dead-lettered, and /readyz shows the
                # provider failing.
                self._finish(message, MessageState.FAILED,
                             f"gave up after {attempt} attempts: {exc.detail}")
            else:
                self._finish(message, MessageState.QUEUED, exc.detail)
            raise
        return self._finish(message, MessageState.SENT, None, provider_id=provider_id)

    def _finish(self, message: Message, state: MessageState, error: str | None, *,
                frm: MessageState = MessageState.SENDING,
                provider_id: str | None = None) -> MessageState:
        with self._uow(write=True) as uow:
            uow.messages.transition(message.id, [frm], state, self._clock.now(), error=error,
                                    provider_id=provider_id)
            uow.commit()
        return state

    def _render(self, message: Message, details: MessageDetails) -> _Rendered:
        if message.channel is Channel.SMS and isinstance(details, BookingDetails):
            return _Rendered(details, sms=self._renderer.sms(message.kind, details))
        return _Rendered(details, email=self._renderer.email(message.kind, details))

    def _cannot_send(self, message: Message, rendered: _Rendered) -> str | None:
        """Why the rendered message has nowhere to go (it is kept as `skipped`), or None."""
        if message.channel is Channel.EMAIL:
            return NO_SMTP if self._mailer is None else None
        if rendered.sms is None:
            return "no text message for this kind, or no phone number"
        return NO_SMS if self._sms is None else None

    def _details(self, uow: UnitOfWork, message: Message) -> MessageDetails | str:
        """The message's details as they are now, or why it should no longer go out."""
        if message.kind is MessageKind.WAITLIST_OFFER:
            return self._offer_details(uow, message)
        if message.kind is MessageKind.CALENDAR_FAILED:
            return self._connection_details(uow, message)
        booking = uow.bookings.get(message.org_id, message.booking_id)
        if booking is None:
            return "the booking is gone"
        if booking.sequence != message.sequence:
            return "superseded: the booking changed since"
        allowed = {BookingStatus.CONFIRMED}
        if message.kind is MessageKind.REVIEW_REQUEST:
            allowed.add(BookingStatus.COMPLETED)
        if message.kind in FOLLOW_UPS and booking.status not in allowed:
            return f"the booking is {booking.status.value}"
        reason = refund = None
        if message.kind is MessageKind.CANCELLATION:
            reason, refund = booking.cancel_reason, _refunded(uow, booking)
        elif message.kind is MessageKind.FAILED:
            reason, refund = booking.failure_reason, _refunded(uow, booking)
        elif message.kind is MessageKind.TEAM_FAILED:
            team = uow.users.owner_email(booking.org_id)
            if team is None:
                return "the organisation has no owner to tell"
            details = self._booking_details(uow, booking, booking.failure_reason,
                                            _refunded(uow, booking))
            # In English (staff's language is not known), without the customer's own link.
            return replace(details, recipient_email=team, locale="en", manage_url=None)
        return self._booking_details(uow, booking, reason, refund)

    def _booking_details(self, uow: UnitOfWork, booking: Booking, reason: str | None,
                         refund: Price | None = None) -> BookingDetails:
        org = uow.organisations.get(booking.org_id)
        service = uow.services.get(booking.org_id, booking.service_id)
        found = uow.resources.many(booking.org_id, booking.resource_ids)
        resources = [found[rid] for rid in booking.resource_ids if rid in found]
        location_name = None
        for resource in resources:
            if resource.location_id is not None:
                location = uow.locations.get(booking.org_id, resource.location_id)
                location_name = location.name if location else None
                break
        customer = booking.customer
        return BookingDetails(
            booking_id=booking.id, org_name=org.name if org else "",
            org_email=self._org_email, service_name=service.name if service else "",
            start=booking.start, end=booking.end, customer_name=customer.name,
            customer_email=customer.email,
            customer_timezone=customer.timezone or (org.timezone if org else "UTC"),
            locale=customer.locale or "en", sequence=booking.sequence,
            customer_phone=e164(customer.phone), location_name=location_name,
            meeting_url=booking.meeting.join_url if booking.meeting else None,
            manage_url=self._links.manage(booking),
            resource_names=tuple(r.name for r in resources), reason=reason, refund=refund)

    def _offer_details(self, uow: UnitOfWork, message: Message) -> BookingDetails | str:
        entry = uow.waitlist.get(message.org_id, message.booking_id)
        if entry is None or entry.state is not EntryState.OFFERED or entry.offer_start is None:
            return "the offer is no longer open"
        org = uow.organisations.get(entry.org_id)
        service = uow.services.get(entry.org_id, entry.service_id)
        duration = timedelta(minutes=service.duration_min if service else 60)
        customer = entry.customer
        return BookingDetails(
            booking_id=entry.id, org_name=org.name if org else "", org_email=self._org_email,
            service_name=service.name if service else "", start=entry.offer_start,
            end=entry.offer_start + duration, customer_name=customer.name,
            customer_email=customer.email,
            customer_timezone=customer.timezone or (org.timezone if org else "UTC"),
            locale=customer.locale or "en", sequence=message.sequence,
            customer_phone=e164(customer.phone), offer_url=self._links.offer(entry),
            offer_expires_at=entry.offer_expires_at)


    def _connection_details(self, uow: UnitOfWork, message: Message
                            ) -> ConnectionDetails | str:
        connection = uow.calendars.get(message.org_id, message.booking_id)
        if connection is None:
            return "the calendar connection is gone"
        if connection.status is ConnectionStatus.OK:
            return "the calendar connection works again"
        if connection.status not in (ConnectionStatus.ERROR, ConnectionStatus.AUTH_FAILED):
            return f"the calendar connection is {connection.status.value}"
        if _failure_index(uow, message.org_id, connection.id) > message.sequence + 1:
            return "superseded: the calendar connection failed again since"
        owner = uow.users.owner_email(message.org_id)
        if owner is None:
            return "the organisation has no owner to tell"
        org = uow.organisations.get(message.org_id)
        resource = uow.resources.get(message.org_id, connection.resource_id)
        # In English (staff's language is not known), as the team's other messages.
        return ConnectionDetails(
            connection_id=connection.id, org_name=org.name if org else "",
            org_email=self._org_email, recipient_email=owner,
            resource_name=resource.name if resource else connection.resource_id,
            provider=connection.provider, calendar=connection.name or connection.calendar_id,
            access_refused=connection.status is ConnectionStatus.AUTH_FAILED,
            last_error=connection.last_error, last_success_at=connection.last_success_at,
            timezone=org.timezone if org else "UTC", locale="en", sequence=message.sequence)


def _refunded(uow: UnitOfWork, booking: Booking) -> Price | None:
    """What is being given back for the booking (refunds decided and not failed), if any."""
    payment = uow.payments.for_booking(booking.org_id, booking.id)
    if payment is None:
        return None
    total = sum(r.amount_minor for r in uow.payments.refunds(booking.org_id, payment.id)
                if r.status is not RefundStatus.FAILED)
    return Price(total, payment.currency) if total else None
