"""The ASGI application factory uvicorn calls in every server process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from slotwise.api import logs
from slotwise.api.app import create_app
from slotwise.bootstrap import build
from slotwise.settings import Settings


def create() -> FastAPI:
    settings = Settings()
    logs.configure(settings.log_level, settings.log_json)
    container = build(settings)
    app = create_app(container.use_cases)
    application_lifespan = app.router.lifespan_context  # the rush lane's reads (api/app.py)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        if settings.jobs == "embedded":
            container.start_jobs()
        container.start_live()
        async with application_lifespan(app):
            yield
        container.close()

    app.router.lifespan_context = lifespan
    return app
