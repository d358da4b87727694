"""Operate conflicts: list them with their suggestions, resolve one by applying a suggestion,
or dismiss it. Staff may do all of it (they manage bookings).

Reads never show a stale conflict: one whose cause or booking went away is cleared (in a
short write of its own) before the page is answered.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from slotwise.app.availability import blocked_ranges, lock_candidates
from slotwise.app.conflict_suggestions import suggest
from slotwise.app.conflicts import ConflictDetector, audit
from slotwise.app.holds import chosen_resources
from slotwise.app.manage import move_booking, rescheduled_event
from slotwise.app.waitlist import MATCH_TASK
from slotwise.domain import events
from slotwise.domain.booking import Booking
from slotwise.domain.conflicts import (
    Conflict,
    ConflictFilter,
    ConflictStatus,
    Suggestion,
    SuggestionGone,
    SuggestionKind,
)
from slotwise.domain.errors import DomainError, InvalidTransition, NotFound, OverlapRefused
from slotwise.domain.jobs import JobSpec
from slotwise.domain.model import Principal, Service
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from slotwise.engine.availability import Slot


class WaitlistMatcher(Protocol):
    def match(self, org_id: str, service_id: str, start: datetime, end: datetime) -> int:
        """Offer freed time in [start, end) to the service's waiting entries, first in line
        first (`app.waitlist.OperateWaitlist.match`)."""
        ...


@dataclass(frozen=True, slots=True)
class ConflictView:
    conflict: Conflict
    # Ranked; None for a closed conflict, or when the caller did not ask for them.
    suggestions: tuple[Suggestion, ...] | None


@dataclass(frozen=True, slots=True)
class Resolved:
    conflict: Conflict
    booking: Booking
    offers: int = 0  # waitlist offers made for the freed time (reschedule_and_promote)


class OperateConflicts:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock,
                 waitlist: WaitlistMatcher | None = None,
                 detector: ConflictDetector | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._waitlist = waitlist
        self.detector = detector or ConflictDetector()

    def list(self, principal: Principal, query: ConflictFilter, *,
             with_suggestions: bool = True) -> builtins.list[ConflictView]:
        org_id, now = principal.org_id, self._clock.now()
        with self._uow() as uow:
            if query.resource_id is not None and uow.resources.get(
                    org_id, query.resource_id) is None:
                raise NotFound("no such resource")
            if query.booking_id is not None and uow.bookings.get(
                    org_id, query.booking_id) is None:
                raise NotFound("no such booking")
            found = uow.conflicts.list(org_id, query)
            stale = [c for c in found if c.status is ConflictStatus.OPEN
                     and self.detector.stale(uow, c) is not None]
        if stale:
            self._clear(org_id, [c.id for c in stale], now)
        with self._uow() as uow:
            if stale:
                found = uow.conflicts.list(org_id, query)
            return [self._view(uow, c, now, with_suggestions) for c in found]

    def get(self, principal: Principal, conflict_id: str) -> ConflictView:
        org_id, now = principal.org_id, self._clock.now()
        with self._uow() as uow:
            conflict = _conflict(uow, org_id, conflict_id)
            stale = (conflict.status is ConflictStatus.OPEN
                     and self.detector.stale(uow, conflict) is not None)
        if stale:
            self._clear(org_id, [conflict_id], now)
        with self._uow() as uow:
            return self._view(uow, _conflict(uow, org_id, conflict_id), now, True)

    def resolve(self, principal: Principal, conflict_id: str, suggestion_id: str
                ) -> Resolved:
        """Apply the named suggestion, in one transaction with the conflict's resolution.
        The suggestions are computed again under the resources' locks: one that no longer
        applies (its slot was taken, the situation changed) → `SuggestionGone` with those
        that apply now, and nothing changes; so does a refusal by the overlap guard."""
        org_id, now = principal.org_id, self._clock.now()
        with self._uow(write=True) as uow:
            conflict = self._open_conflict(uow, org_id, conflict_id, now)
            booking, service = _booking_and_service(uow, conflict)
            lock_candidates(uow, service)
            suggestions = suggest(uow, conflict, booking, service, now)
            chosen = next((s for s in suggestions if s.id == suggestion_id), None)
            if chosen is None:
                uow.rollback()
                raise SuggestionGone("that suggestion no longer applies", suggestions)
            try:
                moved = _apply(uow, service, booking, chosen, now)
            except OverlapRefused:
                uow.rollback()  # the transaction is spoilt: see Bookings.add
                raise SuggestionGone("that suggestion's slot was just taken",
                                     self._current(org_id, conflict_id, now)) from None
            resolved = conflict.close(ConflictStatus.RESOLVED, now, {
                "by": f"user:{principal.user_id}", "suggestion": suggestion_record(chosen)})
            uow.conflicts.update(resolved)
            audit(uow, resolved, f"user:{principal.user_id}", "conflict.resolved", now,
                  {"suggestion": suggestion_record(chosen)})
            # The booking may have left its other conflicts behind (moved off the block).
            self.detector.recheck_booking(uow, org_id=org_id, booking_id=booking.id, now=now)
            promoted = _promoted_service(uow, org_id, chosen)
            if promoted is not None:
                # Durable: the worker offers the freed time even if this process stops now.
                uow.jobs.defer(JobSpec(task=MATCH_TASK, org_id=org_id, args={
                    "org_id": org_id, "service_id": promoted,
                    "start": events.iso(booking.start), "end": events.iso(booking.end)}))
            uow.commit()
        offers = 0
        if promoted is not None and self._waitlist is not None:
            # At once too, so the answer can tell; the job then finds nothing more to offer.
            with contextlib.suppress(DomainError):
                offers = self._waitlist.match(org_id, promoted, booking.start, booking.end)
        return Resolved(resolved, moved, offers)

    def dismiss(self, principal: Principal, conflict_id: str, note: str | None) -> Conflict:
        """Keep the booking as it is: the conflict is closed as `dismissed`."""
        org_id, now = principal.org_id, self._clock.now()
        with self._uow(write=True) as uow:
            conflict = self._open_conflict(uow, org_id, conflict_id, now)
            actor = f"user:{principal.user_id}"
            dismissed = conflict.close(ConflictStatus.DISMISSED, now, {"by": actor,
                                                                       "note": note})
            uow.conflicts.update(dismissed)
            audit(uow, dismissed, actor, "conflict.dismissed", now, {"note": note})
            uow.commit()
        return dismissed

    def _open_conflict(self, uow: UnitOfWork, org_id: str, conflict_id: str,
                       now: datetime) -> Conflict:
        """The conflict, open and still standing; else `InvalidTransition` (a stale one is
        cleared first, and that is committed)."""
        conflict = _conflict(uow, org_id, conflict_id)
        if conflict.status is not ConflictStatus.OPEN:
            raise InvalidTransition(f"the conflict is {conflict.status.value} already")
        if self.detector.clear_stale(uow, [conflict], now):
            uow.commit()
            raise InvalidTransition("the conflict has cleared by itself")
        return conflict

    def _clear(self, org_id: str, conflict_ids: Sequence[str], now: datetime) -> None:
        with self._uow(write=True) as uow:
            current = [c for cid in conflict_ids
                       if (c := uow.conflicts.get(org_id, cid)) is not None
                       and c.status is ConflictStatus.OPEN]
            self.detector.clear_stale(uow, current, now)
            uow.commit()

    def _current(self, org_id: str, conflict_id: str, now: datetime
                 ) -> builtins.list[Suggestion]:
        with self._uow() as uow:
            conflict = _conflict(uow, org_id, conflict_id)
            return list(self._view(uow, conflict, now, True).suggestions or ())

    def _view(self, uow: UnitOfWork, conflict: Conflict, now: datetime,
              with_suggestions: bool) -> ConflictView:
        if not with_suggestions or conflict.status is not ConflictStatus.OPEN:
            return ConflictView(conflict, None)
        booking, service = _booking_and_service(uow, conflict)
        return ConflictView(conflict, tuple(suggest(uow, conflict, booking, service, now)))


def _apply(uow: UnitOfWork, service: Service, booking: Booking, chosen: Suggestion,
           now: datetime) -> Booking:
    """Write the booking where the suggestion puts it, under the database's overlap guard."""
    slot = Slot(chosen.start, chosen.end, chosen.resource_ids)
    if chosen.kind is not SuggestionKind.SUBSTITUTE or chosen.replaces is None:
        return move_booking(uow, service, booking, slot, now)
    # Only the conflicted resource's allocation changes; the others stay as they are.
    replaced, substitute = chosen.replaces
    moved = booking.moved(slot.start, slot.end, slot.resource_ids, now)
    resources, locations = chosen_resources(uow, booking.org_id, slot)
    blocked = {rid: (lo, hi) for rid, lo, hi in
               blocked_ranges(service, resources, locations, slot)}
    uow.bookings.swap_resource(moved, replaced, substitute, *blocked[substitute])
    uow.outbox.add(rescheduled_event(booking, moved, now))
    return moved


def _promoted_service(uow: UnitOfWork, org_id: str, chosen: Suggestion) -> str | None:
    if chosen.waitlist_entry_id is None:
        return None
    entry = uow.waitlist.get(org_id, chosen.waitlist_entry_id)
    return entry.service_id if entry is not None else None


def _conflict(uow: UnitOfWork, org_id: str, conflict_id: str) -> Conflict:
    found = uow.conflicts.get(org_id, conflict_id)
    if found is None:
        raise NotFound("no such conflict")
    return found


def _booking_and_service(uow: UnitOfWork, conflict: Conflict) -> tuple[Booking, Service]:
    booking = uow.bookings.get(conflict.org_id, conflict.booking_id)
    if booking is None:
        raise NotFound("the conflict's booking is gone")
    service = uow.services.get(conflict.org_id, booking.service_id)
    if service is None:
        raise NotFound("the booking's service is gone")
    return booking, service


def suggestion_record(s: Suggestion) -> dict[str, Any]:
    """A suggestion as JSON (the conflict's resolution keeps it)."""
    return {"id": s.id, "kind": s.kind.value, "rank": s.rank, "start": events.iso(s.start),
            "end": events.iso(s.end),
            "resources": [{"role": r.role, "resource_id": r.resource_id}
                          for r in s.resources],
            "replaces": ({"from": s.replaces[0], "to": s.replaces[1]}
                         if s.replaces else None),
            "waitlist_entry_id": s.waitlist_entry_id, "summary": s.summary}
