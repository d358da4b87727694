"""Recognise the database's overlap guard among integrity errors, on both dialects."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

_EXCLUSION_VIOLATION = "23P01"


def is_overlap_refusal(error: IntegrityError) -> bool:
    cause = error.orig
    if getattr(cause, "sqlstate", None) == _EXCLUSION_VIOLATION:
        return True
    return "slotwise_overlap" in str(cause)
