"""The audit log: what changed, who changed it, and how to undo it. Append-only."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: str
    at: datetime
    actor: str  # "fixer", "user:<id>", ...
    action: str
    target: str  # what it acted on, e.g. a booking id
    details: dict[str, Any]  # what changed: before and after
    org_id: str | None = None  # None: the system's own chain
    # How to reverse it: {"op": <undo operation>, ...its arguments}; None: nothing to undo
    undo: dict[str, Any] | None = None
    seq: int = 0
    hash: str = field(default="", compare=False)


class AuditLog(Protocol):
    def append(self, entry: AuditEntry) -> AuditEntry:
        """Add an entry at the end of its chain; returns it with its sequence and hash."""
        ...

    def get(self, entry_id: str) -> AuditEntry | None: ...

    def recent(self, org_id: str | None, limit: int = 50, *, actor: str | None = None
               ) -> builtins.list[AuditEntry]:
        """Newest first; `org_id` None reads every chain (operators' tools only)."""
        ...

    def verify(self, chain: str) -> str | None:
        """None when every entry's hash matches its content and its predecessor; else where
        the chain breaks."""
        ...


@dataclass(frozen=True, slots=True)
class OutOfStep:
    """A booking whose allocations disagree with its status."""

    org_id: str
    booking_id: str
    status: str
    allocation_ids: tuple[str, ...]
    active: bool  # what the allocations are (the wrong thing for this status)


class Repairs(Protocol):
    """The reads and writes the self-healing fixer needs, across organisations."""

    def allocations_out_of_step(self, limit: int, changed_since: datetime | None = None
                                ) -> builtins.list[OutOfStep]:
        """`changed_since`: only bookings updated since then (cheap, indexed); None: all."""
        ...

    def allocation_ids(self, org_id: str, booking_id: str) -> tuple[str, ...]: ...

    def set_allocations_active(self, org_id: str, allocation_ids: tuple[str, ...],
                               active: bool) -> None:
        """May raise `OverlapRefused` when activating would double-book (the guard)."""
        ...

    def expired_live_holds(self, now: datetime, limit: int
                           ) -> builtins.list[tuple[str, str]]:
        """(org_id, hold_id) of SQL holds still marked active after they expired."""
        ...
