"""Calendar sync: external busy time in, per connection, observable and self-repairing.

A sync fetches what changed since the connection's token (or everything in the window, in
full), then applies it in one transaction: busy events become blocks on the resource (which
availability reads like any block), vanished ones are removed, our own exported events are
skipped so nothing loops back. No lock spans the provider round trip: the apply is a
compare-and-set on the connection's generation, and a sync that lost the race is dropped (the
winner applied the same changes or newer ones).

A provider that fails keeps the last good busy data (never opens the calendar up): the
connection turns `error` (or `auth_failed`, which needs a person) and says why; the poller
backs off and tries again. Push notifications (Google, Microsoft) mark a sync due and defer
one job a moment later, so a burst of notifications costs one sync (the debounce).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from slotwise.app.clock import SystemClock
from slotwise.domain import events as domain_events
from slotwise.domain.audit import AuditEntry
from slotwise.domain.calendars import (
    CalendarAuthError,
    CalendarConnection,
    CalendarError,
    CalendarProvider,
    CalendarProviderFactory,
    CalendarRejected,
    ChangeSet,
    ConnectionStatus,
    ExternalEvent,
    ImportedEvent,
    PushChannel,
    SyncTokenExpired,
    booking_of_uid,
)
from slotwise.domain.errors import Forbidden, NotFound
from slotwise.domain.ids import new_id
from slotwise.domain.jobs import JobSpec
from slotwise.domain.model import OutboxEvent
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("slotwise.calendars")

SYNC_TASK = "calendars.sync"
POLL_TASK = "calendars.poll"
RENEW_TASK = "calendars.renew_channels"
PUSH_PROVIDERS = ("google", "microsoft")

# Busy time is imported from a day back (a booking that started yesterday evening) ...
_PAST = timedelta(days=1)
# ... and a due sync whose job never ran (a worker killed before it) is re-deferred after this.
_STALE_DUE = timedelta(minutes=5)
_MAX_BACKOFF = timedelta(hours=1)

# Called in the applying transaction with the blocks written (id, start, end) for busy time
# that appeared or moved, and whether any went away: conflict detection hooks in here.
BusyChanged = Callable[[UnitOfWork, CalendarConnection,
                        Sequence[tuple[str, datetime, datetime]], bool, datetime], None]


class CalendarSync:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock,
                 adapters: Mapping[str, CalendarProviderFactory], *,
                 window_days: int = 365, debounce_s: float = 0.5,
                 full_every: timedelta = timedelta(hours=6),
                 on_busy_changed: BusyChanged | None = None,
                 push_base_url: str | None = None, timer: Clock | None = None) -> None:
        self._uow = uow
        self._clock = clock
        # Sync bookkeeping (when we last talked to a provider, when the next poll is due) is
        # about the real world: it runs on the wall clock even when the application's clock
        # is pinned (a demo), which decides only what window of busy time is imported.
        self.timer: Clock = timer if timer is not None else SystemClock()
        self.adapters = dict(adapters)
        self._window = timedelta(days=window_days)
        self._debounce = timedelta(seconds=debounce_s)
        self._full_every = full_every
        self.on_busy_changed = on_busy_changed
        self._push_base_url = None if push_base_url is None else push_base_url.rstrip("/")

    # -- providers --------------------------------------------------------------------------

    def provider(self, connection: CalendarConnection) -> CalendarProvider:
        factory = self.adapters.get(connection.provider)
        if factory is None:
            raise CalendarRejected(f"no adapter for provider {connection.provider!r} "
                                   "is configured on this server")
        return factory(connection, lambda credentials: self._save_credentials(
            connection, credentials))

    def _save_credentials(self, connection: CalendarConnection,
                          credentials: dict[str, Any]) -> None:
        """An adapter refreshed its access token: keep it, whatever the sync does next."""
        with self._uow(write=True) as uow:
            current = uow.calendars.get(connection.org_id, connection.id, lock=True)
            if current is not None:
                uow.calendars.update(replace(current, credentials=dict(credentials),
                                             updated_at=self.timer.now()))
                uow.commit()

    # -- syncing ----------------------------------------------------------------------------

    def sync(self, org_id: str, connection_id: str, *, full: bool = False
             ) -> CalendarConnection | None:
        """Bring the connection's busy blocks up to date; returns the connection as it now is
        (None when it no longer exists). Provider failures are recorded on the connection,
        not raised: the poller retries with backoff."""
        with self._uow(write=True) as uow:
            connection = uow.calendars.get(org_id, connection_id)
            if connection is None:
                return None
            # Cleared before the fetch: a notification arriving during it schedules another.
            uow.calendars.clear_sync_due(org_id, connection_id)
            uow.commit()
        if connection.status is ConnectionStatus.DISABLED or not connection.import_busy:
            return connection
        today = self._clock.now()
        full = (full or connection.sync_token is None or connection.last_full_at is None
                or self.timer.now() - connection.last_full_at >= self._full_every)
        start, end = today - _PAST, today + self._window
        try:
            provider = self.provider(connection)
            try:
                changes = provider.changes(connection.calendar_id,
                                           None if full else connection.sync_token, start, end)
            except SyncTokenExpired:
                full = True
                changes = provider.changes(connection.calendar_id, None, start, end)
        except CalendarError as error:
            return self._failed(connection, error)
        return self._apply(connection, changes, start, end)

    def _apply(self, read: CalendarConnection, changes: ChangeSet, start: datetime,
               end: datetime) -> CalendarConnection | None:
        now, today = self.timer.now(), self._clock.now()
        with self._uow(write=True) as uow:
            connection = uow.calendars.get(read.org_id, read.id, lock=True)
            if connection is None or connection.generation != read.generation:
                return connection  # deleted, or another sync applied meanwhile
            stored = {e.key: e for e in uow.calendars.imported(read.org_id, read.id)}
            gone = _gone(stored, changes)
            moved: list[tuple[str, datetime, datetime]] = []
            for event in changes.events:
                if not _blocks_time(event, start, end):
                    if event.key in stored:
                        gone[event.key] = stored[event.key].block_id
                    continue
                gone.pop(event.key, None)
                before = stored.get(event.key)
                if before is not None and (before.start, before.end) == (event.start,
                                                                          event.end):
                    continue
                block_id = new_id("block")
                uow.calendars.put_imported(read.org_id, read.resource_id, read.id, event,
                                           block_id, today)
                moved.append((block_id, event.start, event.end))
            uow.calendars.drop_imported(read.org_id, read.id, gone)
            healed = connection.status in (ConnectionStatus.ERROR,
                                           ConnectionStatus.AUTH_FAILED)
            after = replace(
                connection, status=ConnectionStatus.OK,
                sync_token=changes.token, last_sync_at=now, last_success_at=now,
                last_full_at=now if changes.full else connection.last_full_at,
                last_error=None, failures=0, updated_at=now)
            if not uow.calendars.advance(after, connection.generation):
                return connection
            if healed:
                uow.outbox.add(_connection_event(domain_events.CALENDAR_RESTORED, after,
                                                 today))
            if self.on_busy_changed is not None and (moved or gone):
                self.on_busy_changed(uow, after, moved, bool(gone), today)
            uow.commit()
        log.info("calendar %s synced: %d busy changed, %d removed%s", read.id, len(moved),
                 len(gone), " (full)" if changes.full else "")
        return replace(after, generation=after.generation + 1)

    def _failed(self, read: CalendarConnection, error: CalendarError) -> CalendarConnection:
        now, today = self.timer.now(), self._clock.now()
        status = (ConnectionStatus.AUTH_FAILED if isinstance(error, CalendarAuthError)
                  else ConnectionStatus.ERROR)
        detail = f"{type(error).__name__}: {error}"
        log.warning("calendar %s sync failed: %s", read.id, detail)
        with self._uow(write=True) as uow:
            connection = uow.calendars.get(read.org_id, read.id, lock=True)
            if connection is None:
                return read
            after = replace(connection, status=status, last_sync_at=now, last_error=detail,
                            last_error_at=now, failures=connection.failures + 1,
                            updated_at=now)
            uow.calendars.update(after)
            if connection.status is not status:
                # Told once per change of state: webhooks and the audit trail alert a person.
                uow.outbox.add(_connection_event(domain_events.CALENDAR_FAILED, after, today))
                uow.audit.append(AuditEntry(
                    id=new_id("audit"), at=today, actor="calendar-sync",
                    action=domain_events.CALENDAR_FAILED, target=connection.id,
                    details={"status": status.value, "error": detail},
                    org_id=connection.org_id))
            uow.commit()
        return after

    # -- what triggers a sync ---------------------------------------------------------------

    def request(self, uow: UnitOfWork, connection: CalendarConnection,
                delay: timedelta | None = None) -> bool:
        """Defer one sync of `connection` unless one is already due (in the caller's
        transaction). True when this call deferred it."""
        wait = self._debounce if delay is None else delay
        now = self.timer.now()
        if not uow.calendars.request_sync(connection.org_id, connection.id, now + wait):
            return False
        # Job engines schedule by the wall clock, as `timer` does.
        run_at = now + wait if wait > timedelta(0) else None
        uow.jobs.defer(JobSpec(task=SYNC_TASK, org_id=connection.org_id, run_at=run_at,
                               args={"org_id": connection.org_id,
                                     "connection_id": connection.id}))
        return True

    def watch_soon(self, uow: UnitOfWork, connection: CalendarConnection) -> None:
        """Open the push channel of a new connection now rather than at the next hourly
        renewal (in the caller's transaction; nothing when push is not configured)."""
        if self.push_address(connection) is not None:
            uow.jobs.defer(JobSpec(task=RENEW_TASK, org_id=connection.org_id, args={}))

    def notified(self, channel_id: str, token: str, *, resource_state: str | None = None
                 ) -> CalendarConnection:
        """A push notification for a channel: checked against the channel's token (a wrong
        one changes nothing and raises Forbidden), then a debounced sync is deferred.
        Google's first message on a channel (state "sync") only says the channel works."""
        [connection] = self.notified_all([(channel_id, token)],
                                         sync=resource_state != "sync")
        return connection

    def notified_all(self, notices: Sequence[tuple[str, str]], *, sync: bool = True
                     ) -> list[CalendarConnection]:
        """Several (channel id, token) notices at once (Graph batches them): all are checked
        before any sync is deferred, so one bad notice changes nothing at all."""
        with self._uow(write=True) as uow:
            connections: dict[str, CalendarConnection] = {}
            for channel_id, token in notices:
                connection = uow.calendars.by_channel(channel_id)
                if connection is None or connection.channel is None:
                    raise NotFound("no such channel")
                if not hmac.compare_digest(connection.channel.token.encode(), token.encode()):
                    raise Forbidden("the channel token does not match")
                connections[connection.id] = connection
            if sync:
                for connection in connections.values():
                    self.request(uow, connection)
            uow.commit()
        return list(connections.values())

    def poll(self) -> int:
        """Defer a sync for every connection whose poll interval has passed (failing ones
        back off exponentially, up to an hour); returns how many it deferred."""
        now = self.timer.now()
        with self._uow() as uow:  # a read first: an idle poll takes no write lock
            due = {c.id for c in uow.calendars.all() if _due(c, now)}
        if not due:
            return 0
        deferred = 0
        with self._uow(write=True) as uow:
            for connection in uow.calendars.all():
                if connection.id not in due or not _due(connection, now):
                    continue
                if connection.sync_due_at is not None and now - connection.sync_due_at > \
                        _STALE_DUE:
                    uow.calendars.clear_sync_due(connection.org_id, connection.id)
                deferred += self.request(uow, connection, delay=timedelta(0))
            uow.commit()
        return deferred

    def push_address(self, connection: CalendarConnection) -> str | None:
        """Where the provider posts notifications: None when push is not configured."""
        if self._push_base_url is None or connection.provider not in PUSH_PROVIDERS:
            return None
        return f"{self._push_base_url}/v1/calendars/{connection.provider}/notifications"

    def renew_channels(self, ttl: timedelta = timedelta(days=2)) -> int:
        """Open or renew push channels that expire within a day, for providers that push."""
        now = self.timer.now()
        with self._uow() as uow:
            due = [c for c in uow.calendars.all()
                   if c.status is not ConnectionStatus.DISABLED and c.import_busy
                   and (c.channel is None or c.channel.expires_at - now < timedelta(days=1))]
        renewed = 0
        for connection in due:
            url = self.push_address(connection)
            if url is None:
                continue
            try:
                provider = self.provider(connection)
                if not hasattr(provider, "watch"):
                    continue
                channel: PushChannel = provider.watch(
                    connection.calendar_id, url, new_id("calendar"), ttl)
                if connection.channel is not None:
                    with contextlib.suppress(CalendarError):  # it expires by itself
                        provider.stop(connection.channel)  # type: ignore[attr-defined]
            except CalendarError as error:
                log.warning("calendar %s: push channel not opened: %s", connection.id, error)
                continue
            with self._uow(write=True) as uow:
                current = uow.calendars.get(connection.org_id, connection.id, lock=True)
                if current is not None:
                    uow.calendars.update(replace(current, channel=channel, updated_at=now))
                    uow.commit()
                    renewed += 1
        return renewed

    # -- health -----------------------------------------------------------------------------

    def health(self) -> str | None:
        """For /readyz: None when every connection is fresh, else what is wrong. It never
        raises: /readyz must answer (its database check decides whether that is a 503)."""
        now = self.timer.now()
        try:
            with self._uow() as uow:
                connections = uow.calendars.all()
        except Exception as error:
            return f"cannot tell: {type(error).__name__}"
        problems = [f"{c.id}: {_problem(c, now)}" for c in connections
                    if _problem(c, now) is not None]
        if not problems:
            return None
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        return "calendar connections failing: " + "; ".join(problems[:3]) + more


def _gone(stored: Mapping[str, ImportedEvent], changes: ChangeSet) -> dict[str, str]:
    """key → block id of the stored events the change set removes."""
    if changes.full:
        keep = {e.key for e in changes.events}
        return {k: e.block_id for k, e in stored.items() if k not in keep}
    gone: dict[str, str] = {}
    for removed in changes.removed:
        prefix = removed + "#"
        gone.update({k: e.block_id for k, e in stored.items()
                     if k == removed or k.startswith(prefix)})
    return gone


def _blocks_time(event: ExternalEvent, start: datetime, end: datetime) -> bool:
    """Whether an event is busy time for us: busy, not ours, inside the window."""
    ours = event.ours is not None or booking_of_uid(event.uid) is not None
    return event.busy and not ours and event.start < end and event.end > start


def _interval(connection: CalendarConnection) -> timedelta:
    base = timedelta(seconds=connection.poll_s)
    if connection.status in (ConnectionStatus.ERROR, ConnectionStatus.AUTH_FAILED):
        return min(base * (1 << min(connection.failures, 10)), max(base, _MAX_BACKOFF))
    return base


def _due(connection: CalendarConnection, now: datetime) -> bool:
    if connection.status is ConnectionStatus.DISABLED or not connection.import_busy:
        return False
    if connection.sync_due_at is not None and now - connection.sync_due_at <= _STALE_DUE:
        return False  # one is on its way
    last = connection.last_sync_at
    return last is None or now - last >= _interval(connection)


def _problem(connection: CalendarConnection, now: datetime) -> str | None:
    if connection.status is ConnectionStatus.DISABLED or not connection.import_busy:
        return None
    if connection.status in (ConnectionStatus.ERROR, ConnectionStatus.AUTH_FAILED):
        return f"{connection.status.value}: {connection.last_error}"
    lag = connection.lag(now)
    allowed = max(timedelta(seconds=3 * connection.poll_s), timedelta(minutes=5))
    if lag is None:
        return None if now - connection.created_at < allowed else "never synced"
    return f"busy time {int(lag.total_seconds())} s old" if lag > allowed else None


def _connection_event(kind: str, connection: CalendarConnection, at: datetime
                      ) -> OutboxEvent:
    return OutboxEvent(
        id=new_id("event"), org_id=connection.org_id, type=kind, aggregate_id=connection.id,
        payload={"connection": {
            "id": connection.id, "resource_id": connection.resource_id,
            "provider": connection.provider, "status": connection.status.value,
            "last_error": connection.last_error,
            "last_success_at": None if connection.last_success_at is None
            else domain_events.iso(connection.last_success_at)}},
        created_at=at)
