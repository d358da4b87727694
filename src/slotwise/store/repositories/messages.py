"""Messages to customers: one row per message and channel, unique by dedupe key."""

from __future__ import annotations

import builtins
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, RowMapping

from slotwise.domain.messages import Channel, Message, MessageState
from slotwise.domain.notifications import MessageKind
from slotwise.store.tables import messages
from slotwise.store.types import PerDialect

_m = messages.c


class SqlMessages:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, message: Message) -> bool:
        values = {
            "id": message.id, "org_id": message.org_id, "booking_id": message.booking_id,
            "kind": message.kind.value, "channel": message.channel.value,
            "due_at": message.due_at, "state": message.state.value,
            "sequence": message.sequence, "dedupe_key": message.dedupe_key,
            "attempts": message.attempts, "claim_token": message.claim_token,
            "provider_id": message.provider_id, "sent_at": message.sent_at,
            "last_error": message.last_error, "created_at": message.created_at,
        }
        # RETURNING says whether a row went in (psycopg's rowcount does not, here).
        return self._c.execute(_ADD(self._c), values).first() is not None

    def get(self, message_id: str) -> Message | None:
        row = self._c.execute(select(messages).where(_m.id == message_id)).mappings().first()
        return None if row is None else _message(row)

    def of_booking(self, org_id: str, booking_id: str) -> builtins.list[Message]:
        rows = self._c.execute(select(messages)
                               .where(_m.org_id == org_id, _m.booking_id == booking_id)
                               .order_by(_m.created_at, _m.due_at, _m.id)).mappings()
        return [_message(row) for row in rows]

    def due(self, now: datetime, limit: int) -> builtins.list[Message]:
        query = (select(messages)
                 .where(_m.state == MessageState.SCHEDULED.value, _m.due_at <= now)
                 .order_by(_m.due_at, _m.id).limit(limit))
        if self._c.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [_message(row) for row in self._c.execute(query).mappings()]

    def transition(self, message_id: str, from_states: Collection[MessageState],
                   to: MessageState, at: datetime, *, error: str | None = None,
                   claim_token: str | None = None, provider_id: str | None = None,
                   count_attempt: bool = False) -> bool:
        values: dict[str, Any] = {"state": to.value}
        if to is MessageState.SENT:
            values["sent_at"] = at
        if error is not None:
            values["last_error"] = error[:4000]
        if claim_token is not None:
            values["claim_token"] = claim_token
        if provider_id is not None:
            values["provider_id"] = provider_id
        if count_attempt:
            values["attempts"] = _m.attempts + 1
        done = self._c.execute(update(messages).where(
            _m.id == message_id, _m.state.in_([s.value for s in from_states]),
        ).values(**values))
        return done.rowcount == 1

    def drop_pending(self, org_id: str, booking_id: str, kinds: Collection[MessageKind]
                     ) -> int:
        done = self._c.execute(update(messages).where(
            _m.org_id == org_id, _m.booking_id == booking_id,
            _m.kind.in_([k.value for k in kinds]),
            _m.state.in_([MessageState.SCHEDULED.value, MessageState.QUEUED.value]),
        ).values(state=MessageState.DROPPED.value))
        return done.rowcount


def _message(row: RowMapping) -> Message:
    return Message(
        id=row["id"], org_id=row["org_id"], booking_id=row["booking_id"],
        kind=MessageKind(row["kind"]), channel=Channel(row["channel"]), due_at=row["due_at"],
        state=MessageState(row["state"]), sequence=row["sequence"],
        dedupe_key=row["dedupe_key"], created_at=row["created_at"], attempts=row["attempts"],
        claim_token=row["claim_token"], provider_id=row["provider_id"],
        sent_at=row["sent_at"], last_error=row["last_error"],
    )



def _add(postgresql: bool) -> Any:
    dialect_insert: Any = pg_insert if postgresql else sqlite_insert
    return (dialect_insert(messages).on_conflict_do_nothing(index_elements=[_m.dedupe_key])
            .returning(_m.id))


_ADD = PerDialect(_add)  # several messages per booking: built once, not per call
