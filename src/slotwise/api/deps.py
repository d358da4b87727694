"""How request handlers reach the wired use cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from slotwise.app.container import UseCases


def use_cases(request: Request) -> UseCases:
    found: UseCases = request.app.state.use_cases
    return found


async def _use_cases(request: Request) -> UseCases:
    # A coroutine, so FastAPI runs it on the event loop: a sync dependency costs a hop to
    # the thread pool and back on every request, for one attribute lookup.
    return use_cases(request)


App = Annotated[UseCases, Depends(_use_cases)]
