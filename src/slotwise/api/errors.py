"""One table maps domain errors to HTTP; every error answer is an RFC 9457 problem."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from slotwise.domain import errors as e
from slotwise.domain import payments as pay

PROBLEM_BASE = "https://slotwise.dev/problems/"
PROBLEM_JSON = "application/problem+json"

# (status, slug, title); the most specific class is listed first.
_TABLE: list[tuple[type[e.DomainError], int, str, str]] = [
    (e.NotFound, 404, "not-found", "Not found"),
    (e.InvalidInput, 422, "validation-error", "Invalid request"),
    (e.Unauthenticated, 401, "unauthenticated", "Authentication required"),
    (e.Forbidden, 403, "forbidden", "Not allowed for this role"),
    (e.SeriesUnavailable, 409, "series-unavailable", "Some occurrences are not available"),
    (e.SlotUnavailable, 409, "slot-unavailable", "Slot not available"),
    (e.HoldNotUsable, 409, "hold-not-usable", "Hold cannot be used"),
    (e.InvalidTransition, 409, "invalid-transition", "Not possible in this state"),
    (e.AlreadyExists, 409, "already-exists", "Already exists"),
    (e.Conflict, 409, "conflict", "Conflict"),
    (e.IdempotencyInFlight, 409, "idempotency-in-flight", "Request still in flight"),
    (e.IdempotencyMismatch, 422, "idempotency-mismatch", "Idempotency-Key reused"),
    (pay.PaymentUnavailable, 503, "payment-unavailable", "Payment gateway unavailable"),
    (pay.PaymentRejected, 402, "payment-rejected", "Payment refused"),
    (pay.BadSignature, 400, "bad-signature", "Webhook signature does not verify"),
]


def problem(status: int, slug: str, title: str, detail: str | None = None,
            **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


RETRY_AFTER_S = 1
PAYMENT_RETRY_AFTER_S = 5


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` is the database being out of reach (down, restarting, connection cut)
    rather than a fault of ours: such a request is answered 503 with Retry-After.

    The store does not translate connection loss into a domain error, so the one place that
    knows both sides, this table's module, recognises SQLAlchemy's connection errors."""
    if isinstance(error, BaseExceptionGroup):
        return any(database_unavailable(inner) for inner in error.exceptions)
    return isinstance(error, OperationalError) or (isinstance(error, DBAPIError)
                                                   and error.connection_invalidated)


def unavailable_problem() -> JSONResponse:
    response = problem(503, "database-unavailable", "Database unavailable",
                       "the database cannot be reached; retry shortly")
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _window(ref: e.SlotRef) -> dict[str, str]:
    return {"start": _z(ref.start), "end": _z(ref.end)}


def _z(instant: Any) -> str:
    return str(instant.strftime("%Y-%m-%dT%H:%M:%SZ"))


def domain_problem(error: e.DomainError) -> JSONResponse:
    for cls, status, slug, title in _TABLE:
        if isinstance(error, cls):
            extra: dict[str, Any] = {}
            if isinstance(error, e.InvalidInput):
                extra["errors"] = [{"loc": list(error.loc) or ["body"], "msg": error.detail,
                                    "type": "value_error"}]
            if isinstance(error, e.SlotUnavailable):
                extra["alternatives"] = [_window(a) for a in error.alternatives]
            elif status == 409 and not isinstance(error, e.IdempotencyInFlight):
                extra["alternatives"] = []
            if isinstance(error, e.IdempotencyMismatch):
                extra["errors"] = [{"loc": ["header", "Idempotency-Key"], "msg": error.detail,
                                    "type": "idempotency_mismatch"}]
            if isinstance(error, e.SeriesUnavailable):
                extra["conflicts"] = [_window(c) for c in error.conflicts]
            if isinstance(error, pay.PaymentRejected) and error.code:
                extra["code"] = error.code
            response = problem(status, slug, title, error.detail, **extra)
            if status == 503:
                response.headers["Retry-After"] = str(PAYMENT_RETRY_AFTER_S)
            return response
    return problem(400, "bad-request", "Bad request", error.detail)


def _validation_problem(exc: RequestValidationError) -> JSONResponse:
    errors = []
    for err in exc.errors():
        loc = [part for part in err.get("loc", ()) if isinstance(part, str | int)]
        errors.append({"loc": loc, "msg": err.get("msg", "invalid"),
                       "type": err.get("type", "value_error")})
    first = errors[0] if errors else None
    detail = f"{'.'.join(map(str, first['loc']))}: {first['msg']}" if first else None
    return problem(422, "validation-error", "Invalid request", detail, errors=errors)


def install(app: FastAPI) -> None:
    @app.exception_handler(e.DomainError)
    async def _domain(_: Request, exc: e.DomainError) -> JSONResponse:
        return domain_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_problem(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's answer to a body it cannot even decode
            return problem(422, "validation-error", "Invalid request", str(exc.detail),
                           errors=[{"loc": ["body"], "msg": str(exc.detail),
                                    "type": "json_invalid"}])
        slug = {404: "not-found", 405: "method-not-allowed", 401: "unauthenticated"}.get(
            exc.status_code, "http-error")
        return problem(exc.status_code, slug, str(exc.detail), None)

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        if database_unavailable(exc):
            return unavailable_problem()
        raise exc

    @app.exception_handler(json.JSONDecodeError)
    async def _json(_: Request, exc: json.JSONDecodeError) -> JSONResponse:
        return problem(422, "validation-error", "Invalid request", f"malformed JSON: {exc}",
                       errors=[{"loc": ["body"], "msg": "malformed JSON", "type": "json_invalid"}])


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": title, "content": {PROBLEM_JSON: {"schema": {
        "$ref": "#/components/schemas/SlotProblem" if status == 409
        else "#/components/schemas/Problem"}}}}
    for status, title in [(401, "Missing, wrong or expired token"),
                          (403, "Right token, wrong role"), (404, "Not found"),
                          (409, "Conflict with current state"), (422, "Invalid request")]
}
