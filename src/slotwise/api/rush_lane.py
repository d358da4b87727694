"""`POST /v1/bookings` in a rush, refused before FastAPI when its start is taken (app/rush.py).

Plain ASGI in front of the application: a request the lane does not refuse goes on unchanged,
its body replayed, and the route decides it as always. The lane answers only what the route
would: the same body model, the same bearer credential, the same 409 problem through
`domain_problem`, counted in the same metric. It steps aside for a request with an
Idempotency-Key or a query string, for a body the route would refuse (422) and for a caller
it cannot authenticate (401): the route answers those.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slotwise.api.errors import domain_problem
from slotwise.api.metrics import Metrics
from slotwise.api.schemas.bookings import BookingIn
from slotwise.app.rush import RushRefusals
from slotwise.domain.errors import ReadUnavailable, SlotUnavailable

PATH = "/v1/bookings"


@dataclass(frozen=True)
class _Route:
    """What the access log and the latency metric read of `scope["route"]` (`Observe`): the
    route's path, as FastAPI's own route would give it."""

    path: str


class RushLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rush: RushRefusals | None = None
        if (scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == PATH
                and not scope.get("query_string")):
            rush = scope["app"].state.use_cases.rush
        if rush is None or not rush.reads.is_open or not rush.any_in_rush():
            await self.app(scope, receive, send)  # its body is read once, by the route
            return
        headers = Headers(scope=scope)
        if "idempotency-key" in headers:
            await self.app(scope, receive, send)
            return
        messages, body = await _body(receive)
        replay = _replaying(messages, receive)
        registry: Metrics = scope["app"].state.metrics
        refusal = await _refusal(rush, headers, body, registry)
        if refusal is None:
            await self.app(scope, replay, send)
            return
        registry.bookings_refused.labels(type(refusal).__name__).inc()
        registry.rush_lane.labels("refused").inc()
        scope["route"] = _Route(PATH)
        await domain_problem(refusal)(scope, replay, send)


async def _refusal(rush: RushRefusals, headers: Headers, body: bytes,
                   registry: Metrics) -> SlotUnavailable | None:
    """The lane's 409, or None: the route decides (counted when the lane had looked)."""
    if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return None
    try:
        wanted = BookingIn.model_validate(json.loads(body))  # as FastAPI validates a body
    except (ValueError, ValidationError):
        return None
    if (wanted.hold_id is not None or wanted.recurrence is not None or wanted.resource_ids
            or not rush.in_rush(wanted.service_id)):
        return None
    scheme, token = get_authorization_scheme_param(headers.get("authorization"))
    if scheme.lower() != "bearer" or not token:
        return None
    refusal = None
    try:
        caller = await rush.caller(token)
        if caller is not None:
            refusal = await rush.refusal(caller, wanted.service_id, wanted.start)
    except ReadUnavailable:
        pass
    if refusal is None:
        registry.rush_lane.labels("passed").inc()
    return refusal


async def _body(receive: Receive) -> tuple[list[Message], bytes]:
    """Every message of the request's body, and the body."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break  # the client went away: the route meets it as it would have
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return messages, b"".join(chunks)


def _replaying(messages: list[Message], receive: Receive) -> Callable[[], Awaitable[Message]]:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()  # after the body: a disconnect, when it comes

    return replay
