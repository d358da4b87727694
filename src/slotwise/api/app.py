"""The FastAPI application, built around wired use cases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from slotwise.api import errors, middleware
from slotwise.api.metrics import Metrics
from slotwise.api.routers import (
    accounts,
    bookings,
    calendars,
    conflicts,
    explain,
    jobs,
    live,
    ops,
    payments,
    public,
    recurrence,
    resources,
    services,
    waitlist,
    webhooks,
)
from slotwise.api.rush_lane import RushLane
from slotwise.api.schemas.common import Problem, SlotProblem
from slotwise.app.container import UseCases
from slotwise.web import pages


def create_app(use_cases: UseCases) -> FastAPI:
    app = FastAPI(
        lifespan=lambda _: _lifespan(use_cases),
        title="slotwise",
        version="1",
        summary="Booking and scheduling: availability, holds, bookings; no double-bookings.",
        openapi_url="/openapi.json",
    )
    app.state.use_cases = use_cases
    app.state.metrics = Metrics()
    errors.install(app)
    # Starlette runs the last added middleware first: observe wraps idempotency.
    app.add_middleware(middleware.Idempotency)
    app.add_middleware(RushLane)
    app.add_middleware(middleware.SingleQueryValues)
    app.add_middleware(middleware.Observe)
    # The busiest routes first: a request walks the routes in order until one matches (the
    # prefixes do not overlap, so the order decides nothing else).
    for module in (bookings, public, services, live, ops, accounts, resources):
        app.include_router(module.router)
    for module in (explain, recurrence, jobs, waitlist, payments, webhooks, calendars,
                   conflicts):
        app.include_router(module.router)
    pages.install(app)  # after the API: `/{org_slug}` must not shadow an API path
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


@asynccontextmanager
async def _lifespan(use_cases: UseCases) -> AsyncIterator[None]:
    """The rush lane's reads live in the event loop that serves the requests: opened when it
    starts (unless another application on the same use cases has them open), closed when it
    ends. Without a lifespan (a test client outside `with`) every attempt takes the full path."""
    reads = use_cases.rush.reads if use_cases.rush is not None else None
    opened = reads is not None and not reads.is_open
    if opened and reads is not None:
        await reads.open()
    try:
        yield
    finally:
        if opened and reads is not None:
            await reads.close()


def _openapi(app: FastAPI) -> dict[str, object]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                         routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (Problem, SlotProblem):
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in model_schema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components[model.__name__] = model_schema
    app.openapi_schema = schema
    return schema
