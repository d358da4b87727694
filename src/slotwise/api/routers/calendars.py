"""Calendars: connect external calendars to resources (CalDAV and ICS by URL, Google and
Microsoft by OAuth), see each connection's health, sync one now, receive the providers' push
notifications, and publish a resource's bookings as a private ICS feed."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse

from slotwise.api.auth import CurrentPrincipal
from slotwise.api.calendar_push import parse_google_notification, parse_graph_notifications
from slotwise.api.deps import App
from slotwise.api.errors import ERROR_RESPONSES
from slotwise.api.schemas.calendars import (
    CalendarIn,
    CalendarOut,
    CalendarPage,
    CalendarPatch,
    FeedOut,
    OAuthStartIn,
    OAuthStartOut,
    SyncIn,
)
from slotwise.app.calendar_connections import ConnectionChanges, ConnectionFields, lag_seconds
from slotwise.domain.calendars import CalendarConnection
from slotwise.domain.errors import InvalidInput, NotFound

router = APIRouter(prefix="/v1", tags=["calendars"], responses=ERROR_RESPONSES)
OAUTH_PROVIDERS = ("google", "microsoft")


def connection_out(c: CalendarConnection, app: Any) -> dict[str, Any]:
    now = app.calendar_sync.timer.now()
    return {
        "id": c.id, "resource_id": c.resource_id, "provider": c.provider,
        "calendar_id": c.calendar_id, "name": c.name, "import_busy": c.import_busy,
        "export_bookings": c.export_bookings, "poll_s": c.poll_s, "created_at": c.created_at,
        "health": {"status": c.status.value, "last_sync_at": c.last_sync_at,
                   "last_success_at": c.last_success_at, "lag_s": lag_seconds(c, now),
                   "last_error": c.last_error, "last_error_at": c.last_error_at,
                   "failures": c.failures, "push": c.channel is not None},
    }


@router.post("/calendars", status_code=201, response_model=CalendarOut)
def connect_calendar(body: CalendarIn, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    """Connect a CalDAV calendar or an ICS subscription to a resource (owner or admin). The
    calendar must answer with the credentials given (else 422, nothing stored); its busy
    time blocks the resource after the first sync, which starts at once."""
    export = body.provider == "caldav" if body.export_bookings is None else body.export_bookings
    config = {"url": body.url, "username": body.username, "email": body.email}
    credentials = {"password": body.password} if body.password is not None else {}
    connection = app.calendars.connect(who, ConnectionFields(
        resource_id=body.resource_id, provider=body.provider, calendar_id=body.url,
        name=body.name, config={k: v for k, v in config.items() if v is not None},
        credentials=credentials, import_busy=body.import_busy, export_bookings=export,
        poll_s=body.poll_s))
    return connection_out(connection, app)


@router.get("/calendars", response_model=CalendarPage)
def list_calendars(who: CurrentPrincipal, app: App,
                   resource_id: Annotated[str | None, Query(max_length=40)] = None
                   ) -> dict[str, Any]:
    return {"items": [connection_out(c, app) for c in app.calendars.list(who, resource_id)],
            "next_cursor": None}


@router.get("/calendars/{connection_id}", response_model=CalendarOut)
def get_calendar(connection_id: str, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    return connection_out(app.calendars.get(who, connection_id), app)


@router.patch("/calendars/{connection_id}", response_model=CalendarOut)
def change_calendar(connection_id: str, body: CalendarPatch, who: CurrentPrincipal,
                    app: App) -> dict[str, Any]:
    changed = app.calendars.change(who, connection_id, ConnectionChanges(
        name=body.name, import_busy=body.import_busy, export_bookings=body.export_bookings,
        poll_s=body.poll_s, enabled=body.enabled))
    return connection_out(changed, app)


@router.delete("/calendars/{connection_id}", status_code=204, response_class=Response)
def disconnect_calendar(connection_id: str, who: CurrentPrincipal, app: App) -> Response:
    """Remove the connection and the busy time it imported (owner or admin). Events it
    exported stay in that calendar."""
    app.calendars.disconnect(who, connection_id)
    return Response(status_code=204)


@router.post("/calendars/{connection_id}/sync", response_model=CalendarOut)
def sync_calendar(connection_id: str, who: CurrentPrincipal, app: App,
                  body: SyncIn | None = None) -> dict[str, Any]:
    """Sync now and answer with the connection's health afterwards (a failing calendar
    answers 200 with `health.status` "error" and keeps its last good busy time)."""
    full = body.full if body is not None else False
    return connection_out(app.calendars.sync_now(who, connection_id, full=full), app)


@router.post("/calendars/oauth/{provider}/start", response_model=OAuthStartOut)
def oauth_start(provider: str, body: OAuthStartIn, who: CurrentPrincipal, request: Request,
                app: App) -> dict[str, Any]:
    """Begin connecting a Google or Microsoft calendar: send the person to `authorize_url`;
    the provider returns them to the callback, which creates the connection."""
    if provider not in OAUTH_PROVIDERS:
        raise NotFound(f"no OAuth provider {provider!r}")
    redirect = body.redirect_uri or str(request.url_for("oauth_callback", provider=provider))
    url, state = app.calendars.oauth_start(who, provider, body.resource_id, redirect)
    return {"authorize_url": url, "state": state}


@router.get("/calendars/oauth/{provider}/callback", status_code=201,
            response_model=CalendarOut, name="oauth_callback", tags=["public"])
def oauth_callback(provider: str, app: App,
                   code: Annotated[str, Query(min_length=1, max_length=4096)],
                   state: Annotated[str, Query(min_length=1, max_length=4096)]
                   ) -> dict[str, Any]:
    """Where the provider sends the person back: the signed `state` says who started the
    flow, for which resource (it expires after 15 minutes). A reconnect of the same calendar
    updates the existing connection instead of adding a second one."""
    if provider not in OAUTH_PROVIDERS:
        raise NotFound(f"no OAuth provider {provider!r}")
    return connection_out(app.calendars.oauth_finish(provider, code, state), app)


_REFUSED: dict[int | str, dict[str, Any]] = {403: {
    "description": "The channel token or clientState does not match: nothing changed"}}


@router.post("/calendars/google/notifications", status_code=200, response_class=Response,
             tags=["public"], responses=_REFUSED)
def google_notification(request: Request, app: App) -> Response:
    """Google's push channel (`events.watch`) posts here: the `X-Goog-Channel-Token` must be
    the channel's, then a debounced incremental sync follows."""
    notice = parse_google_notification(request.headers)
    if notice is None:
        raise InvalidInput("not a Google channel notification", ("header", "X-Goog-Channel-ID"))
    app.calendar_sync.notified(notice.channel_id, notice.token or "",
                               resource_state=notice.resource_state)
    return Response(status_code=200)


@router.post("/calendars/microsoft/notifications", status_code=202, response_class=Response,
             tags=["public"], responses={**_REFUSED, 200: {
                 "description": "The subscription's validation handshake: the token echoed",
                 "content": {"text/plain": {}}}})
async def microsoft_notification(request: Request, app: App, validation_token: Annotated[
        str | None, Query(alias="validationToken", max_length=4096)] = None) -> Response:
    """Microsoft Graph posts change notifications here. Creating a subscription first sends
    `?validationToken=`, echoed as text/plain; afterwards every notification's
    `clientState` must be the subscription's, then a debounced delta sync follows."""
    if validation_token is not None:
        return PlainTextResponse(validation_token)
    try:
        notices = parse_graph_notifications(await request.body())
    except ValueError as error:
        raise InvalidInput(f"not Graph change notifications: {error}", ("body",)) from error
    pairs = [(n.subscription_id, n.client_state or "") for n in notices]
    await run_in_threadpool(app.calendar_sync.notified_all, pairs)
    return Response(status_code=202)


@router.post("/resources/{resource_id}/feed", status_code=201, response_model=FeedOut)
def open_feed(resource_id: str, who: CurrentPrincipal, request: Request,
              app: App) -> dict[str, Any]:
    """A private ICS feed of the resource's bookings (owner or admin). A new call replaces
    the feed: the old URL stops working."""
    feed, token = app.calendars.open_feed(who, resource_id)
    return {"url": str(request.url_for("read_feed", token=token)), "token": token,
            "created_at": feed.created_at}


@router.delete("/resources/{resource_id}/feed", status_code=204, response_class=Response)
def revoke_feed(resource_id: str, who: CurrentPrincipal, app: App) -> Response:
    app.calendars.revoke_feed(who, resource_id)
    return Response(status_code=204)


@router.get("/feeds/{token}.ics", name="read_feed", tags=["public"], response_class=Response,
            responses={200: {"content": {"text/calendar": {}}}})
def read_feed(token: str, request: Request, app: App) -> Response:
    """The feed itself (no login: the token is the secret). Unknown or revoked → 404. An
    `If-None-Match` with the current ETag is answered 304."""
    body = app.calendars.feed_body(token)
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=300"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)
