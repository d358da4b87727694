"""The SQL hold store: held rows with an expiry, guarded against overlap like allocations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from slotwise.domain.booking import Hold, HoldStatus
from slotwise.domain.errors import OverlapRefused
from slotwise.domain.model import HeldResource
from slotwise.store.guard import is_overlap_refusal
from slotwise.store.tables import held_resources, holds
from slotwise.store.types import PerDialect, epoch, from_epoch, one_of, one_of_param


class SqlHoldStore:
    """Holds live in the caller's transaction: a hold and the booking converting it commit
    together. The caller serialises writers per resource (`UnitOfWork.lock_resources`)."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def acquire(self, hold: Hold, now: datetime) -> None:
        self._reclaim_expired(hold.org_id, hold.resource_ids, now)
        self._c.execute(insert(holds).values(
            id=hold.id, org_id=hold.org_id, service_id=hold.service_id, start_at=hold.start,
            end_at=hold.end, expires_at=hold.expires_at, status=hold.status.value,
            booking_id=hold.booking_id, created_at=hold.created_at,
        ))
        # No savepoint: a refusal ends the writer's attempt, which rolls back (see ports).
        try:
            self._c.execute(insert(held_resources), [
                {"hold_id": hold.id, "org_id": hold.org_id, "resource_id": r.resource_id,
                 "blocked_start": epoch(r.blocked_start), "blocked_end": epoch(r.blocked_end),
                 "expires_at": epoch(hold.expires_at), "live": True}
                for r in hold.resources
            ])
        except IntegrityError as error:
            if is_overlap_refusal(error):
                raise OverlapRefused(hold.resource_ids) from error
            raise

    def get(self, org_id: str, hold_id: str) -> Hold | None:
        found = self._load(org_id, [hold_id])
        return found[0] if found else None

    def save(self, hold: Hold) -> None:
        self._c.execute(update(holds)
                        .where(holds.c.org_id == hold.org_id, holds.c.id == hold.id)
                        .values(status=hold.status.value, booking_id=hold.booking_id,
                                expires_at=hold.expires_at))
        self._c.execute(update(held_resources)
                        .where(held_resources.c.org_id == hold.org_id,
                               held_resources.c.hold_id == hold.id)
                        .values(live=hold.status is HoldStatus.ACTIVE,
                                expires_at=epoch(hold.expires_at)))

    def extend(self, org_id: str, hold_id: str, expires_at: datetime,
               now: datetime) -> Hold | None:
        # Conditional on the hold being live, so an acquire that reclaimed it as expired
        # (another writer, a later clock) wins and nothing overlaps.
        extended = self._c.execute(
            update(holds)
            .where(holds.c.org_id == org_id, holds.c.id == hold_id,
                   holds.c.status == HoldStatus.ACTIVE.value, holds.c.expires_at > now)
            .values(expires_at=expires_at)).rowcount
        if not extended:
            return None
        self._c.execute(update(held_resources)
                        .where(held_resources.c.org_id == org_id,
                               held_resources.c.hold_id == hold_id)
                        .values(expires_at=epoch(expires_at)))
        return self.get(org_id, hold_id)

    def before_commit(self) -> None:
        """Nothing to do: the held rows commit or roll back with the caller's transaction."""

    def after_commit(self) -> None:
        """As `before_commit`."""

    def after_rollback(self) -> None:
        """As `before_commit`."""

    def live(self, org_id: str, resource_ids: Sequence[str], start: datetime, end: datetime,
             now: datetime) -> list[Hold]:
        ids = [row[0] for row in self._c.execute(_LIVE(self._c), {
            "org_id": org_id, "resource_ids": list(resource_ids), "now": epoch(now),
            "start": epoch(start), "end": epoch(end)})]
        if not ids:
            return []
        return [h for h in self._load(org_id, ids) if h.is_live(now)]

    def live_elsewhere(self, org_id: str, resource_ids: Sequence[str], start: datetime,
                       end: datetime, now: datetime) -> list[Hold]:
        """None: every hold of this store is in SQL."""
        return []

    def live_of_org(self, org_id: str, now: datetime, limit: int,
                    after: tuple[datetime, str] | None = None) -> list[Hold]:
        query = select(holds.c.id).where(holds.c.org_id == org_id,
                                         holds.c.status == HoldStatus.ACTIVE.value,
                                         holds.c.expires_at > now)
        if after is not None:
            query = query.where(or_(holds.c.start_at > after[0],
                                    and_(holds.c.start_at == after[0], holds.c.id > after[1])))
        ids = [row[0] for row in self._c.execute(
            query.order_by(holds.c.start_at, holds.c.id).limit(limit))]
        return self._load(org_id, ids)

    def _reclaim_expired(self, org_id: str, resource_ids: Sequence[str], now: datetime) -> None:
        """Free the held rows of holds on these resources that expired by `now`. Their status
        stays `active` (past its expiry that is not live: `Hold.is_live`) for the fixer, which
        marks them expired and writes `hold.expired` (live updates) in one place."""
        expired = select(held_resources.c.hold_id).where(
            held_resources.c.org_id == org_id,
            one_of(self._c, held_resources.c.resource_id, resource_ids),
            held_resources.c.live.is_(True), held_resources.c.expires_at <= epoch(now))
        ids = [row[0] for row in self._c.execute(expired)]
        if not ids:
            return
        self._c.execute(update(held_resources)
                        .where(held_resources.c.hold_id.in_(ids)).values(live=False))

    def _load(self, org_id: str, hold_ids: Sequence[str]) -> list[Hold]:
        if not hold_ids:
            return []
        heads = self._c.execute(
            select(holds).where(holds.c.org_id == org_id, holds.c.id.in_(hold_ids))
            .order_by(holds.c.start_at, holds.c.id)
        ).mappings().all()
        held: dict[str, list[HeldResource]] = {}
        rows = self._c.execute(
            select(held_resources).where(held_resources.c.org_id == org_id,
                                         held_resources.c.hold_id.in_(hold_ids))
        ).mappings()
        for row in rows:
            held.setdefault(row["hold_id"], []).append(HeldResource(
                resource_id=row["resource_id"], blocked_start=from_epoch(row["blocked_start"]),
                blocked_end=from_epoch(row["blocked_end"]),
            ))
        return [_hold(head, tuple(held.get(head["id"], ()))) for head in heads]


def _hold(row: RowMapping, resources: tuple[HeldResource, ...]) -> Hold:
    return Hold(
        id=row["id"], org_id=row["org_id"], service_id=row["service_id"], start=row["start_at"],
        end=row["end_at"], resources=resources, expires_at=row["expires_at"],
        created_at=row["created_at"], status=HoldStatus(row["status"]),
        booking_id=row["booking_id"],
    )


def _live(postgresql: bool) -> Select[Any]:
    h = held_resources.c
    return (select(h.hold_id).distinct()
            .where(h.org_id == bindparam("org_id"),
                   one_of_param(postgresql, h.resource_id, "resource_ids"),
                   h.live.is_(True),
                   h.expires_at > bindparam("now"),
                   h.blocked_start < bindparam("end"),
                   h.blocked_end > bindparam("start")))


_LIVE = PerDialect(_live)
