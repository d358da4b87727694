"""Connecting calendars: create, read, change and remove connections (CalDAV and ICS by URL,
Google and Microsoft by OAuth), sync one now, and the resources' private ICS feeds.

A connection is checked when it is made (the calendar must answer with these credentials),
then synced at once in the background. OAuth's `state` is signed and expires, and carries
who started the flow, so the callback needs no session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from slotwise.app.accounts import require_admin
from slotwise.app.calendar_export import EXPORT_TASK
from slotwise.app.calendar_sync import CalendarSync
from slotwise.domain.booking import BookingStatus
from slotwise.domain.calendars import (
    CalendarAuthError,
    CalendarConnection,
    CalendarError,
    CalendarFeed,
    CalendarInfo,
    CalendarUnavailable,
    ConnectionStatus,
    OAuthClient,
    OutgoingEvent,
    export_uid,
)
from slotwise.domain.errors import InvalidInput, NotFound
from slotwise.domain.ids import digest, new_id, new_secret
from slotwise.domain.jobs import JobSpec
from slotwise.domain.model import BookingFilter, Principal
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory

_T = TypeVar("_T")
URL_PROVIDERS = ("caldav", "ics")  # connected with a URL (and a password)
_STATE_TTL = timedelta(minutes=15)
FEED_PAST = timedelta(days=30)
FEED_FUTURE = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class ConnectionFields:
    resource_id: str
    provider: str
    calendar_id: str
    name: str | None = None
    config: Mapping[str, Any] | None = None
    credentials: Mapping[str, Any] | None = None
    import_busy: bool = True
    export_bookings: bool = True
    poll_s: int = 60


@dataclass(frozen=True, slots=True)
class ConnectionChanges:
    name: str | None = None
    import_busy: bool | None = None
    export_bookings: bool | None = None
    poll_s: int | None = None
    enabled: bool | None = None


class ConnectCalendars:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, sync: CalendarSync, *,
                 state_key: bytes, oauth: Mapping[str, OAuthClient] | None = None,
                 feed_renderer: Callable[[list[OutgoingEvent], str, datetime], bytes]
                 | None = None,
                 min_poll_s: int = 15) -> None:
        self._uow = uow
        self._clock = clock
        self._sync = sync
        self._state_key = state_key
        self.oauth = dict(oauth or {})
        self._render = feed_renderer
        self.min_poll_s = min_poll_s

    # -- connections ------------------------------------------------------------------------

    def connect(self, principal: Principal, fields: ConnectionFields) -> CalendarConnection:
        """Check the calendar answers, store the connection, and defer its first sync."""
        require_admin(principal)
        self._check_poll(fields.poll_s)
        now = self._sync.timer.now()
        connection = CalendarConnection(
            id=new_id("calendar"), org_id=principal.org_id, resource_id=fields.resource_id,
            provider=fields.provider, calendar_id=fields.calendar_id, created_at=now,
            updated_at=now, name=fields.name, config=dict(fields.config or {}),
            credentials=dict(fields.credentials or {}), import_busy=fields.import_busy,
            export_bookings=fields.export_bookings, poll_s=fields.poll_s)
        with self._uow() as uow:
            resource = uow.resources.get(principal.org_id, fields.resource_id)
            if resource is None:
                raise NotFound("no such resource")
        # All-day and floating events are read in the resource's zone unless told otherwise.
        connection.config.setdefault("timezone", resource.timezone)
        if fields.provider not in self._sync.adapters:
            raise InvalidInput(f"provider {fields.provider!r} is not configured here; "
                               f"available: {sorted(self._sync.adapters)}", ("provider",))
        self._check_reachable(connection)
        with self._uow(write=True) as uow:
            uow.calendars.add(connection)
            self._sync.request(uow, connection, delay=timedelta(0))
            self._sync.watch_soon(uow, connection)
            _backfill(uow, connection, self._clock.now())
            uow.commit()
        return connection

    def _check_reachable(self, connection: CalendarConnection) -> list[CalendarInfo]:
        try:
            return self._sync.provider(connection).calendars()
        except CalendarAuthError as error:
            raise InvalidInput(f"the calendar refused these credentials: {error}",
                               ("credentials",)) from error
        except CalendarUnavailable as error:
            raise InvalidInput(f"the calendar could not be reached: {error}",
                               ("calendar_id",)) from error
        except CalendarError as error:
            raise InvalidInput(f"the calendar cannot be used: {error}",
                               ("calendar_id",)) from error

    def get(self, principal: Principal, connection_id: str) -> CalendarConnection:
        with self._uow() as uow:
            connection = uow.calendars.get(principal.org_id, connection_id)
        if connection is None:
            raise NotFound("no such calendar connection")
        return connection

    def list(self, principal: Principal, resource_id: str | None = None
             ) -> list[CalendarConnection]:
        with self._uow() as uow:
            return uow.calendars.list(principal.org_id, resource_id)

    def change(self, principal: Principal, connection_id: str, changes: ConnectionChanges
               ) -> CalendarConnection:
        require_admin(principal)
        if changes.poll_s is not None:
            self._check_poll(changes.poll_s)
        now = self._sync.timer.now()
        with self._uow(write=True) as uow:
            connection = uow.calendars.get(principal.org_id, connection_id, lock=True)
            if connection is None:
                raise NotFound("no such calendar connection")
            status = connection.status
            if changes.enabled is False:
                status = ConnectionStatus.DISABLED
            elif changes.enabled and status is ConnectionStatus.DISABLED:
                status = ConnectionStatus.PENDING
            after = replace(
                connection, status=status, updated_at=now,
                name=connection.name if changes.name is None else changes.name,
                import_busy=_pick(changes.import_busy, connection.import_busy),
                export_bookings=_pick(changes.export_bookings, connection.export_bookings),
                poll_s=_pick(changes.poll_s, connection.poll_s))
            uow.calendars.update(after)
            if after.import_busy and status is not ConnectionStatus.DISABLED:
                self._sync.request(uow, after, delay=timedelta(0))
            if after.export_bookings and not connection.export_bookings:
                _backfill(uow, after, self._clock.now())
            uow.commit()
        return after

    def disconnect(self, principal: Principal, connection_id: str) -> None:
        """Forget the connection and the busy time it brought; events already exported stay
        in the external calendar (they are the owner's record)."""
        require_admin(principal)
        connection = self.get(principal, connection_id)
        if connection.channel is not None:
            try:
                provider = self._sync.provider(connection)
                provider.stop(connection.channel)  # type: ignore[attr-defined]
            except (CalendarError, AttributeError):
                pass  # the channel expires by itself; notifications for it are refused
        with self._uow(write=True) as uow:
            uow.calendars.delete(principal.org_id, connection_id)
            uow.commit()

    def sync_now(self, principal: Principal, connection_id: str, *, full: bool = False
                 ) -> CalendarConnection:
        self.get(principal, connection_id)
        synced = self._sync.sync(principal.org_id, connection_id, full=full)
        if synced is None:
            raise NotFound("no such calendar connection")
        return self.get(principal, connection_id)

    def _check_poll(self, poll_s: int) -> None:
        if not self.min_poll_s <= poll_s <= 86_400:
            raise InvalidInput(f"poll_s must be between {self.min_poll_s} and 86400",
                               ("poll_s",))

    # -- OAuth ------------------------------------------------------------------------------

    def oauth_start(self, principal: Principal, provider: str, resource_id: str,
                    redirect_uri: str) -> tuple[str, str]:
        """(authorize URL, state) for connecting `resource_id` to a `provider` account."""
        require_admin(principal)
        client = self._oauth(provider)
        with self._uow() as uow:
            if uow.resources.get(principal.org_id, resource_id) is None:
                raise NotFound("no such resource")
        expires = int((self._sync.timer.now() + _STATE_TTL).timestamp())
        state = self._sign({"org": principal.org_id, "user": principal.user_id,
                            "resource": resource_id, "provider": provider,
                            "redirect": redirect_uri, "exp": expires,
                            "nonce": secrets.token_hex(8)})
        return client.authorize_url(state, redirect_uri), state

    def oauth_finish(self, provider: str, code: str, state: str) -> CalendarConnection:
        """The callback: check the state, trade the code, connect the primary calendar."""
        claims = self._verify(state)
        if claims.get("provider") != provider:
            raise InvalidInput("the state was issued for another provider", ("state",))
        client = self._oauth(provider)
        try:
            credentials = client.exchange(code, claims["redirect"])
        except CalendarError as error:
            raise InvalidInput(f"the provider refused the code: {error}", ("code",)) from error
        now = self._sync.timer.now()
        with self._uow() as uow:
            resource = uow.resources.get(claims["org"], claims["resource"])
        if resource is None:
            raise NotFound("no such resource")
        probe = CalendarConnection(
            id=new_id("calendar"), org_id=claims["org"], resource_id=claims["resource"],
            provider=provider, calendar_id="primary", created_at=now, updated_at=now,
            credentials=credentials, config={"timezone": resource.timezone})
        calendars = self._check_reachable(probe)
        primary = next((c for c in calendars if c.primary), calendars[0] if calendars else None)
        if primary is None:
            raise InvalidInput("the account has no calendar", ("code",))
        with self._uow(write=True) as uow:
            if uow.resources.get(claims["org"], claims["resource"]) is None:
                raise NotFound("no such resource")
            existing = [c for c in uow.calendars.list(claims["org"], claims["resource"])
                        if c.provider == provider and c.calendar_id == primary.id]
            if existing:  # a reconnect: new credentials, same connection, nothing duplicated
                connection = replace(existing[0], credentials=credentials, updated_at=now,
                                     status=ConnectionStatus.PENDING)
                uow.calendars.update(connection)
            else:
                connection = replace(probe, calendar_id=primary.id, name=primary.name)
                uow.calendars.add(connection)
            self._sync.request(uow, connection, delay=timedelta(0))
            self._sync.watch_soon(uow, connection)
            _backfill(uow, connection, self._clock.now())
            uow.commit()
        return connection

    def _oauth(self, provider: str) -> OAuthClient:
        client = self.oauth.get(provider)
        if client is None:
            raise NotFound(f"OAuth for {provider!r} is not configured on this server")
        return client

    def _sign(self, claims: dict[str, Any]) -> str:
        body = base64.urlsafe_b64encode(json.dumps(claims, sort_keys=True).encode()).decode()
        mac = hmac.new(self._state_key, body.encode(), hashlib.sha256).hexdigest()
        return f"{body}.{mac}"

    def _verify(self, state: str) -> dict[str, Any]:
        body, _, mac = state.rpartition(".")
        good = hmac.new(self._state_key, body.encode(), hashlib.sha256).hexdigest()
        if not body or not hmac.compare_digest(mac, good):
            raise InvalidInput("the state is not one this server issued", ("state",))
        try:
            claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body))
        except ValueError as error:
            raise InvalidInput("the state is malformed", ("state",)) from error
        if claims.get("exp", 0) < self._sync.timer.now().timestamp():
            raise InvalidInput("the state has expired: start again", ("state",))
        return claims

    # -- private ICS feeds ------------------------------------------------------------------

    def open_feed(self, principal: Principal, resource_id: str) -> tuple[CalendarFeed, str]:
        """A new feed token for the resource (the previous one stops working); the token is
        returned once and stored only as a digest."""
        require_admin(principal)
        now = self._clock.now()
        token = new_secret("icf")
        with self._uow(write=True) as uow:
            if uow.resources.get(principal.org_id, resource_id) is None:
                raise NotFound("no such resource")
            old = uow.calendars.feed(principal.org_id, resource_id)
            if old is not None:
                uow.calendars.put_feed(replace(old, revoked_at=now))
            feed = CalendarFeed(id=new_id("feed"), org_id=principal.org_id,
                                resource_id=resource_id, token_hash=digest(token),
                                created_at=now)
            uow.calendars.put_feed(feed)
            uow.commit()
        return feed, token

    def revoke_feed(self, principal: Principal, resource_id: str) -> None:
        require_admin(principal)
        with self._uow(write=True) as uow:
            feed = uow.calendars.feed(principal.org_id, resource_id)
            if feed is None:
                raise NotFound("the resource has no feed")
            uow.calendars.put_feed(replace(feed, revoked_at=self._clock.now()))
            uow.commit()

    def feed_body(self, token: str) -> bytes:
        """The feed's VCALENDAR: the resource's active bookings from a month back to a year
        ahead. An unknown or revoked token is NotFound (no hint which it was)."""
        if self._render is None:
            raise NotFound("feeds are not available")
        now = self._clock.now()
        with self._uow() as uow:
            feed = uow.calendars.feed_by_token(digest(token))
            if feed is None:
                raise NotFound("no such feed")
            resource = uow.resources.get(feed.org_id, feed.resource_id)
            if resource is None:
                raise NotFound("no such feed")
            bookings = uow.bookings.list(feed.org_id, BookingFilter(
                resource_id=feed.resource_id, start=now - FEED_PAST, end=now + FEED_FUTURE,
                limit=5000))
            names = {s.id: s.name for s in uow.services.list(feed.org_id)}
        events = [OutgoingEvent(
            booking_id=b.id, uid=export_uid(b.id),
            title=f"{names.get(b.service_id, 'Booking')}: {b.customer.name}",
            start=b.start, end=b.end, timezone=resource.timezone, sequence=b.sequence,
            description=f"Booking {b.id}",
            location=b.meeting.join_url if b.meeting else None,
            tentative=b.status is BookingStatus.PENDING)
            for b in bookings if b.status in (BookingStatus.PENDING, BookingStatus.CONFIRMED)]
        # Stamped with the latest change, not now: unchanged bookings give the same bytes,
        # so the feed's ETag lets calendar apps poll cheaply.
        revised = max([b.updated_at for b in bookings] + [feed.created_at])
        return self._render(events, resource.name, revised)


def _backfill(uow: UnitOfWork, connection: CalendarConnection, now: datetime) -> None:
    """Export the resource's upcoming bookings to a calendar that starts taking them (events
    carry the booking's UID: one already there from an earlier connection is updated, not
    duplicated)."""
    if not connection.export_bookings:
        return
    upcoming = uow.bookings.list(connection.org_id, BookingFilter(
        resource_id=connection.resource_id, start=now, end=now + FEED_FUTURE, limit=5000))
    for booking in upcoming:
        if booking.status in (BookingStatus.PENDING, BookingStatus.CONFIRMED):
            uow.jobs.defer(JobSpec(task=EXPORT_TASK, org_id=connection.org_id, args={
                "org_id": connection.org_id, "connection_id": connection.id,
                "booking_id": booking.id}))


def _pick(new: _T | None, old: _T) -> _T:
    return old if new is None else new


def lag_seconds(connection: CalendarConnection, now: datetime) -> int | None:
    lag = connection.lag(now)
    return None if lag is None else max(0, int(lag.total_seconds()))
