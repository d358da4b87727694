"""Request id, access log and latency metrics; Idempotency-Key replay."""

from __future__ import annotations

import logging
import secrets
import time
from urllib.parse import parse_qsl

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slotwise.api.deps import use_cases
from slotwise.api.errors import (
    database_unavailable,
    domain_problem,
    problem,
    unavailable_problem,
)
from slotwise.api.logs import request_id
from slotwise.api.metrics import Metrics
from slotwise.app.idempotency import request_fingerprint
from slotwise.domain.errors import DomainError
from slotwise.domain.model import IdempotencyRecord

log = logging.getLogger("slotwise.http")


class SingleQueryValues:
    """A query parameter given twice is refused (422): every parameter of this API takes one
    value, and silently using the last of several would hide a client's mistake."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            names = [name for name, _ in parse_qsl(scope["query_string"].decode("latin-1"),
                                                   keep_blank_values=True)]
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                answer = problem(422, "validation-error", "Invalid request",
                                 f"query parameter {repeated[0]!r} is given more than once",
                                 errors=[{"loc": ["query", n], "msg": "given more than once",
                                          "type": "repeated"} for n in repeated])
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Observe:
    """Request id, access log and latency metrics, as plain ASGI: unlike an
    `@app.middleware("http")` function it adds no task and no stream per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = Headers(scope=scope).get("x-request-id") or secrets.token_hex(8)
        token = request_id.set(rid)
        started = time.perf_counter()
        status, started_answer = 500, False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_answer
            if message["type"] == "http.response.start":
                status, started_answer = message["status"], True
                MutableHeaders(scope=message).append("X-Request-ID", rid)
            await send(message)

        try:
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as error:
                # A database outage met outside a route (authentication, idempotency claims).
                if not database_unavailable(error) or started_answer:
                    raise
                await unavailable_problem()(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            registry: Metrics = scope["app"].state.metrics
            registry.request_seconds.labels(scope["method"], route, str(status)).observe(elapsed)
            log.info("request", extra={"fields": {
                "method": scope["method"], "path": scope["path"], "route": route,
                "status": status, "ms": round(elapsed * 1000, 2)}})
            request_id.reset(token)


class Idempotency:
    """`Idempotency-Key` on POST: the first request with a key runs and its answer is kept;
    a copy in flight gets 409, a later one the kept answer. Plain ASGI: every request passes
    through here, and a request without a key costs nothing but a header lookup."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key = Headers(scope=scope).get("idempotency-key")
        if key is None:
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= 255:
            answer = problem(422, "validation-error", "Invalid request",
                             "Idempotency-Key must be 1 to 255 characters",
                             errors=[{"loc": ["header", "Idempotency-Key"], "msg": "bad length",
                                      "type": "string_length"}])
            await answer(scope, receive, send)
            return
        request = Request(scope, receive)
        key_scope = await _scope(request)
        if key_scope is None:  # unauthenticated: the route answers 401, nothing kept
            await self.app(scope, receive, send)
            return
        body = await request.body()
        await self._keyed(scope, send, key_scope, key, body)

    async def _keyed(self, scope: Scope, send: Send, key_scope: str, key: str,
                     body: bytes) -> None:
        app = scope["app"].state.use_cases
        path: str = scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        fingerprint = request_fingerprint("POST", query, body)
        try:
            replay = await run_in_threadpool(app.idempotency.begin, key_scope, key, path,
                                             fingerprint)
        except DomainError as error:
            await domain_problem(error)(scope, _no_body, send)
            return
        if replay is not None and replay.status_code is not None:
            answer = Response(replay.body or b"", status_code=replay.status_code,
                              media_type=replay.content_type,
                              headers={"Idempotent-Replayed": "true"})
            await answer(scope, _no_body, send)
            return
        record = IdempotencyRecord(scope=key_scope, key=key, route=path,
                                   request_hash=fingerprint, created_at=app.clock.now())
        start: Message | None = None
        chunks: list[bytes] = []
        sent = False

        async def receive_body() -> Message:
            nonlocal sent
            if sent:  # the body was read already; what is left is the client going away
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, receive_body, keep)
        except BaseException:
            await run_in_threadpool(app.idempotency.abandon, record)
            raise
        assert start is not None, "the route answered nothing"
        content = b"".join(chunks)
        headers = Headers(raw=start["headers"])
        await run_in_threadpool(app.idempotency.finish, record, start["status"], content,
                                headers.get("content-type"))
        await send(start)
        await send({"type": "http.response.body", "body": content, "more_body": False})


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _scope(request: Request) -> str | None:
    """Keys are scoped to the organisation, or on public routes to the client address."""
    if request.url.path.startswith("/v1/public/"):
        client = request.client.host if request.client else "unknown"
        return f"ip:{client}"
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        who = await run_in_threadpool(use_cases(request).accounts.authenticate, token.strip())
    except DomainError:
        return None
    request.state.principal = who
    return f"org:{who.org_id}"
