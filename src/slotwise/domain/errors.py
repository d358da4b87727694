"""The domain's error tree. Domain errors know nothing of HTTP; `api/errors.py` maps them.

    DomainError
    ├── NotFound                  a thing the caller may not see (unknown or another tenant's)
    ├── InvalidInput              well-formed but unacceptable input (carries the field path)
    ├── AuthError
    │   ├── Unauthenticated       no, wrong or expired credentials
    │   └── Forbidden             right credentials, wrong role
    ├── Conflict                  the request clashes with current state
    │   ├── SlotUnavailable       the start is not offered now (carries alternatives)
    │   │   └── SeriesUnavailable some occurrences of a series clash (carries them)
    │   ├── HoldNotUsable         the hold is expired, released, converted or for another slot
    │   ├── InvalidTransition     the booking's state does not allow the action
    │   └── AlreadyExists         a unique name (slug, e-mail) is taken
    └── IdempotencyError
        ├── IdempotencyInFlight   the first request with the key is still running
        └── IdempotencyMismatch   the key was used with another request body
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime


class DomainError(Exception):
    """Base of every expected failure."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    pass


class InvalidInput(DomainError):
    def __init__(self, detail: str, loc: Sequence[str | int] = ()) -> None:
        super().__init__(detail)
        self.loc = tuple(loc)


class AuthError(DomainError):
    pass


class Unauthenticated(AuthError):
    pass


class Forbidden(AuthError):
    pass


class Conflict(DomainError):
    pass


@dataclass(frozen=True, slots=True)
class SlotRef:
    start: datetime
    end: datetime


class SlotUnavailable(Conflict):
    def __init__(self, detail: str, alternatives: Sequence[SlotRef] = ()) -> None:
        super().__init__(detail)
        self.alternatives = tuple(alternatives)


class SeriesUnavailable(SlotUnavailable):
    def __init__(
        self, detail: str, conflicts: Sequence[SlotRef], alternatives: Sequence[SlotRef] = ()
    ) -> None:
        super().__init__(detail, alternatives)
        self.conflicts = tuple(conflicts)


class HoldNotUsable(Conflict):
    pass


class InvalidTransition(Conflict):
    pass


class AlreadyExists(Conflict):
    pass


class IdempotencyError(DomainError):
    pass


class IdempotencyInFlight(IdempotencyError):
    pass


class IdempotencyMismatch(IdempotencyError):
    pass


@dataclass
class OverlapRefused(Exception):
    """Raised by a store when the database's overlap guard refuses an allocation."""

    resource_ids: Sequence[str] = field(default_factory=tuple)


class ReadUnavailable(Exception):
    """Raised by an optional fast read (the rush lane's) when its database or Redis cannot
    answer now: the caller takes the full path, which says what is wrong."""
