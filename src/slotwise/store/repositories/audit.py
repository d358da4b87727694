"""The hash-chained audit log, and the fixer's cross-organisation repairs."""

from __future__ import annotations

import builtins
import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, text, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from slotwise.domain.audit import AuditEntry, OutOfStep
from slotwise.domain.booking import BookingStatus
from slotwise.domain.errors import OverlapRefused
from slotwise.store.guard import is_overlap_refusal
from slotwise.store.tables import allocations, audit_log, bookings, holds
from slotwise.store.types import epoch

GENESIS = "0" * 64
_LOCK_NAMESPACE = 0x51_08  # "slotwise audit chain"


def chain_of(org_id: str | None) -> str:
    return f"org:{org_id}" if org_id else "system"


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    content = {"id": entry.id, "seq": entry.seq, "org_id": entry.org_id,
               "at": epoch(entry.at), "actor": entry.actor, "action": entry.action,
               "target": entry.target, "details": entry.details, "undo": entry.undo}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


class SqlAuditLog:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def append(self, entry: AuditEntry) -> AuditEntry:
        chain = chain_of(entry.org_id)
        if self._c.dialect.name == "postgresql":
            # One appender per chain at a time (SQLite serialises writers already).
            self._c.execute(text("SELECT pg_advisory_xact_lock(:ns, hashtext(:chain))"),
                            {"ns": _LOCK_NAMESPACE, "chain": chain})
        last = self._c.execute(select(audit_log.c.seq, audit_log.c.hash)
                               .where(audit_log.c.chain == chain)
                               .order_by(audit_log.c.seq.desc()).limit(1)).first()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        placed = AuditEntry(id=entry.id, at=entry.at, actor=entry.actor, action=entry.action,
                            target=entry.target, details=entry.details, org_id=entry.org_id,
                            undo=entry.undo, seq=seq)
        digest = entry_hash(prev, placed)
        self._c.execute(audit_log.insert().values(
            id=placed.id, chain=chain, seq=seq, org_id=placed.org_id, at=placed.at,
            actor=placed.actor, action=placed.action, target=placed.target,
            details=placed.details, undo=placed.undo, prev_hash=prev, hash=digest))
        return AuditEntry(**{**_fields(placed), "hash": digest})

    def get(self, entry_id: str) -> AuditEntry | None:
        row = self._c.execute(select(audit_log).where(audit_log.c.id == entry_id)
                              ).mappings().first()
        return None if row is None else _entry(row)

    def recent(self, org_id: str | None, limit: int = 50, *, actor: str | None = None
               ) -> builtins.list[AuditEntry]:
        query = select(audit_log)
        if org_id is not None:
            query = query.where(audit_log.c.org_id == org_id)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        rows = self._c.execute(query.order_by(audit_log.c.at.desc(), audit_log.c.seq.desc())
                               .limit(limit)).mappings()
        return [_entry(row) for row in rows]

    def verify(self, chain: str) -> str | None:
        prev = GENESIS
        rows = self._c.execute(select(audit_log).where(audit_log.c.chain == chain)
                               .order_by(audit_log.c.seq)).mappings()
        for expected_seq, row in enumerate(rows, start=1):
            if row["seq"] != expected_seq:
                return f"entry {expected_seq} of {chain} is missing"
            if row["prev_hash"] != prev or entry_hash(prev, _entry(row)) != row["hash"]:
                return f"entry {row['seq']} ({row['id']}) of {chain} was changed"
            prev = row["hash"]
        return None


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {"id": entry.id, "at": entry.at, "actor": entry.actor, "action": entry.action,
            "target": entry.target, "details": entry.details, "org_id": entry.org_id,
            "undo": entry.undo, "seq": entry.seq}


def _entry(row: RowMapping) -> AuditEntry:
    return AuditEntry(id=row["id"], at=row["at"], actor=row["actor"], action=row["action"],
                      target=row["target"], details=row["details"], org_id=row["org_id"],
                      undo=row["undo"], seq=row["seq"], hash=row["hash"])


_HOLDING = [s.value for s in BookingStatus if s.holds_resources]


class SqlRepairs:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def allocations_out_of_step(self, limit: int, changed_since: datetime | None = None
                                ) -> builtins.list[OutOfStep]:
        a, b = allocations.c, bookings.c
        # Active allocations of a booking that no longer holds resources, and inactive ones
        # of a booking that does. (A moved booking's old allocations are deleted, not kept.)
        wrong = ((a.active.is_(True) & b.status.not_in(_HOLDING))
                 | (a.active.is_(False) & b.status.in_(_HOLDING)))
        if changed_since is not None:
            wrong = wrong & (b.updated_at >= changed_since)
        rows = self._c.execute(
            select(a.org_id, a.booking_id, b.status, a.id, a.active)
            .join(bookings, and_(bookings.c.id == a.booking_id))
            .where(wrong).order_by(a.booking_id, a.id).limit(limit)).all()
        found: dict[tuple[str, str, bool], list[str]] = {}
        status: dict[str, str] = {}
        for org_id, booking_id, booking_status, allocation_id, active in rows:
            found.setdefault((org_id, booking_id, bool(active)), []).append(allocation_id)
            status[booking_id] = booking_status
        return [OutOfStep(org_id=o, booking_id=bid, status=status[bid],
                          allocation_ids=tuple(ids), active=act)
                for (o, bid, act), ids in found.items()]

    def allocation_ids(self, org_id: str, booking_id: str) -> tuple[str, ...]:
        rows = self._c.execute(select(allocations.c.id).where(
            allocations.c.org_id == org_id, allocations.c.booking_id == booking_id))
        return tuple(row[0] for row in rows)

    def set_allocations_active(self, org_id: str, allocation_ids: tuple[str, ...],
                               active: bool) -> None:
        savepoint = self._c.begin_nested()
        try:
            self._c.execute(update(allocations).where(allocations.c.org_id == org_id,
                                                      allocations.c.id.in_(allocation_ids))
                            .values(active=active))
        except IntegrityError as error:
            savepoint.rollback()
            if is_overlap_refusal(error):
                raise OverlapRefused("another booking holds that time now") from error
            raise
        savepoint.commit()

    def expired_live_holds(self, now: datetime, limit: int
                           ) -> builtins.list[tuple[str, str]]:
        h = holds.c
        rows = self._c.execute(select(h.org_id, h.id).where(
            h.status == "active", h.expires_at < now).order_by(h.expires_at).limit(limit))
        return [(row[0], row[1]) for row in rows]

