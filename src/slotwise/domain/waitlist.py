"""The waitlist: customers waiting for a service within a time range, offered freed slots in
the order they joined."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from slotwise.domain.model import Customer


class EntryState(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"  # holds an exclusive, time-boxed offer backed by a hold
    BOOKED = "booked"
    LAPSED = "lapsed"  # an offer lapsed unused; the slot went to the next in line
    EXPIRED = "expired"  # its range passed
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class WaitlistEntry:
    id: str
    org_id: str
    service_id: str
    customer: Customer
    range_start: datetime
    range_end: datetime
    state: EntryState
    created_at: datetime
    updated_at: datetime
    resource_ids: tuple[str, ...] | None = None
    offer_start: datetime | None = None
    offer_hold_id: str | None = None
    offer_expires_at: datetime | None = None
    booking_id: str | None = None


class Waitlist(Protocol):
    def add(self, entry: WaitlistEntry) -> None: ...
    def get(self, org_id: str, entry_id: str) -> WaitlistEntry | None: ...
    def by_id(self, entry_id: str) -> WaitlistEntry | None:
        """Any organisation's entry (public offer links carry no tenant)."""
        ...
    def update(self, entry: WaitlistEntry) -> None: ...
    def list(self, org_id: str, service_id: str | None, state: EntryState | None,
             limit: int) -> builtins.list[WaitlistEntry]: ...
    def waiting_for(self, org_id: str, service_id: str, start: datetime, end: datetime,
                    limit: int) -> builtins.list[WaitlistEntry]:
        """Waiting entries whose range overlaps [start, end), first joined first."""
        ...
    def lapsed_offers(self, now: datetime, limit: int) -> builtins.list[WaitlistEntry]:
        """Offered entries of every organisation whose offer expired before `now`."""
        ...
