"""Column types shared by both dialects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Dialect
from sqlalchemy.types import TypeDecorator


class Instant(TypeDecorator[datetime]):
    """An aware UTC instant stored as whole epoch seconds.

    Integers compare exactly on SQLite and PostgreSQL alike, and PostgreSQL's exclusion
    constraint builds `int8range(start, end)` over them, so one schema serves both.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the store")
        return int(value.timestamp())

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return datetime.fromtimestamp(int(value), UTC)


def epoch(value: datetime) -> int:
    return int(value.timestamp())


def from_epoch(value: int) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)
