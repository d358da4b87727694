"""Engines for both dialects, configured for a writer-safe transaction discipline."""

from __future__ import annotations

import select
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry

from slotwise.domain.errors import NotFound


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    event.listen(engine.pool, "checkout", _refuse_dead_connection)
    event.listen(engine, "before_cursor_execute", _refuse_nul)
    return engine


def _refuse_dead_connection(dbapi_connection: Any, _record: ConnectionPoolEntry,
                            _proxy: Any) -> None:
    """A pooled connection the server has closed (a restart, an idle timeout) is replaced
    before use. Instead of a ping per checkout (`pool_pre_ping`, one round trip, two or three
    per booking), look at the idle socket: the server has nothing to say to an idle
    connection, so anything readable on it is its goodbye (an error message, or EOF)."""
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("the connection is closed")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    if poller.poll(0):
        raise DisconnectionError("the server closed the connection")


def _refuse_nul(_conn: Connection, _cursor: Any, statement: str, parameters: Any,
                _context: Any, _executemany: bool) -> None:
    """PostgreSQL text cannot hold NUL. Request bodies refuse it in text fields (422); what
    still carries one is an id looked up, and an id with NUL names nothing: 404, not a 500
    (SQLite simply finds nothing)."""
    rows = parameters if isinstance(parameters, list | tuple) else (parameters,)
    for row in rows:
        values = row.values() if isinstance(row, dict) else row
        if any(isinstance(v, str) and "\x00" in v for v in values):
            raise NotFound("no such object")


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself, so writers can ask for IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A writer takes SQLite's write lock up front: no deadlock-prone lock upgrades later.
        immediate = connection.get_execution_options().get("sqlite_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
