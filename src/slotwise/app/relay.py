"""The outbox relay: turns committed events into the work they cause.

Each batch is one transaction: the reactions' rows and jobs are written, and the events
marked published, together. A relay that dies mid-batch leaves the batch unpublished and the
next relay redoes all of it; nothing it did survived, so nothing repeats. Several relays (one
per worker process) take disjoint batches (`Outbox.unpublished` skips locked rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from slotwise.domain.model import OutboxEvent
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory

BATCH = 100


class Reactor(Protocol):
    """One kind of consequence of events (notifications, webhooks, meeting links...)."""

    def react(self, uow: UnitOfWork, event: OutboxEvent, now: datetime) -> None:
        """Write, in the relay's transaction, what the event causes: rows and deferred jobs."""
        ...


class AfterCommit(Protocol):
    """A consequence that is not written but sent (live updates): told of each batch once
    it is committed. Best effort: it must not raise, and a relay that dies between the
    commit and the call skips it."""

    def committed(self, events: Sequence[OutboxEvent]) -> None: ...


class RelayOutbox:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock,
                 reactors: Sequence[Reactor] = (),
                 after_commit: Sequence[AfterCommit] = ()) -> None:
        self._uow = uow
        self._clock = clock
        self.reactors = list(reactors)
        self.after_commit = list(after_commit)

    def __call__(self, limit: int = BATCH) -> int:
        """Relay one batch; returns how many events it published (0: none waiting)."""
        now = self._clock.now()
        with self._uow() as uow:
            if uow.outbox.backlog()[0] == 0:
                return 0  # a read: an idle relay takes no write lock (SQLite has one)
        with self._uow(write=True) as uow:
            events = uow.outbox.unpublished(limit)
            for event in events:
                for reactor in self.reactors:
                    reactor.react(uow, event, now)
            uow.outbox.mark_published([e.id for e in events], now)
            uow.commit()
        for observer in self.after_commit:
            observer.committed(events)
        return len(events)

    def backlog(self) -> tuple[int, datetime | None]:
        with self._uow() as uow:
            return uow.outbox.backlog()
