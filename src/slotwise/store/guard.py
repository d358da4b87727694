"""Recognise the database's overlap guard among integrity errors, on both dialects."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from slotwise.domain.errors import AlreadyExists

_EXCLUSION_VIOLATION = "23P01"
_UNIQUE_VIOLATION = "23505"


def is_overlap_refusal(error: IntegrityError) -> bool:
    cause = error.orig
    if getattr(cause, "sqlstate", None) == _EXCLUSION_VIOLATION:
        return True
    return "slotwise_overlap" in str(cause)


def is_unique_violation(error: IntegrityError) -> bool:
    cause = error.orig
    if getattr(cause, "sqlstate", None) == _UNIQUE_VIOLATION:
        return True
    return "UNIQUE constraint failed" in str(cause)


@contextmanager
def unique_as_already_exists(connection: Connection, what: str) -> Iterator[None]:
    """Run an insert in a savepoint; a unique violation (a concurrent writer won) becomes
    `AlreadyExists` and leaves the surrounding transaction usable."""
    try:
        with connection.begin_nested():
            yield
    except IntegrityError as error:
        if is_unique_violation(error):
            raise AlreadyExists(f"{what} already exists") from error
        raise
