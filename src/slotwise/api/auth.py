"""Bearer authentication: session tokens and API keys resolve to a Principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from slotwise.api.deps import use_cases
from slotwise.domain.errors import Unauthenticated
from slotwise.domain.model import Principal

_bearer = HTTPBearer(auto_error=False, description="A session token or an API key")


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("send Authorization: Bearer <token>")
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:  # the idempotency middleware already resolved this same header
        return known
    return await run_in_threadpool(use_cases(request).accounts.authenticate,
                                   credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(principal)]


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The bearer credential itself, for the one call that acts on it (sign-out); the use
    case authenticates it."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("send Authorization: Bearer <token>")
    return credentials.credentials


BearerToken = Annotated[str, Depends(bearer_token)]
