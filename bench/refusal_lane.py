"""An upper bound for rewriting a rush's refusal, measured rather than guessed: `POST
/v1/bookings` answered by a bare ASGI app under the same uvicorn, its reads on async psycopg
and redis.asyncio on the event loop (no request threads, no FastAPI, no SQLAlchemy at run
time), and its decision taken by slotwise's own engine on what it read.

Per request, as slotwise's rush check does: the body through slotwise's own `BookingIn`; the
bearer session by its digest; the organisation's row; the busy time two weeks around the
start (slotwise's own statement, compiled once); the Redis holds of those resources; then
`slot_at` and, refused, `alternatives_in` on slotwise's `SlotRequest` with that busy time,
answered as slotwise's 409 problem. It does less than slotwise: the calendar's rules, its
catalog's version check and its write path are left out (a start that looks free answers 500,
the bench books every start first). So it bounds from below what such a rewrite would cost.

    LANE_DATABASE_URL=postgresql+psycopg://... LANE_REDIS_URL=redis://... \\
        python -m uvicorn --app-dir bench refusal_lane:create --factory --workers N

`bench/stress.py --only lane` measures it beside slotwise on the same refusals.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import psycopg
import redis.asyncio
from bare_asgi import Receive, Send, body_of, lifespan
from sqlalchemy import create_engine

from slotwise.api.schemas.bookings import BookingIn
from slotwise.app.availability import ALTERNATIVES_RADII, engine_busy, slot_request
from slotwise.bootstrap import Container, build
from slotwise.domain.ids import digest
from slotwise.domain.model import Service
from slotwise.engine.availability import SlotRequest, slot_at
from slotwise.engine.intervals import TimeRange
from slotwise.settings import Settings
from slotwise.store.repositories.busy import _MADE, _busy_range, busy_time_statement
from slotwise.store.types import epoch

POOL_SIZE = 10
SESSION = ("SELECT s.expires_at, u.org_id FROM auth_sessions s JOIN users u "
           "ON u.id = s.user_id WHERE s.token_hash = %s")
ORGANISATION = "SELECT timezone, catalog_version FROM organisations WHERE id = %s"


class Lane:
    def __init__(self, database_url: str, redis_url: str, key_prefix: str) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.key_prefix = key_prefix
        dialect = create_engine(database_url).dialect  # never connects: it only compiles
        self.busy_sql = str(busy_time_statement(True).compile(dialect=dialect))
        self.pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
        self.redis: redis.asyncio.Redis | None = None
        self.container: Container | None = None
        # (service, start) → the check's SlotRequest without busy time, its reach, the
        # resources and busy window it reads: slotwise's sync code, once per start
        self.plans: dict[tuple[str, datetime], tuple[Service, SlotRequest, timedelta,
                                                      list[str], int, int]] = {}

    async def _open(self) -> None:
        for _ in range(POOL_SIZE):
            self.pool.put_nowait(await psycopg.AsyncConnection.connect(
                self.database_url.replace("+psycopg", ""), autocommit=True))
        self.redis = redis.asyncio.Redis.from_url(self.redis_url)
        self.container = await asyncio.to_thread(build, Settings(
            database_url=self.database_url, redis_url=self.redis_url,
            redis_key_prefix=self.key_prefix))

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send, self._open)  # connections once per worker
            return
        body = await body_of(receive)
        status, answer = 200, {"ok": True}
        if scope["method"] == "POST":
            token = dict(scope["headers"])[b"authorization"].decode().split(" ", 1)[1]
            status, answer = await self._refuse(token, BookingIn.model_validate_json(body))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/problem+json")]})
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})

    async def _refuse(self, token: str, wanted: BookingIn) -> tuple[int, dict[str, Any]]:
        assert self.container is not None, "lifespan start-up builds it"
        assert self.redis is not None, "lifespan start-up opens it"
        now = self.container.use_cases.clock.now()
        connection = await self.pool.get()
        try:
            session = await (await connection.execute(SESSION, (digest(token),))).fetchone()
            if session is None or session[0] <= epoch(now):
                return 401, {"title": "Unauthorized"}
            org_id = session[1]
            await (await connection.execute(ORGANISATION, (org_id,))).fetchone()
            key = (wanted.service_id, wanted.start)
            if key not in self.plans:
                self.plans[key] = await asyncio.to_thread(self._plan, org_id, *key)
            service, template, reach, pooled, lo, hi = self.plans[key]
            rows = await (await connection.execute(self.busy_sql, {
                "org_id": org_id, "resource_ids": pooled, "start": lo, "end": hi,
                "now": epoch(now)})).fetchall()
        finally:
            self.pool.put_nowait(connection)
        pipe = self.redis.pipeline(transaction=False)
        for rid in pooled:
            pipe.zrangebyscore(f"{self.key_prefix}:{{{org_id}}}:res:{rid}",
                               f"({int(now.timestamp() * 1e6)}", "+inf")
        await pipe.execute()  # the scenario's holds are all converted: nothing to add
        busy: dict[str, list[Any]] = {rid: [] for rid in pooled}
        for row in rows:
            made = _MADE.get(tuple(row))
            if made is None:
                made = _MADE[tuple(row)] = _busy_range(*row)
            busy[made.resource_id].append(engine_busy(made))
        request = replace(template, calendars={
            rid: replace(cal, busy=tuple(busy[rid])) for rid, cal in template.calendars.items()})
        if slot_at(request, wanted.start) is not None:
            return 500, {"title": "the lane only refuses: book every start first"}
        search = self.container.use_cases.search
        alternatives = search.alternatives_in(request, service, wanted.start, reach)
        return 409, {"type": "https://slotwise.dev/problems/slot-unavailable",
                     "title": "Slot unavailable", "status": 409,
                     "alternatives": [{"start": _z(a.start), "end": _z(a.end)}
                                      for a in alternatives or []]}

    def _plan(self, org_id: str, service_id: str, start: datetime
              ) -> tuple[Service, SlotRequest, timedelta, list[str], int, int]:
        assert self.container is not None
        uses = self.container.use_cases
        now = uses.clock.now()
        with self.container.uow() as uow:
            service = uow.services.get(org_id, service_id)
            assert service is not None
            # The rush's read, as slotwise makes it once a day around a start came up short:
            # two weeks either side, the alternatives from the same read.
            reach = ALTERNATIVES_RADII[-1]
            span = TimeRange(start - reach, start + reach)
            template = slot_request(uow, service, now, span, by_preference=False)
        lo = epoch(span.start - timedelta(minutes=service.buffer_before_min))
        hi = epoch(span.end + timedelta(minutes=service.duration_min + service.buffer_after_min))
        return service, template, reach, sorted(template.calendars), lo, hi


def _z(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")  # as slotwise's problem answers write it


def create() -> Lane:
    return Lane(os.environ["LANE_DATABASE_URL"], os.environ["LANE_REDIS_URL"],
                os.environ.get("LANE_REDIS_KEY_PREFIX", "slotwise"))
