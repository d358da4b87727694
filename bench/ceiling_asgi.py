"""The Python stack's ceiling: a minimal ASGI app under the same uvicorn, one guarded insert
per request through psycopg 3 (the same driver), nothing else — no framework, no auth, no
availability search. `POST /` with `{"resource": int, "slot": int}` answers 201 when the row
went in and 409 when the exclusion constraint refused it.

    CEILING_DATABASE_URL=postgresql://... python -m uvicorn --app-dir bench \\
        ceiling_asgi:create --factory --workers N

The table is bench/pgbench_exclusion.sql's `bench_allocations` (bench/stress.py creates it).
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import psycopg
from bare_asgi import Receive, Send, body_of, lifespan

POOL_SIZE = int(os.environ.get("CEILING_POOL_SIZE", "10"))
INSERT = ("INSERT INTO bench_allocations (resource_id, blocked_start, blocked_end, active) "
          "VALUES (%s, %s, %s, true) ON CONFLICT DO NOTHING RETURNING id")



class Ceiling:
    def __init__(self, url: str) -> None:
        self.url = url
        self.pool: asyncio.Queue[psycopg.AsyncConnection[Any]] | None = None

    async def _open(self) -> None:
        pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
        for _ in range(POOL_SIZE):
            pool.put_nowait(await psycopg.AsyncConnection.connect(self.url, autocommit=True))
        self.pool = pool

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send, self._open)  # connections once per worker
            return
        body = await body_of(receive)
        status = 200
        if scope["method"] == "POST":
            request = json.loads(body)
            status = await self._insert(int(request["resource"]), int(request["slot"]))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"ok": true}'})

    async def _insert(self, resource: int, slot: int) -> int:
        pool = self.pool
        assert pool is not None, "lifespan start-up opens the pool"
        connection = await pool.get()
        try:
            async with connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock(%s)", (resource,))
                cursor = await connection.execute(INSERT, (resource, slot * 3600,
                                                           slot * 3600 + 3600))
                inserted = await cursor.fetchone()
        finally:
            pool.put_nowait(connection)
        return 201 if inserted else 409


def create() -> Ceiling:
    return Ceiling(os.environ["CEILING_DATABASE_URL"])
