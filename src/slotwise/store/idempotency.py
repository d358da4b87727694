"""Idempotency records, each written in its own short transaction so that a concurrent
retry with the same key sees the first request's claim at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from slotwise.domain.model import IdempotencyRecord
from slotwise.store.tables import idempotency_records as records


class SqlIdempotencyStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def claim(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        try:
            with self._engine.connect().execution_options(sqlite_write=True) as c, c.begin():
                c.execute(insert(records).values(
                    scope=record.scope, key=record.key, route=record.route,
                    request_hash=record.request_hash, created_at=record.created_at,
                ))
            return None
        except IntegrityError:
            with self._engine.connect() as c:
                row = c.execute(select(records).where(*self._key(record))).mappings().first()
            if row is None:  # it was forgotten between our insert and our read: claim again
                return self.claim(record)
            return IdempotencyRecord(
                scope=row["scope"], key=row["key"], route=row["route"],
                request_hash=row["request_hash"], created_at=row["created_at"],
                status_code=row["status_code"], body=row["body"],
                content_type=row["content_type"],
            )

    def complete(self, record: IdempotencyRecord) -> None:
        with self._engine.connect().execution_options(sqlite_write=True) as c, c.begin():
            c.execute(update(records).where(*self._key(record)).values(
                status_code=record.status_code, body=record.body,
                content_type=record.content_type,
            ))

    def forget(self, scope: str, key: str, route: str) -> None:
        with self._engine.connect().execution_options(sqlite_write=True) as c, c.begin():
            c.execute(delete(records).where(records.c.scope == scope, records.c.key == key,
                                            records.c.route == route))

    def purge(self, older_than: datetime) -> int:
        with self._engine.connect().execution_options(sqlite_write=True) as c, c.begin():
            result = c.execute(delete(records).where(records.c.created_at < older_than))
            return result.rowcount

    @staticmethod
    def _key(record: IdempotencyRecord) -> tuple[ColumnElement[bool], ...]:
        return (records.c.scope == record.scope, records.c.key == record.key,
                records.c.route == record.route)
