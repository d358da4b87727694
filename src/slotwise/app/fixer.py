"""The self-healing fixer: repairs the common faults by itself, each repair written to the
audit log with what it changed and how to undo it (`slotwise doctor --undo ACTION_ID`).

Every repair is idempotent: it acts only on what is still wrong when it runs, so two fixers
(two workers) at once, or one run twice, change things once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from slotwise.app.lifecycle import fail_closed, overdue_reason
from slotwise.domain import events
from slotwise.domain.audit import AuditEntry
from slotwise.domain.booking import BookingStatus, HoldStatus
from slotwise.domain.errors import InvalidTransition, NotFound, OverlapRefused
from slotwise.domain.ids import new_id
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory

ACTOR = "fixer"


class Fixer:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, *,
                 stuck_after: timedelta = timedelta(minutes=2), batch: int = 200,
                 recent: timedelta = timedelta(days=2)) -> None:
        self._uow = uow
        self._clock = clock
        self._stuck_after = stuck_after
        self._batch = batch
        self._recent = recent

    def run(self, *, everything: bool = False) -> list[AuditEntry]:
        """One pass over every kind of fault; returns the repairs it made. The periodic pass
        checks allocations of bookings changed in the last two days (an indexed read);
        `everything` (slotwise doctor --fix) checks them all."""
        done: list[AuditEntry] = []
        since = None if everything else self._clock.now() - self._recent
        for repair in (self._expired_holds, self._stuck_jobs, self._overdue_pending,
                       partial(self._allocations_out_of_step, since=since)):
            with self._uow(write=True) as uow:
                made = repair(uow, self._clock.now())
                uow.commit()
            done += made
        return done

    def _record(self, uow: UnitOfWork, org_id: str | None, action: str, target: str,
                details: dict[str, Any], undo: dict[str, Any] | None, now: datetime,
                actor: str = ACTOR) -> AuditEntry:
        return uow.audit.append(AuditEntry(
            id=new_id("fix"), at=now, actor=actor, action=action, target=target,
            details=details, org_id=org_id, undo=undo))

    def _expired_holds(self, uow: UnitOfWork, now: datetime) -> list[AuditEntry]:
        made = []
        for org_id, hold_id in uow.repairs.expired_live_holds(now, self._batch):
            hold = uow.holds.get(org_id, hold_id)
            if hold is None or hold.status is not HoldStatus.ACTIVE:
                continue
            uow.holds.save(replace(hold, status=HoldStatus.EXPIRED))
            # Its time is free again: other visitors' open pages show it (live updates).
            uow.outbox.add(events.hold_event(events.HOLD_EXPIRED, hold, now))
            made.append(self._record(
                uow, org_id, "expire_hold", hold_id,
                {"status": {"before": "active", "after": "expired"},
                 "expires_at": events.iso(hold.expires_at)},
                {"op": "reactivate_hold", "org_id": org_id, "hold_id": hold_id}, now))
        return made

    def _stuck_jobs(self, uow: UnitOfWork, now: datetime) -> list[AuditEntry]:
        made = []
        wall = datetime.now(UTC)  # job engines run on the wall clock
        for job in uow.jobs.stuck(wall - self._stuck_after):
            if uow.jobs.requeue(job.id, wall):
                made.append(self._record(
                    uow, job.org_id, "requeue_stuck_job", job.id,
                    {"task": job.task, "state": {"before": "doing", "after": "todo"},
                     "why": f"its worker has not been seen for {self._stuck_after}"},
                    # Running it again is the repair; handlers are idempotent.
                    None, now))
        return made

    def _overdue_pending(self, uow: UnitOfWork, now: datetime) -> list[AuditEntry]:
        made = []
        for booking in uow.bookings.pending_past(now, self._batch):
            failed = fail_closed(uow, booking, overdue_reason(booking), now)
            made.append(self._record(
                uow, booking.org_id, "fail_overdue_pending", booking.id,
                {"status": {"before": "pending", "after": failed.status.value},
                 "awaiting": list(booking.awaiting),
                 "pending_until": events.iso(booking.pending_until or now)},
                {"op": "restore_pending", "org_id": booking.org_id, "booking_id": booking.id},
                now))
        return made

    def _allocations_out_of_step(self, uow: UnitOfWork, now: datetime, *,
                                 since: datetime | None) -> list[AuditEntry]:
        made = []
        for fault in uow.repairs.allocations_out_of_step(self._batch, since):
            want = not fault.active
            try:
                uow.repairs.set_allocations_active(fault.org_id, fault.allocation_ids, want)
            except OverlapRefused:
                # Reactivating would double-book: the slot went to someone else. That needs
                # a person; say so once per pass without changing anything.
                made.append(self._record(
                    uow, fault.org_id, "allocations_need_attention", fault.booking_id,
                    {"status": fault.status, "allocation_ids": list(fault.allocation_ids),
                     "why": "its time is now held by another booking"}, None, now))
                continue
            made.append(self._record(
                uow, fault.org_id,
                "activate_allocations" if want else "deactivate_allocations",
                fault.booking_id,
                {"booking_status": fault.status, "allocation_ids": list(fault.allocation_ids),
                 "active": {"before": fault.active, "after": want}},
                {"op": "deactivate_allocations" if want else "activate_allocations",
                 "org_id": fault.org_id, "allocation_ids": list(fault.allocation_ids)}, now))
        return made

    def recent(self, limit: int = 20) -> list[AuditEntry]:
        """The fixer's latest repairs, newest first (reversals are audited under the
        operator's name)."""
        with self._uow() as uow:
            return uow.audit.recent(None, limit, actor=ACTOR)

    def undo(self, entry_id: str, actor: str = "operator") -> AuditEntry:
        """Reverse one repair; the reversal is audited too (and refused by the overlap guard
        if it would double-book)."""
        now = self._clock.now()
        with self._uow(write=True) as uow:
            entry = uow.audit.get(entry_id)
            if entry is None:
                raise NotFound("no such audit entry")
            if entry.undo is None:
                raise InvalidTransition(f"{entry.action} has nothing to undo")
            undo = entry.undo
            op, org_id = undo["op"], undo["org_id"]
            if op in ("activate_allocations", "deactivate_allocations"):
                uow.repairs.set_allocations_active(org_id, tuple(undo["allocation_ids"]),
                                                   op == "activate_allocations")
            elif op == "reactivate_hold":
                hold = uow.holds.get(org_id, undo["hold_id"])
                if hold is None:
                    raise NotFound("the hold is gone")
                uow.holds.save(replace(hold, status=HoldStatus.ACTIVE))
            elif op == "restore_pending":
                self._restore_pending(uow, org_id, undo["booking_id"], entry, now)
            else:
                raise InvalidTransition(f"unknown undo operation {op!r}")
            done = self._record(uow, org_id, f"undo:{entry.action}", entry.target,
                                {"undid": entry.id}, None, now, actor=actor)
            uow.commit()
            return done

    def _restore_pending(self, uow: UnitOfWork, org_id: str, booking_id: str,
                         entry: AuditEntry, now: datetime) -> None:
        booking = uow.bookings.get(org_id, booking_id)
        if booking is None:
            raise NotFound("the booking is gone")
        if booking.status is not BookingStatus.FAILED:
            raise InvalidTransition(f"the booking is {booking.status.value} now")
        restored = replace(booking, status=BookingStatus.PENDING, failure_reason=None,
                           awaiting=tuple(entry.details.get("awaiting", ())),
                           pending_until=None, updated_at=now)
        uow.bookings.update(restored)
        # The guard refuses (OverlapRefused) if the slot was taken meanwhile.
        uow.repairs.set_allocations_active(org_id, uow.repairs.allocation_ids(org_id, booking_id),
                                           True)
