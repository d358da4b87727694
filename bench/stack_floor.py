"""The stack's floor, between the ceiling and slotwise: the same guarded insert as
bench/ceiling_asgi.py, written the way slotwise writes — FastAPI, a Pydantic body, a sync
route on the thread pool (`SLOTWISE_REQUEST_THREADS`' default), SQLAlchemy Core over psycopg
with a pooled engine, a transaction per request — and nothing else: no authentication, no
availability, no holds, no outbox. What slotwise adds to a booking is the gap between this and
slotwise; what the framework and the ORM cost is the gap between this and the ceiling.

    FLOOR_DATABASE_URL=postgresql+psycopg://... python -m uvicorn --app-dir bench \\
        stack_floor:create --factory --workers N
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Response
from pydantic import BaseModel
from sqlalchemy import create_engine, text

THREADS = 4
LOCK = text("SELECT pg_advisory_xact_lock(:resource)")
INSERT = text("INSERT INTO bench_allocations (resource_id, blocked_start, blocked_end, active) "
              "VALUES (:resource, :start, :end, true) ON CONFLICT DO NOTHING RETURNING id")


class Attempt(BaseModel):
    resource: int
    slot: int


def create() -> FastAPI:
    engine = create_engine(os.environ["FLOOR_DATABASE_URL"], pool_size=10, max_overflow=10)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        yield
        engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/")
    def ready() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/", status_code=201)
    def attempt(body: Attempt, response: Response) -> dict[str, bool]:
        with engine.begin() as connection:
            connection.execute(LOCK, {"resource": body.resource})
            inserted = connection.execute(INSERT, {
                "resource": body.resource, "start": body.slot * 3600,
                "end": body.slot * 3600 + 3600}).first()
        if inserted is None:
            response.status_code = 409
        return {"ok": inserted is not None}

    return app
