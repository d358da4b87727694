"""Conflicts: a booking that something landed on after it was made (an external calendar
event, a manual block, a schedule change closing its time), and the ways out of it.

A conflict is `open` until an operator resolves it (applies a suggestion), dismisses it
(keeps the booking as it is), or its cause goes away by itself (`cleared`: the block was
deleted, the hours reopened, the booking was cancelled or moved). At most one conflict per
(booking, resource, cause reference) is open at a time.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from slotwise.domain.errors import Conflict as ConflictError
from slotwise.domain.errors import InvalidTransition


class ConflictStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"  # an operator applied one of its suggestions
    DISMISSED = "dismissed"  # an operator kept the booking as it is
    CLEARED = "cleared"  # the cause went away by itself, or the booking did


class ConflictCause(StrEnum):
    CALENDAR = "calendar"  # an imported external busy event (a block with a connection)
    BLOCK = "block"  # a block entered by hand
    OVERRIDE = "override"  # the resource's hours changed (a date override or weekly hours)


@dataclass(frozen=True, slots=True)
class Conflict:
    """`start`/`end`: the part of the booking's own range (not its buffers) the cause
    covers. `cause_ref`: the block's id (calendar, block) or the local date the new hours
    close (override)."""

    id: str
    org_id: str
    booking_id: str
    resource_id: str
    cause: ConflictCause
    cause_ref: str
    start: datetime
    end: datetime
    status: ConflictStatus
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    # How it was closed: {"by": actor, "suggestion": {...}} / {"by", "note"} / {"reason"}
    resolution: dict[str, Any] | None = None

    def close(self, status: ConflictStatus, at: datetime, resolution: dict[str, Any]
              ) -> Conflict:
        if self.status is not ConflictStatus.OPEN:
            raise InvalidTransition(f"the conflict is {self.status.value} already")
        if status is ConflictStatus.OPEN:
            raise ValueError("closing a conflict needs a closed status")
        return replace(self, status=status, updated_at=at, closed_at=at, resolution=resolution)


class SuggestionKind(StrEnum):
    RESCHEDULE = "reschedule"  # another time, the same resources
    SUBSTITUTE = "substitute"  # the same time, another resource in the conflicted one's place
    # reschedule, then offer the freed slot to a waiting customer (the waitlist's offer)
    RESCHEDULE_AND_PROMOTE = "reschedule_and_promote"


@dataclass(frozen=True, slots=True)
class SuggestedResource:
    resource_id: str
    role: int | None = None  # index into the service's requirements


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One way out of a conflict: where the booking would be afterwards. Its `id` is a hash
    of that content (not of its rank or wording), so a resolve call can name it and the
    server can check it still applies by computing the suggestions again."""

    kind: SuggestionKind
    start: datetime
    end: datetime
    resources: tuple[SuggestedResource, ...]
    replaces: tuple[str, str] | None = None  # (from resource id, to resource id)
    waitlist_entry_id: str | None = None
    rank: int = field(default=0, compare=False)
    summary: str = field(default="", compare=False)

    @property
    def id(self) -> str:
        content = "|".join([
            self.kind.value, self.start.isoformat(), self.end.isoformat(),
            ",".join(sorted(r.resource_id for r in self.resources)),
            "->".join(self.replaces) if self.replaces else "",
            self.waitlist_entry_id or "",
        ])
        return "sg_" + hashlib.sha256(content.encode()).hexdigest()[:16]

    @property
    def resource_ids(self) -> tuple[str, ...]:
        return tuple(r.resource_id for r in self.resources)


class SuggestionGone(ConflictError):
    """The suggestion named no longer applies (taken, or the situation changed): 409 with
    the suggestions that apply now."""

    def __init__(self, detail: str, suggestions: Sequence[Suggestion]) -> None:
        super().__init__(detail)
        self.suggestions = tuple(suggestions)


@dataclass(frozen=True, slots=True)
class ConflictFilter:
    status: ConflictStatus | None = ConflictStatus.OPEN
    resource_id: str | None = None
    booking_id: str | None = None
    after: tuple[datetime, str] | None = None  # keyset cursor: (start, id)
    limit: int = 50


class Conflicts(Protocol):
    def open(self, conflict: Conflict) -> tuple[Conflict, bool]:
        """Store an open conflict unless one is open for its (booking, resource, cause_ref)
        already; returns the open one and whether it is new (the database enforces the
        one-open rule, so concurrent detectors agree)."""
        ...

    def get(self, org_id: str, conflict_id: str) -> Conflict | None: ...

    def update(self, conflict: Conflict) -> None: ...

    def list(self, org_id: str, query: ConflictFilter) -> builtins.list[Conflict]:
        """In (start, id) order."""
        ...

    def open_on(self, org_id: str, resource_ids: Sequence[str]
                ) -> builtins.list[Conflict]: ...

    def open_of_booking(self, org_id: str, booking_id: str) -> builtins.list[Conflict]: ...
