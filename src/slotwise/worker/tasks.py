"""Every job a worker can run, by name, and what runs periodically.

Handlers are thin: each calls one use case, whose docstring says how it stays idempotent.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slotwise.app.calendar_export import EXPORT_TASK
from slotwise.app.calendar_sync import POLL_TASK, RENEW_TASK, SYNC_TASK
from slotwise.app.container import UseCases
from slotwise.app.meetings import create_attempts
from slotwise.app.notifications import DISPATCH_TASK, SEND_TASK
from slotwise.app.webhooks import DELIVER_TASK
from slotwise.domain.jobs import JobHandler, Loop, Periodic, Registry, Task

log = logging.getLogger("slotwise.worker")


def registry(use_cases: UseCases, *, max_attempts: int = 8, backoff_s: int = 2,
             settle_after: timedelta = timedelta(hours=2), calendar_tick_s: int = 5
             ) -> Registry:
    def task(name: str, handler: JobHandler) -> Task:
        return Task(name=name, handler=handler, max_attempts=max_attempts, backoff_s=backoff_s)

    lifecycle = use_cases.lifecycle

    def fix(_: dict[str, Any]) -> None:
        """Repairs what is still wrong when it runs (see app/fixer.py): idempotent."""
        use_cases.fixer.run()

    def check_health(_: dict[str, Any]) -> None:
        for name, dependency in use_cases.checks.items():
            problem = dependency.check()
            if problem is not None:
                log.warning("health: %s: %s", name, problem)

    def settle(_: dict[str, Any]) -> None:
        lifecycle.settle(settle_after)

    waitlist = use_cases.waitlist

    def match_waitlist(args: dict[str, Any]) -> None:
        """Offers only to `waiting` entries and holds what it offers: a repeat finds
        nothing more to offer (app/waitlist.py)."""
        waitlist.match(args["org_id"], args["service_id"],
                       datetime.fromisoformat(args["start"]),
                       datetime.fromisoformat(args["end"]))

    def lapse_offers(_: dict[str, Any]) -> None:
        waitlist.lapse_offers()

    meetings = use_cases.meetings
    payments = use_cases.payments

    def create_link(args: dict[str, Any]) -> None:
        meetings.create_link(args["org_id"], args["booking_id"])

    def update_link(args: dict[str, Any]) -> None:
        meetings.update_link(args["org_id"], args["booking_id"], args["sequence"])

    def delete_link(args: dict[str, Any]) -> None:
        meetings.delete_link(args["org_id"], args["booking_id"])

    tasks = [task("fixer.run", fix), task("health.check", check_health),
             task("lifecycle.settle", settle), task("waitlist.match", match_waitlist),
             task("waitlist.lapse_offers", lapse_offers),
             # Retried until the booking's deadline has passed, not dead-lettered before it.
             Task("meetings.create", create_link, backoff_s=backoff_s, max_attempts=
                  create_attempts(meetings.deadline, backoff_s, at_least=max_attempts)),
             task("meetings.update", update_link),
             task("meetings.delete", delete_link),
             task("payments.create", lambda a: payments.start(a["org_id"], a["payment_id"])),
             task("payments.cancel", lambda a: payments.cancel(a["org_id"], a["payment_id"])),
             task("payments.refund", lambda a: payments.refund(a["org_id"], a["refund_id"]))]
    # The fixer also fails pending bookings past their deadline, so it runs often.
    periodic = [Periodic("fixer.run", every_s=15), Periodic("health.check", every_s=60),
                Periodic("lifecycle.settle", every_s=300),
                Periodic("waitlist.lapse_offers", every_s=15)]
    notifications, webhooks = use_cases.notifications, use_cases.webhooks

    def send_message(args: dict[str, Any]) -> None:
        """Sends only a queued message, claimed first; a rerun finding its own claim marks
        the message failed instead of sending it twice (app/notifications.py)."""
        notifications.send(args["message_id"], args["claim"])

    def dispatch_messages(_: dict[str, Any]) -> None:
        """Queues only `scheduled` messages now due, each once (app/notifications.py)."""
        notifications.dispatch()

    def deliver_webhook(args: dict[str, Any]) -> None:
        """Posts only a pending delivery; a repeat of a delivered one posts nothing
        (app/webhooks.py)."""
        webhooks.deliver(args["delivery_id"])

    tasks += [task(SEND_TASK, send_message), task(DISPATCH_TASK, dispatch_messages),
              task(DELIVER_TASK, deliver_webhook)]
    periodic.append(Periodic(DISPATCH_TASK, every_s=15))
    calendars, exporter = use_cases.calendar_sync, use_cases.calendar_export

    def sync_calendar(args: dict[str, Any]) -> None:
        """Applies a sync only over the generation it read (app/calendar_sync.py): a repeat
        either re-applies the same state or is dropped."""
        calendars.sync(args["org_id"], args["connection_id"], full=bool(args.get("full")))

    def export_booking(args: dict[str, Any]) -> None:
        """Converges the calendar on the booking as it is now: a repeat writes nothing."""
        exporter.export(args["org_id"], args["connection_id"], args["booking_id"])

    def poll_calendars(_: dict[str, Any]) -> None:
        """Defers only syncs not already due (Calendars.request_sync)."""
        calendars.poll()

    def renew_channels(_: dict[str, Any]) -> None:
        calendars.renew_channels()

    tasks += [task(SYNC_TASK, sync_calendar), task(EXPORT_TASK, export_booking),
              task(POLL_TASK, poll_calendars), task(RENEW_TASK, renew_channels)]
    periodic += [Periodic(POLL_TASK, every_s=calendar_tick_s),
                 Periodic(RENEW_TASK, every_s=3600)]
    loops = [Loop("relay", use_cases.relay)]
    return Registry(tasks={t.name: t for t in tasks}, periodic=tuple(periodic),
                    loops=tuple(loops))
