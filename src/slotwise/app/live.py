"""Live updates, fed from the outbox: `LiveReactor` turns committed booking and hold events into
`slots` messages on the LiveBus (after the relay's commit, so nothing is announced that did
not happen); `LiveUpdates` is this process's fan-out of the bus's messages to its open
streams (one bounded asyncio queue per stream; a stream that falls behind is closed, the
server never waits for it).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from slotwise.app.availability import candidates
from slotwise.domain import events
from slotwise.domain.errors import NotFound
from slotwise.domain.live import LiveBus, LiveMessage
from slotwise.domain.model import OutboxEvent
from slotwise.domain.ports import UnitOfWorkFactory

log = logging.getLogger("slotwise.live")

# Events after which a booking's or a hold's time is taken or free again.
SLOT_EVENTS = frozenset({events.BOOKING_CREATED, events.BOOKING_CANCELLED,
                         events.BOOKING_RESCHEDULED, events.BOOKING_FAILED,
                         events.BOOKING_DECLINED, *events.HOLD_EVENTS})
QUEUE_SIZE = 64  # messages a stream may have waiting before it is dropped


def slot_messages(event: OutboxEvent) -> list[LiveMessage]:
    """The `slots` messages an event causes: the booking's or hold's range, and for a
    reschedule the range it left too (on the resources it had)."""
    if event.type not in SLOT_EVENTS:
        return []
    booking = event.payload.get("booking") or event.payload["hold"]
    ranges = [(booking["start"], booking["end"], booking["resource_ids"])]
    previous = event.payload.get("previous")
    if event.type == events.BOOKING_RESCHEDULED and previous:
        ranges.append((previous["start"], previous["end"], previous["resource_ids"]))
    return [{"type": "slots", "service_ids": [booking["service_id"]],
             "resource_ids": list(resource_ids), "start": start, "end": end}
            for start, end, resource_ids in ranges]


class LiveReactor:
    """An after-commit observer of the outbox relay (`RelayOutbox.after_commit`)."""

    def __init__(self, bus: LiveBus) -> None:
        self._bus = bus

    def committed(self, batch: Sequence[OutboxEvent]) -> None:
        for event in batch:
            for message in slot_messages(event):
                try:
                    self._bus.publish(event.org_id, message)
                except Exception:
                    # Live updates are a courtesy: the outbox has moved on, pages re-read.
                    log.warning("live update not published", exc_info=True)


@dataclass(eq=False)
class LiveStream:
    """One open stream: the messages of an organisation about one service (its own id, or
    any resource it could draw on), or all of them when `service_ids` is None."""

    org_id: str
    service_ids: frozenset[str] | None
    resource_ids: frozenset[str]
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[LiveMessage | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: bool = False

    def wants(self, message: LiveMessage) -> bool:
        if self.service_ids is None:
            return True
        return bool(self.service_ids & set(message.get("service_ids", ()))
                    or self.resource_ids & set(message.get("resource_ids", ())))

    async def next(self, timeout_s: float) -> LiveMessage | None:
        """The next message, or None after `timeout_s` without one. Raises `StreamDropped`
        when the stream fell behind."""
        try:
            message = await asyncio.wait_for(self.queue.get(), timeout_s)
        except TimeoutError:
            return None
        if message is None:
            raise StreamDropped()
        return message

    def _offer(self, message: LiveMessage) -> None:  # on the stream's event loop
        if self.dropped:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)


class StreamDropped(Exception):
    """The stream's client read too slowly; it should reconnect and re-read."""


class LiveUpdates:
    """This process's open streams and the bus they listen to."""

    def __init__(self, uow: UnitOfWorkFactory, bus: LiveBus) -> None:
        self._uow = uow
        self.bus = bus
        self._lock = threading.Lock()
        self._streams: dict[str, set[LiveStream]] = {}
        self._started = False

    def start(self) -> None:
        """Start the bus's one listening thread for this process (idempotent)."""
        with self._lock:
            if self._started:
                return
            self._started = True
        self.bus.start(self.deliver)

    def stop(self) -> None:
        """Stop the listener, and close the bus's publishing connection (started or not)."""
        with self._lock:
            self._started = False
        self.bus.stop()

    def resources_of(self, org_id: str, service_id: str) -> frozenset[str]:
        """Every resource the service could draw on: a booking of another service on one of
        them changes this service's slots too. Unknown service → NotFound."""
        with self._uow() as uow:
            service = uow.services.get(org_id, service_id)
            if service is None:
                raise NotFound("no such service")
            return frozenset(candidates(uow, service)[0])

    def open(self, org_id: str, service_id: str | None = None,
             resource_ids: frozenset[str] = frozenset()) -> LiveStream:
        """A stream of the organisation's messages about `service_id` or `resource_ids`
        (`service_id` None: all of them). Call it on the event loop that will read it."""
        stream = LiveStream(org_id, None if service_id is None else frozenset({service_id}),
                            resource_ids, asyncio.get_running_loop())
        with self._lock:
            self._streams.setdefault(org_id, set()).add(stream)
        return stream

    def close(self, stream: LiveStream) -> None:
        with self._lock:
            found = self._streams.get(stream.org_id)
            if found is not None:
                found.discard(stream)
                if not found:
                    del self._streams[stream.org_id]

    def deliver(self, org_id: str, message: LiveMessage) -> None:
        """The bus thread's callback: hand the message to the streams that want it."""
        with self._lock:
            streams = list(self._streams.get(org_id, ()))
        for stream in _wanting(streams, message):
            try:
                stream.loop.call_soon_threadsafe(stream._offer, message)
            except RuntimeError:
                self.close(stream)  # its loop is gone

    def open_streams(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._streams.values())


def _wanting(streams: Iterable[LiveStream], message: LiveMessage) -> list[LiveStream]:
    return [s for s in streams if s.wants(message)]
