"""Request id, access log and latency metrics; Idempotency-Key replay."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool

from slotwise.api.deps import use_cases
from slotwise.api.errors import (
    database_unavailable,
    domain_problem,
    problem,
    unavailable_problem,
)
from slotwise.api.logs import request_id
from slotwise.api.metrics import metrics
from slotwise.app.idempotency import request_fingerprint
from slotwise.domain.errors import DomainError
from slotwise.domain.model import IdempotencyRecord

log = logging.getLogger("slotwise.http")

Next = Callable[[Request], Awaitable[Response]]


async def observe(request: Request, call_next: Next) -> Response:
    rid = request.headers.get("x-request-id") or secrets.token_hex(8)
    token = request_id.set(rid)
    started = time.perf_counter()
    status = 500
    try:
        try:
            response = await call_next(request)
        except Exception as error:
            # A database outage met outside a route (authentication, idempotency claims).
            if not database_unavailable(error):
                raise
            response = unavailable_problem()
        status = response.status_code
        response.headers["X-Request-ID"] = rid
        return response
    finally:
        elapsed = time.perf_counter() - started
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics(request).request_seconds.labels(request.method, route, str(status)).observe(
            elapsed)
        log.info("request", extra={"fields": {
            "method": request.method, "path": request.url.path, "route": route,
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
