"""Request id, access log and latency metrics; Idempotency-Key replay."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
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

Next = Callable[[Request], Awaitable[Response]]


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


async def idempotency(request: Request, call_next: Next) -> Response:
    key = request.headers.get("idempotency-key")
    if request.method != "POST" or key is None:
        return await call_next(request)
    if not 1 <= len(key) <= 255:
        return problem(422, "validation-error", "Invalid request",
                       "Idempotency-Key must be 1 to 255 characters",
                       errors=[{"loc": ["header", "Idempotency-Key"], "msg": "bad length",
                                "type": "string_length"}])
    scope = await _scope(request)
    if scope is None:
        return await call_next(request)  # unauthenticated: the route answers 401, nothing kept
    app = use_cases(request)
    body = await request.body()
    fingerprint = request_fingerprint(request.method, str(request.url.query), body)
    try:
        replay = await run_in_threadpool(app.idempotency.begin, scope, key, request.url.path,
                                         fingerprint)
    except DomainError as error:
        return domain_problem(error)
    if replay is not None and replay.status_code is not None:
        return Response(replay.body or b"", status_code=replay.status_code,
                        media_type=replay.content_type,
                        headers={"Idempotent-Replayed": "true"})
    record = IdempotencyRecord(scope=scope, key=key, route=request.url.path,
                               request_hash=fingerprint, created_at=app.clock.now())
    try:
        response = await call_next(request)
    except BaseException:
        await run_in_threadpool(app.idempotency.abandon, record)
        raise
    chunks = [chunk async for chunk in response.body_iterator]  # type: ignore[attr-defined]
    content = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
    await run_in_threadpool(app.idempotency.finish, record, response.status_code, content,
                            response.headers.get("content-type"))
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return Response(content, status_code=response.status_code, headers=headers)


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
