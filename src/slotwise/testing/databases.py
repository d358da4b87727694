"""Throwaway PostgreSQL databases for tests: created fresh, dropped afterwards."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

PG_ADMIN = os.environ.get("SLOTWISE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


class PostgresUnavailable(RuntimeError):
    pass


@contextmanager
def fresh_postgres_database(prefix: str = "slotwise_test") -> Iterator[str]:
    """Yield the SQLAlchemy URL of a new empty database; drop it (forcibly) on exit.

    Raises PostgresUnavailable when the server cannot be reached: the suite needs it."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        raise PostgresUnavailable(f"PostgreSQL is required ({PG_ADMIN}): {error}") from error
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def migrated_database(dialect: str, directory: Path) -> Iterator[str]:
    """A fresh database at the latest migration: a SQLite file in `directory`, or a new
    PostgreSQL database (dropped afterwards). For tests that must not share one."""
    from slotwise.store.database import make_engine
    from slotwise.store.migrate import upgrade

    def migrate(url: str) -> None:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()

    if dialect == "sqlite":
        url = f"sqlite:///{directory / 'slotwise.db'}"
        migrate(url)
        yield url
        return
    with fresh_postgres_database() as url:
        migrate(url)
        yield url


@contextmanager
def empty_database(dialect: str, directory: Path, prefix: str = "slotwise_test"
                   ) -> Iterator[str]:
    """A fresh, empty database for a server that migrates it itself: a SQLite file in
    `directory`, or a new PostgreSQL database dropped afterwards (PostgresUnavailable when
    the server cannot be reached)."""
    if dialect == "sqlite":
        yield f"sqlite:///{directory / 'slotwise.db'}"
        return
    with fresh_postgres_database(prefix) as url:
        yield url
