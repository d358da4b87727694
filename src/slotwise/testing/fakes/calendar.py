"""An in-memory calendar provider with real incremental-sync semantics, for fast tests of the
sync engine: events change "externally" through `put`/`remove`, exports land beside them and
come back marked as ours, and `fail_with` makes every call fail like a provider would.

Tokens are the change counter (`"v<n>"`); a token older than `forget_before` is refused like an
expired sync token.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from slotwise.domain.calendars import (
    CalendarError,
    CalendarInfo,
    ChangeSet,
    EventGone,
    EventRef,
    ExternalEvent,
    OutgoingEvent,
    PushChannel,
    SyncTokenExpired,
    booking_of_uid,
)


@dataclass
class _Stored:
    event: ExternalEvent
    version: int
    deleted: bool = False


class FakeCalendar:
    kind = "fake"

    def __init__(self, calendar_id: str = "primary") -> None:
        self.calendar_id = calendar_id
        self._events: dict[str, _Stored] = {}
        self._version = 0
        self._lock = threading.Lock()
        self.forget_before = 0
        self.failure: CalendarError | None = None
        self.calls: list[str] = []
        self.channels: list[PushChannel] = []
        # Organisations whose connections may use this calendar (a test's own), for
        # factories that must keep other tests' leftover jobs away from it.
        self.owners: set[str] = set()

    # -- the outside world changing the calendar --------------------------------------------

    def put(self, uid: str, start: datetime, end: datetime, *, title: str | None = None,
            busy: bool = True) -> ExternalEvent:
        event = ExternalEvent(key=uid, uid=uid, start=start, end=end, title=title, busy=busy,
                              ours=booking_of_uid(uid))
        with self._lock:
            self._version += 1
            self._events[uid] = _Stored(event, self._version)
        return event

    def remove(self, uid: str) -> None:
        with self._lock:
            stored = self._events.get(uid)
            if stored is not None and not stored.deleted:
                self._version += 1
                stored.deleted, stored.version = True, self._version

    def fail_with(self, error: CalendarError | None) -> None:
        self.failure = error

    def events(self) -> list[ExternalEvent]:
        with self._lock:
            return sorted((s.event for s in self._events.values() if not s.deleted),
                          key=lambda e: (e.start, e.key))

    # -- the port ---------------------------------------------------------------------------

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.failure is not None:
            raise self.failure

    def calendars(self) -> list[CalendarInfo]:
        self._call("calendars")
        return [CalendarInfo(id=self.calendar_id, name="Fake", timezone="UTC", primary=True)]

    def busy(self, calendar_id: str, start: datetime, end: datetime
             ) -> list[tuple[datetime, datetime]]:
        self._call("busy")
        return [(e.start, e.end) for e in self.events()
                if e.busy and e.start < end and e.end > start]

    def changes(self, calendar_id: str, token: str | None, start: datetime, end: datetime
                ) -> ChangeSet:
        self._call("changes")
        with self._lock:
            now = f"v{self._version}"
            if token is None:
                events = tuple(s.event for s in self._events.values()
                               if not s.deleted and s.event.start < end and s.event.end > start)
                return ChangeSet(events=events, token=now, full=True)
            try:
                since = int(token.removeprefix("v"))
            except ValueError:
                raise SyncTokenExpired(f"not a token: {token!r}") from None
            if since < self.forget_before or since > self._version:
                raise SyncTokenExpired(f"token {token!r} expired")
            changed = [s for s in self._events.values() if s.version > since]
            return ChangeSet(
                events=tuple(s.event for s in changed if not s.deleted
                             and s.event.start < end and s.event.end > start),
                removed=tuple(s.event.key for s in changed if s.deleted), token=now)

    def create_event(self, calendar_id: str, event: OutgoingEvent) -> EventRef:
        self._call("create_event")
        self.put(event.uid, event.start, event.end, title=event.title)
        return EventRef(external_id=event.uid, etag=f"v{self._version}")

    def update_event(self, calendar_id: str, ref: EventRef, event: OutgoingEvent) -> EventRef:
        self._call("update_event")
        with self._lock:
            stored = self._events.get(ref.external_id)
            if stored is None or stored.deleted:
                raise EventGone(f"no event {ref.external_id}")
        self.put(event.uid, event.start, event.end, title=event.title)
        return replace(ref, etag=f"v{self._version}")

    def delete_event(self, calendar_id: str, ref: EventRef) -> None:
        self._call("delete_event")
        self.remove(ref.external_id)

    def watch(self, calendar_id: str, address: str, token: str, ttl: timedelta) -> PushChannel:
        self._call("watch")
        channel = PushChannel(id=f"ch-{len(self.channels) + 1}", token=token,
                              expires_at=datetime.now(UTC) + ttl)
        self.channels.append(channel)
        return channel

    def stop(self, channel: PushChannel) -> None:
        self._call("stop")
