"""External calendars: the port every provider implements, what it takes and gives, how it
fails, and the connection that ties one external calendar to one resource.

A connection imports the calendar's busy time as blocks on its resource (availability reads
them like any block) and exports the resource's bookings as events. Adapters translate every
vendor failure at the boundary into one of these, keeping the cause (`__cause__`):

    CalendarError
    ├── CalendarUnavailable   transient (network, timeout, 5xx, 429): retry later
    ├── CalendarRejected      permanent (malformed answer, refused input, no such calendar)
    │   └── EventGone         the provider no longer knows the event (update/delete)
    ├── CalendarAuthError     credentials expired or revoked: a person must reconnect
    └── SyncTokenExpired      the incremental token is no longer accepted: sync in full

Anything else escaping an adapter is a bug, not an outcome.

Event identity. An imported event is keyed by `key`: its UID for a single event,
`UID#<recurrence-id>` for one instance of a recurring one (recurring events always arrive
expanded over the window asked for). A `ChangeSet` is applied as: remove every stored event
whose key is in `removed` or starts with `<removed>#`, then upsert `events` by key. An adapter
that reports a changed recurring series lists its UID in `removed` and its instances in
`events`, so instances that no longer exist disappear.

Our own events. Every event we export carries `OutgoingEvent.uid` (`slotwise-<booking>@…`)
and the booking id in the provider's extended properties; adapters set `ExternalEvent.ours`
when they read one back, and the sync engine never turns such an event into a busy block.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

# The UID of the event exported for a booking: stable across reschedules (the event moves)
# and reconnects (the same UID is found again, never duplicated).
EXPORT_UID_SUFFIX = "@slotwise"


def export_uid(booking_id: str) -> str:
    return f"slotwise-{booking_id}{EXPORT_UID_SUFFIX}"


def booking_of_uid(uid: str) -> str | None:
    """The booking id an exported UID names, or None for anyone else's event."""
    if uid.startswith("slotwise-") and uid.endswith(EXPORT_UID_SUFFIX):
        return uid[len("slotwise-"):-len(EXPORT_UID_SUFFIX)] or None
    return None


def _require_utc(**instants: datetime) -> None:
    for name, instant in instants.items():
        if instant.utcoffset() != timedelta(0):
            raise ValueError(f"{name} must be an aware UTC datetime, got {instant!r}")


@dataclass(frozen=True, slots=True)
class CalendarInfo:
    """One calendar an account can see. `id` is what the other calls take (a CalDAV URL, a
    Google calendar id, a Graph calendar id)."""

    id: str
    name: str
    timezone: str | None = None
    primary: bool = False
    writable: bool = True


@dataclass(frozen=True, slots=True)
class ExternalEvent:
    """One instance of an external event, as [start, end) in UTC. All-day events span their
    dates in the calendar's zone (or UTC when it has none). `busy` is False for transparent
    ("free"), declined and cancelled events; adapters may also leave those out."""

    key: str
    uid: str
    start: datetime
    end: datetime
    title: str | None = None
    busy: bool = True
    all_day: bool = False
    ours: str | None = None  # the booking id, when we exported this event

    def __post_init__(self) -> None:
        _require_utc(start=self.start, end=self.end)
        if self.end <= self.start:
            raise ValueError(f"event {self.key!r} ends before it starts")
        if not self.key or not self.uid:
            raise ValueError("an external event needs a key and a uid")


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """What changed since a sync token (see the module docstring for how it is applied).
    `full`: the events are the whole window, and every stored event not among them is gone.
    `token`: what the next `changes` call takes (None: the provider has no tokens; the next
    call is full again)."""

    events: tuple[ExternalEvent, ...]
    removed: tuple[str, ...] = ()
    token: str | None = None
    full: bool = False


@dataclass(frozen=True, slots=True)
class OutgoingEvent:
    """A booking as an event in its resource's calendar."""

    booking_id: str
    uid: str
    title: str
    start: datetime
    end: datetime
    timezone: str
    sequence: int = 0
    description: str | None = None
    location: str | None = None
    tentative: bool = False  # a pending booking: shown, marked tentative

    def __post_init__(self) -> None:
        _require_utc(start=self.start, end=self.end)
        if self.end <= self.start:
            raise ValueError("end must be after start")


@dataclass(frozen=True, slots=True)
class EventRef:
    """Where an exported event lives at the provider. `data` is the adapter's own
    (JSON-serialisable); only the adapter that wrote it reads it."""

    external_id: str
    etag: str | None = None
    data: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class PushChannel:
    """A subscription the provider calls back on (Google `events.watch`, a Graph
    subscription). `token` comes back with every notification and is checked; it is a secret."""

    id: str
    token: str
    expires_at: datetime
    resource_id: str | None = None  # Google's X-Goog-Resource-ID, needed to stop the channel


class CalendarError(Exception):
    """Base of every failure a `CalendarProvider` reports."""


class CalendarUnavailable(CalendarError):
    """Transient: retry, not before `retry_after_s` when the provider said so."""

    def __init__(self, detail: str, retry_after_s: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class CalendarRejected(CalendarError):
    """Permanent for this call: retrying the same call fails the same way."""

    def __init__(self, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.status = status


class EventGone(CalendarRejected):
    """The event is no longer at the provider (deleted there)."""


class CalendarAuthError(CalendarError):
    """The credentials no longer work (expired refresh token, revoked grant)."""


class SyncTokenExpired(CalendarError):
    """The provider no longer accepts the token: call `changes` again with None."""


class CalendarProvider(Protocol):
    """One account at one provider, built per connection (see `CalendarProviderFactory`).
    Calls are synchronous and bounded by the adapter's timeouts."""

    kind: str

    def calendars(self) -> list[CalendarInfo]: ...

    def busy(self, calendar_id: str, start: datetime, end: datetime
             ) -> list[tuple[datetime, datetime]]:
        """Busy intervals in [start, end) (a free/busy query), our own events included."""
        ...

    def changes(self, calendar_id: str, token: str | None, start: datetime, end: datetime
                ) -> ChangeSet:
        """Events changed since `token` (all of them in [start, end) when None). Raises
        `SyncTokenExpired` when the token is refused."""
        ...

    def create_event(self, calendar_id: str, event: OutgoingEvent) -> EventRef:
        """Idempotent by `event.uid`: creating an event whose UID exists updates it."""
        ...

    def update_event(self, calendar_id: str, ref: EventRef, event: OutgoingEvent) -> EventRef:
        """Raises `EventGone` when the event was deleted at the provider."""
        ...

    def delete_event(self, calendar_id: str, ref: EventRef) -> None:
        """Idempotent: an event already gone is success."""
        ...


class PushCalendar(Protocol):
    """A provider that calls us back on change (Google, Microsoft)."""

    def watch(self, calendar_id: str, address: str, token: str, ttl: timedelta) -> PushChannel:
        ...

    def stop(self, channel: PushChannel) -> None: ...


class OAuthClient(Protocol):
    """The OAuth 2 authorisation-code flow of one provider."""

    kind: str

    def authorize_url(self, state: str, redirect_uri: str) -> str: ...

    def exchange(self, code: str, redirect_uri: str) -> dict[str, Any]:
        """Credentials for a code (access and refresh token, expiry as ISO 8601 UTC).
        Raises `CalendarAuthError` for a refused code."""
        ...


class ConnectionStatus(StrEnum):
    PENDING = "pending"  # not synced yet
    OK = "ok"
    ERROR = "error"  # the last sync failed; busy data kept from the last good one
    AUTH_FAILED = "auth_failed"  # credentials expired or revoked: reconnect
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class CalendarConnection:
    """One external calendar tied to one resource. `config` is what the adapter needs that is
    not secret (server URL, username, tenant); `credentials` are secret (password, tokens) and
    never leave the server."""

    id: str
    org_id: str
    resource_id: str
    provider: str
    calendar_id: str
    created_at: datetime
    updated_at: datetime
    name: str | None = None
    config: dict[str, Any] = field(default_factory=dict, hash=False)
    credentials: dict[str, Any] = field(default_factory=dict, hash=False)
    import_busy: bool = True
    export_bookings: bool = True
    poll_s: int = 60
    status: ConnectionStatus = ConnectionStatus.PENDING
    sync_token: str | None = None
    last_sync_at: datetime | None = None
    last_success_at: datetime | None = None
    last_full_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failures: int = 0
    channel: PushChannel | None = None
    generation: int = 0  # bumped by every applied sync (see `Calendars.advance`)
    sync_due_at: datetime | None = None  # a push-triggered sync is deferred for then

    def lag(self, now: datetime) -> timedelta | None:
        """How old the busy data is: None before the first successful sync."""
        return None if self.last_success_at is None else now - self.last_success_at


@dataclass(frozen=True, slots=True)
class CalendarExport:
    """The event one connection holds for one booking."""

    org_id: str
    connection_id: str
    booking_id: str
    ref: EventRef
    sequence: int
    updated_at: datetime
    fingerprint: str = ""  # what the event was last written from: equal means nothing to do


@dataclass(frozen=True, slots=True)
class ImportedEvent:
    """An external busy event stored as a block on the connection's resource."""

    block_id: str
    connection_id: str
    key: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class CalendarFeed:
    """The private ICS feed of a resource: whoever holds the token may read it."""

    id: str
    org_id: str
    resource_id: str
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None = None


# Builds the provider for a connection; `save` persists credentials the adapter refreshed.
CalendarProviderFactory = Callable[[CalendarConnection, Callable[[dict[str, Any]], None]],
                                   CalendarProvider]


class Calendars(Protocol):
    """Connections, the busy events imported through them, the events exported to them, and
    the resources' feeds."""

    def add(self, connection: CalendarConnection) -> None: ...
    def get(self, org_id: str, connection_id: str, *, lock: bool = False
            ) -> CalendarConnection | None: ...
    def by_channel(self, channel_id: str) -> CalendarConnection | None: ...
    def list(self, org_id: str, resource_id: str | None = None) -> builtins.list[
        CalendarConnection]: ...
    def all(self) -> builtins.list[CalendarConnection]:
        """Every connection of every organisation (the poller's and the health check's)."""
        ...
    def update(self, connection: CalendarConnection) -> None: ...
    def advance(self, connection: CalendarConnection, generation: int) -> bool:
        """Save a sync's outcome only if no other sync applied since `generation` was read
        (and bump it): a compare-and-set, so no lock spans the provider round trips."""
        ...
    def generation(self, org_id: str, connection_id: str) -> int | None: ...
    def request_sync(self, org_id: str, connection_id: str, due: datetime) -> bool:
        """Mark a sync due unless one already is; True when this call marked it."""
        ...
    def clear_sync_due(self, org_id: str, connection_id: str) -> None: ...
    def delete(self, org_id: str, connection_id: str) -> None:
        """The connection, its imported blocks and its export records."""
        ...

    def imported(self, org_id: str, connection_id: str) -> builtins.list[ImportedEvent]: ...
    def put_imported(self, org_id: str, resource_id: str, connection_id: str,
                     event: ExternalEvent, block_id: str, at: datetime) -> None:
        """Insert or replace the block for `event.key`."""
        ...
    def drop_imported(self, org_id: str, connection_id: str, keys: Mapping[str, str]) -> None:
        """Remove the blocks of the given key → block id pairs."""
        ...

    def export_of(self, org_id: str, connection_id: str, booking_id: str
                  ) -> CalendarExport | None: ...
    def put_export(self, export: CalendarExport) -> None: ...
    def drop_export(self, org_id: str, connection_id: str, booking_id: str) -> None: ...
    def exports_of_booking(self, org_id: str, booking_id: str
                           ) -> builtins.list[CalendarExport]: ...

    def feed(self, org_id: str, resource_id: str) -> CalendarFeed | None:
        """The resource's live (unrevoked) feed."""
        ...
    def feed_by_token(self, token_hash: str) -> CalendarFeed | None: ...
    def put_feed(self, feed: CalendarFeed) -> None: ...
