"""Column types shared by both dialects."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import BigInteger, ColumnElement, Dialect, String, any_, bindparam, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
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
        return from_epoch(value)


def epoch(value: datetime) -> int:
    return int(value.timestamp())


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def from_epoch(value: int) -> datetime:
    # The same instant as datetime.fromtimestamp(value, UTC), in half the time: a search turns
    # thousands of stored instants into datetimes.
    return _EPOCH + _SECOND * int(value)


def one_of(connection: Connection, column: ColumnElement[str], values: Iterable[str]
           ) -> ColumnElement[bool]:
    """``column IN values``. On PostgreSQL it is ``column = ANY(:array)``, one parameter: a
    service's pool of a thousand resources would otherwise be a thousand parameters to render
    and convert on every query of every search (the planner uses the same indexes)."""
    wanted = list(values)
    if connection.dialect.name == "postgresql":
        return column == any_(literal(wanted, ARRAY(String)))
    return column.in_(wanted)


def one_of_param(postgresql: bool, column: ColumnElement[str], name: str
                 ) -> ColumnElement[bool]:
    """`one_of` for a statement built once: the values come as the parameter `name`."""
    if postgresql:
        return column == any_(bindparam(name, type_=ARRAY(String)))
    return column.in_(bindparam(name, expanding=True))


S = TypeVar("S")


class PerDialect(Generic[S]):
    """A statement built once per dialect, then executed with bound parameters. The hot path's
    statements built anew on every call spent more CPU in SQLAlchemy constructing them and
    their cache keys than in running them; a built statement memoises its key."""

    def __init__(self, build: Callable[[bool], S]) -> None:
        self._build = build
        self._built: dict[bool, S] = {}

    def __call__(self, connection: Connection) -> S:
        postgresql = connection.dialect.name == "postgresql"
        found = self._built.get(postgresql)
        if found is None:
            found = self._built[postgresql] = self._build(postgresql)
        return found
