"""Conflicts: find the bookings an external event, a block or new hours landed on, flag
them, and clear the flag when the cause goes away (see `domain.conflicts`).

Blocks do not refuse overlapping bookings (only allocations are guarded), and new hours
apply to new bookings only, so a booking made before can end up under either: it stays
booked and is flagged, and an operator picks a way out (`app.conflict_resolution`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from slotwise.app.scheduling import schedule_zone, to_engine_schedule
from slotwise.domain import events
from slotwise.domain.audit import AuditEntry
from slotwise.domain.booking import Booking
from slotwise.domain.calendars import CalendarConnection
from slotwise.domain.conflicts import Conflict, ConflictCause, ConflictStatus
from slotwise.domain.ids import new_id
from slotwise.domain.model import OutboxEvent
from slotwise.domain.ports import UnitOfWork
from slotwise.engine.intervals import TimeRange, merge, subtract
from slotwise.engine.schedule import Schedule, open_windows

ACTOR = "conflicts"  # the audit log's actor for what the detector does by itself
# Bookings lie within a service's horizon, at most 3650 days ahead (the schema's limit).
_HORIZON = timedelta(days=3651)
_DAY = timedelta(days=1)


class ConflictDetector:
    """Stateless: every method works in the caller's unit of work and leaves the commit to
    it, so the flag lands together with what caused it (a block, new hours, an import)."""

    def flag(self, uow: UnitOfWork, *, org_id: str, resource_ids: Sequence[str],
             start: datetime, end: datetime, cause: ConflictCause, cause_ref: str,
             now: datetime) -> list[str]:
        """Open a conflict for each live (pending or confirmed) booking whose own range —
        not its buffers — on one of `resource_ids` overlaps [start, end) and has not ended
        by `now`. Idempotent: a booking already flagged for (resource, `cause_ref`) keeps
        its open conflict, and only new ones write the `booking.conflicted` event and an
        audit entry. Returns the ids of the open conflicts for this cause, new and old."""
        cause_range = TimeRange(start, end)
        opened: list[str] = []
        for allocation in uow.bookings.busy(org_id, resource_ids, start, end):
            if allocation.booked_start is None or allocation.booked_end is None:
                continue
            booked = TimeRange(allocation.booked_start, allocation.booked_end)
            if not booked.overlaps(cause_range) or booked.end <= now:
                continue
            clash = TimeRange(max(booked.start, start), min(booked.end, end))
            opened.append(self._open(uow, org_id, allocation.booking_id,
                                     allocation.resource_id, clash, cause, cause_ref, now))
        return [cid for cid in dict.fromkeys(opened) if cid]

    def busy_imported(self, uow: UnitOfWork, connection: CalendarConnection,
                      blocks: Sequence[tuple[str, datetime, datetime]], removed: bool,
                      now: datetime) -> None:
        """The calendar sync's hook: busy time moved or went (clear what no longer stands),
        and new blocks (id, start, end) flag the bookings they land on."""
        if removed or blocks:
            self.recheck(uow, org_id=connection.org_id, resource_ids=[connection.resource_id],
                         now=now)
        for block_id, start, end in blocks:
            self.flag(uow, org_id=connection.org_id, resource_ids=[connection.resource_id],
                      start=start, end=end, cause=ConflictCause.CALENDAR, cause_ref=block_id,
                      now=now)

    def flag_closed(self, uow: UnitOfWork, *, org_id: str, resource_id: str,
                    now: datetime) -> list[str]:
        """Open an `override` conflict for each live booking on the resource that its
        current hours no longer cover (a closed date, shorter hours, a new break). The
        cause reference is the local date where the booking's closed time begins."""
        hours = _Hours.of(uow, org_id, resource_id)
        opened = []
        for allocation in uow.bookings.busy(org_id, [resource_id], now, now + _HORIZON):
            if allocation.booked_start is None or allocation.booked_end is None:
                continue
            booked = TimeRange(allocation.booked_start, allocation.booked_end)
            if booked.end <= now:
                continue
            closed = hours.closed(booked)
            if closed:
                clash = TimeRange(closed[0].start, closed[-1].end)
                day = clash.start.astimezone(ZoneInfo(hours.zone)).date().isoformat()
                opened.append(self._open(uow, org_id, allocation.booking_id, resource_id,
                                         clash, ConflictCause.OVERRIDE, day, now))
        return [cid for cid in dict.fromkeys(opened) if cid]

    def recheck(self, uow: UnitOfWork, *, org_id: str, resource_ids: Sequence[str],
                now: datetime) -> list[str]:
        """Clear the open conflicts on those resources whose cause went away (the block is
        deleted or moved off the booking, the hours cover it again) or whose booking did
        (cancelled, failed, moved off the resource or to another time). Returns their ids."""
        return self.clear_stale(uow, uow.conflicts.open_on(org_id, resource_ids), now)

    def recheck_booking(self, uow: UnitOfWork, *, org_id: str, booking_id: str,
                        now: datetime) -> list[str]:
        """`recheck` for one booking's open conflicts (after it was changed)."""
        return self.clear_stale(uow, uow.conflicts.open_of_booking(org_id, booking_id), now)

    def stale(self, uow: UnitOfWork, conflict: Conflict) -> str | None:
        """Why the conflict no longer stands, or None while it does."""
        booking = uow.bookings.get(conflict.org_id, conflict.booking_id)
        if booking is None or not booking.status.holds_resources:
            return "the booking no longer holds its resources"
        if conflict.resource_id not in booking.resource_ids:
            return "the booking no longer uses the resource"
        booked = TimeRange(booking.start, booking.end)
        if conflict.cause is ConflictCause.OVERRIDE:
            if not _Hours.of(uow, conflict.org_id, conflict.resource_id).closed(booked):
                return "the resource's hours cover the booking again"
            return None
        block = uow.blocks.get(conflict.org_id, conflict.cause_ref)
        if (block is None or block.resource_id != conflict.resource_id
                or not TimeRange(block.start, block.end).overlaps(booked)):
            return "the busy time no longer overlaps the booking"
        return None

    def clear_stale(self, uow: UnitOfWork, found: Sequence[Conflict], now: datetime
                    ) -> list[str]:
        """Clear those of `found` (open, as read in `uow`) that no longer stand."""
        cleared = []
        for conflict in found:
            reason = self.stale(uow, conflict)
            if reason is None:
                continue
            closed = conflict.close(ConflictStatus.CLEARED, now, {"by": ACTOR, "reason": reason})
            uow.conflicts.update(closed)
            audit(uow, closed, ACTOR, "conflict.cleared", now, {"reason": reason})
            cleared.append(conflict.id)
        return cleared

    def _open(self, uow: UnitOfWork, org_id: str, booking_id: str, resource_id: str,
              clash: TimeRange, cause: ConflictCause, cause_ref: str, now: datetime) -> str:
        booking = uow.bookings.get(org_id, booking_id)
        if booking is None or not booking.status.holds_resources:
            return ""
        conflict, new = uow.conflicts.open(Conflict(
            id=new_id("conflict"), org_id=org_id, booking_id=booking_id,
            resource_id=resource_id, cause=cause, cause_ref=cause_ref, start=clash.start,
            end=clash.end, status=ConflictStatus.OPEN, created_at=now, updated_at=now))
        if new:
            uow.outbox.add(conflicted_event(booking, conflict, now))
            audit(uow, conflict, ACTOR, "conflict.opened", now,
                  {"cause": cause.value, "cause_ref": cause_ref,
                   "start": events.iso(clash.start), "end": events.iso(clash.end)})
        return conflict.id


@dataclass(frozen=True, slots=True)
class _Hours:
    """A resource's own hours (not its location's: only its own changes are a cause)."""

    schedule: Schedule | None  # None: no hours, never open
    zone: str

    @classmethod
    def of(cls, uow: UnitOfWork, org_id: str, resource_id: str) -> _Hours:
        resource = uow.resources.get(org_id, resource_id)
        spec = uow.schedules.get(org_id, resource_id)
        if resource is None or spec is None:
            return cls(None, "UTC")
        zone = schedule_zone(spec, resource)
        return cls(to_engine_schedule(spec, zone), zone)

    def closed(self, booked: TimeRange) -> list[TimeRange]:
        """The parts of `booked` these hours leave closed."""
        if self.schedule is None:
            return [booked]
        windows = open_windows(self.schedule, TimeRange(booked.start - _DAY, booked.end + _DAY))
        return subtract([booked], merge(w.range for w in windows))


def conflicted_event(booking: Booking, conflict: Conflict, now: datetime
                     ) -> OutboxEvent:
    return events.booking_event(events.BOOKING_CONFLICTED, booking, now, conflict={
        "id": conflict.id, "resource_id": conflict.resource_id, "cause": conflict.cause.value,
        "cause_ref": conflict.cause_ref, "start": events.iso(conflict.start),
        "end": events.iso(conflict.end)})


def audit(uow: UnitOfWork, conflict: Conflict, actor: str, action: str, now: datetime,
          details: dict[str, object]) -> None:
    uow.audit.append(AuditEntry(
        id=new_id("audit"), at=now, actor=actor, action=action, target=conflict.id,
        details={"booking_id": conflict.booking_id, "resource_id": conflict.resource_id,
                 **details}, org_id=conflict.org_id))
