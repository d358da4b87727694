"""A booking or a hold in a rush, refused before FastAPI when its start is taken (app/rush.py).

Plain ASGI in front of the application, at four doors: `POST /v1/bookings` and `/v1/holds`
(a bearer credential), and the public `POST /v1/public/{org}/services/{service}/bookings` and
`/holds` (the organisation and service by their slugs). A request the lane does not refuse
goes on unchanged, its body replayed, and the route decides it as always. The lane answers
only what the route would: the same body model, the same caller, the same 409 problem
through `domain_problem`, counted in the same metric. It steps aside for a request with an
Idempotency-Key or a query string, for a body the route would refuse (422), for a caller it
cannot authenticate (401) and an organisation or service it cannot find (404): the route
answers those.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slotwise.api.errors import domain_problem
from slotwise.api.metrics import Metrics
from slotwise.api.routers.public import PublicHoldIn
from slotwise.api.schemas.bookings import BookingIn, HoldIn, PublicBookingIn
from slotwise.app.rush import RushRefusals
from slotwise.domain.errors import ReadUnavailable, SlotUnavailable

PUBLIC = re.compile(r"^/v1/public/([^/]+)/services/([^/]+)/(bookings|holds)$")


Wanted = BookingIn | HoldIn | PublicBookingIn | PublicHoldIn


@dataclass(frozen=True)
class _Door:
    """One route the lane stands in front of."""

    path: str  # the route's path, as the access log and latency metric name it (`Observe`)
    body: type[Wanted]
    public: bool  # the organisation and service by slug; else a bearer credential
    booking: bool  # a booking (counted as refused, as the route counts it); else a hold


def _takes(wanted: Wanted) -> bool:
    """Whether the lane may decide this body: one start, no hold, no chosen resources."""
    if isinstance(wanted, PublicBookingIn) and (  # BookingIn too
            wanted.hold_id is not None or wanted.recurrence is not None):
        return False
    return not (isinstance(wanted, BookingIn | HoldIn | PublicHoldIn) and wanted.resource_ids)


_BOOKINGS = _Door("/v1/bookings", BookingIn, public=False, booking=True)
_HOLDS = _Door("/v1/holds", HoldIn, public=False, booking=False)
_PUBLIC = {
    "bookings": _Door("/v1/public/{org_slug}/services/{service_slug}/bookings",
                      PublicBookingIn, public=True, booking=True),
    "holds": _Door("/v1/public/{org_slug}/services/{service_slug}/holds", PublicHoldIn,
                   public=True, booking=False),
}


@dataclass(frozen=True)
class _Route:
    """What the access log and the latency metric read of `scope["route"]` (`Observe`)."""

    path: str


class RushLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        door, slugs = _door(scope)
        rush: RushRefusals | None = scope["app"].state.use_cases.rush if door else None
        if (door is None or rush is None or not rush.reads.is_open
                or not rush.any_in_rush()):
            await self.app(scope, receive, send)  # its body is read once, by the route
            return
        headers = Headers(scope=scope)
        if "idempotency-key" in headers:
            await self.app(scope, receive, send)
            return
        messages, body = await _body(receive)
        replay = _replaying(messages, receive)
        registry: Metrics = scope["app"].state.metrics
        refusal = await _refusal(rush, door, slugs, headers, body, registry)
        if refusal is None:
            await self.app(scope, replay, send)
            return
        if door.booking:
            registry.bookings_refused.labels(type(refusal).__name__).inc()
        registry.rush_lane.labels("refused").inc()
        scope["route"] = _Route(door.path)
        await domain_problem(refusal)(scope, replay, send)


def _door(scope: Scope) -> tuple[_Door | None, tuple[str, str]]:
    """The door this request came to (None: not one of the lane's), and a public route's
    organisation and service slugs."""
    if scope["type"] != "http" or scope["method"] != "POST" or scope.get("query_string"):
        return None, ("", "")
    path: str = scope["path"]
    if path == _BOOKINGS.path:
        return _BOOKINGS, ("", "")
    if path == _HOLDS.path:
        return _HOLDS, ("", "")
    public = PUBLIC.match(path)
    if public is None:
        return None, ("", "")
    return _PUBLIC[public.group(3)], (public.group(1), public.group(2))


async def _refusal(rush: RushRefusals, door: _Door, slugs: tuple[str, str], headers: Headers,
                   body: bytes, registry: Metrics) -> SlotUnavailable | None:
    """The lane's 409, or None: the route decides (counted when the lane had looked)."""
    if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return None
    try:
        wanted = door.body.model_validate(json.loads(body))  # as FastAPI validates a body
    except (ValueError, ValidationError):
        return None
    if not _takes(wanted):
        return None
    service_id = wanted.service_id if isinstance(wanted, BookingIn | HoldIn) else None
    if service_id is not None and not rush.in_rush(service_id):
        return None  # a public body names its service by the path: known after a read
    try:
        refusal = await _decide(rush, door, slugs, headers, wanted, service_id)
    except ReadUnavailable:
        refusal = None  # the route reads again, and says what is wrong
    if refusal is None:
        registry.rush_lane.labels("passed").inc()
    return refusal


async def _decide(rush: RushRefusals, door: _Door, slugs: tuple[str, str], headers: Headers,
                  wanted: Wanted, service_id: str | None) -> SlotUnavailable | None:
    if door.public:
        org = await rush.organisation(slugs[0])
        if org is None:
            return None
        org_id, version = org
        service_id = await rush.service_id(org_id, version, slugs[1])
        if service_id is None or not rush.in_rush(service_id):
            return None
    else:
        scheme, token = get_authorization_scheme_param(headers.get("authorization"))
        if scheme.lower() != "bearer" or not token:
            return None
        caller = await rush.caller(token)
        if caller is None:
            return None
        org_id, version = caller.principal.org_id, caller.catalog_version
    assert service_id is not None, "a bearer route's body names its service"
    return await rush.refusal(org_id, version, service_id, wanted.start)


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
