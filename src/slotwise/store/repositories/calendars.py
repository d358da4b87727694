"""Calendar connections, the busy events imported through them (as blocks), the events
exported to them, and the resources' private feeds."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from slotwise.domain.calendars import (
    CalendarConnection,
    CalendarExport,
    CalendarFeed,
    ConnectionStatus,
    EventRef,
    ExternalEvent,
    ImportedEvent,
    PushChannel,
)
from slotwise.store.tables import blocks, calendar_connections, calendar_exports, calendar_feeds
from slotwise.store.types import from_epoch

_c = calendar_connections.c
_b = blocks.c
_x = calendar_exports.c
_f = calendar_feeds.c


class SqlCalendars:
    def __init__(self, connection: Connection, *, lock_rows: bool = False) -> None:
        self._db = connection
        self._lock_rows = lock_rows and connection.dialect.name == "postgresql"

    def add(self, connection: CalendarConnection) -> None:
        self._db.execute(insert(calendar_connections).values(
            id=connection.id, org_id=connection.org_id, resource_id=connection.resource_id,
            provider=connection.provider, calendar_id=connection.calendar_id,
            created_at=connection.created_at, **_state(connection)))

    def get(self, org_id: str, connection_id: str, *, lock: bool = False
            ) -> CalendarConnection | None:
        query = select(calendar_connections).where(_c.org_id == org_id, _c.id == connection_id)
        if lock and self._lock_rows:
            query = query.with_for_update()
        row = self._db.execute(query).mappings().first()
        return None if row is None else _connection(row)

    def by_channel(self, channel_id: str) -> CalendarConnection | None:
        row = self._db.execute(select(calendar_connections)
                               .where(_c.channel_id == channel_id)).mappings().first()
        return None if row is None else _connection(row)

    def list(self, org_id: str, resource_id: str | None = None
             ) -> builtins.list[CalendarConnection]:
        query = select(calendar_connections).where(_c.org_id == org_id)
        if resource_id is not None:
            query = query.where(_c.resource_id == resource_id)
        return [_connection(r) for r in self._db.execute(query.order_by(_c.created_at, _c.id))
                .mappings()]

    def all(self) -> builtins.list[CalendarConnection]:
        query = select(calendar_connections).order_by(_c.org_id, _c.id)
        return [_connection(r) for r in self._db.execute(query).mappings()]

    def update(self, connection: CalendarConnection) -> None:
        self._db.execute(update(calendar_connections)
                         .where(_c.org_id == connection.org_id, _c.id == connection.id)
                         .values(**_state(connection)))

    def advance(self, connection: CalendarConnection, generation: int) -> bool:
        """Save `connection` only if no other sync applied since `generation` was read; the
        winner bumps the generation. False: another sync got there first."""
        done = self._db.execute(update(calendar_connections)
                                .where(_c.id == connection.id, _c.generation == generation)
                                .values(generation=generation + 1, **_state(connection)))
        return done.rowcount == 1

    def generation(self, org_id: str, connection_id: str) -> int | None:
        return self._db.execute(select(_c.generation).where(
            _c.org_id == org_id, _c.id == connection_id)).scalar()

    def request_sync(self, org_id: str, connection_id: str, due: datetime) -> bool:
        """Mark a sync due at `due` unless one is already due: True when this call marked it
        (and so should defer the job). Notifications in a burst defer one sync between them."""
        done = self._db.execute(update(calendar_connections)
                                .where(_c.org_id == org_id, _c.id == connection_id,
                                       _c.sync_due_at.is_(None))
                                .values(sync_due_at=due))
        return done.rowcount == 1

    def clear_sync_due(self, org_id: str, connection_id: str) -> None:
        self._db.execute(update(calendar_connections)
                         .where(_c.org_id == org_id, _c.id == connection_id)
                         .values(sync_due_at=None))

    def delete(self, org_id: str, connection_id: str) -> None:
        self._db.execute(delete(blocks).where(_b.org_id == org_id,
                                              _b.connection_id == connection_id))
        self._db.execute(delete(calendar_exports).where(_x.org_id == org_id,
                                                        _x.connection_id == connection_id))
        self._db.execute(delete(calendar_connections).where(_c.org_id == org_id,
                                                            _c.id == connection_id))

    def imported(self, org_id: str, connection_id: str) -> builtins.list[ImportedEvent]:
        query = (select(_b.id, _b.external_key, _b.start_at, _b.end_at)
                 .where(_b.org_id == org_id, _b.connection_id == connection_id)
                 .order_by(_b.start_at))
        return [ImportedEvent(block_id=r.id, connection_id=connection_id, key=r.external_key,
                              start=r.start_at, end=r.end_at)
                for r in self._db.execute(query)]

    def put_imported(self, org_id: str, resource_id: str, connection_id: str,
                     event: ExternalEvent, block_id: str, at: datetime) -> None:
        self._db.execute(delete(blocks).where(_b.connection_id == connection_id,
                                              _b.external_key == event.key))
        self._db.execute(insert(blocks).values(
            id=block_id, org_id=org_id, resource_id=resource_id, start_at=event.start,
            end_at=event.end, title=(event.title or "")[:500] or None, created_at=at,
            connection_id=connection_id, external_key=event.key))

    def drop_imported(self, org_id: str, connection_id: str, keys: Mapping[str, str]) -> None:
        if keys:
            self._db.execute(delete(blocks).where(
                _b.org_id == org_id, _b.connection_id == connection_id,
                _b.id.in_(list(keys.values()))))

    def export_of(self, org_id: str, connection_id: str, booking_id: str
                  ) -> CalendarExport | None:
        row = self._db.execute(select(calendar_exports).where(
            _x.org_id == org_id, _x.connection_id == connection_id,
            _x.booking_id == booking_id)).mappings().first()
        return None if row is None else _export(row)

    def put_export(self, export: CalendarExport) -> None:
        self.drop_export(export.org_id, export.connection_id, export.booking_id)
        self._db.execute(insert(calendar_exports).values(
            connection_id=export.connection_id, booking_id=export.booking_id,
            org_id=export.org_id, external_id=export.ref.external_id, etag=export.ref.etag,
            data={"ref": export.ref.data, "fingerprint": export.fingerprint},
            sequence=export.sequence, updated_at=export.updated_at))

    def drop_export(self, org_id: str, connection_id: str, booking_id: str) -> None:
        self._db.execute(delete(calendar_exports).where(
            _x.org_id == org_id, _x.connection_id == connection_id, _x.booking_id == booking_id))

    def exports_of_booking(self, org_id: str, booking_id: str
                           ) -> builtins.list[CalendarExport]:
        query = select(calendar_exports).where(_x.org_id == org_id, _x.booking_id == booking_id)
        return [_export(r) for r in self._db.execute(query).mappings()]

    def feed(self, org_id: str, resource_id: str) -> CalendarFeed | None:
        row = self._db.execute(select(calendar_feeds).where(
            _f.org_id == org_id, _f.resource_id == resource_id, _f.revoked_at.is_(None))
            .order_by(_f.created_at.desc())).mappings().first()
        return None if row is None else _feed(row)

    def feed_by_token(self, token_hash: str) -> CalendarFeed | None:
        row = self._db.execute(select(calendar_feeds).where(
            and_(_f.token_hash == token_hash, _f.revoked_at.is_(None)))).mappings().first()
        return None if row is None else _feed(row)

    def put_feed(self, feed: CalendarFeed) -> None:
        exists = self._db.execute(select(_f.id).where(_f.id == feed.id)).first()
        values = {"org_id": feed.org_id, "resource_id": feed.resource_id,
                      "token_hash": feed.token_hash, "created_at": feed.created_at,
                      "revoked_at": feed.revoked_at}
        if exists:
            self._db.execute(update(calendar_feeds).where(_f.id == feed.id).values(**values))
        else:
            self._db.execute(insert(calendar_feeds).values(id=feed.id, **values))


def _state(connection: CalendarConnection) -> dict[str, Any]:
    """The columns a connection's life changes (everything but its identity)."""
    channel = connection.channel
    return {
        "name": connection.name, "config": connection.config, "credentials": connection.credentials,
        "import_busy": connection.import_busy, "export_bookings": connection.export_bookings,
        "poll_s": connection.poll_s, "status": connection.status.value,
        "sync_token": connection.sync_token, "last_sync_at": connection.last_sync_at,
        "last_success_at": connection.last_success_at, "last_full_at": connection.last_full_at,
        "last_error": (connection.last_error or "")[:1000] or None,
        "last_error_at": connection.last_error_at, "failures": connection.failures,
        "channel_id": None if channel is None else channel.id,
        "channel": None if channel is None else {
            "id": channel.id, "token": channel.token,
            "expires_at": int(channel.expires_at.timestamp()),
            "resource_id": channel.resource_id},
        "updated_at": connection.updated_at,
    }


def _connection(row: RowMapping) -> CalendarConnection:
    channel = row["channel"]
    return CalendarConnection(
        id=row["id"], org_id=row["org_id"], resource_id=row["resource_id"],
        provider=row["provider"], calendar_id=row["calendar_id"],
        created_at=row["created_at"], updated_at=row["updated_at"], name=row["name"],
        config=dict(row["config"] or {}), credentials=dict(row["credentials"] or {}),
        import_busy=row["import_busy"], export_bookings=row["export_bookings"],
        poll_s=row["poll_s"], status=ConnectionStatus(row["status"]),
        sync_token=row["sync_token"], last_sync_at=row["last_sync_at"],
        last_success_at=row["last_success_at"], last_full_at=row["last_full_at"],
        last_error=row["last_error"], last_error_at=row["last_error_at"],
        failures=row["failures"], generation=row["generation"],
        sync_due_at=row["sync_due_at"],
        channel=None if channel is None else PushChannel(
            id=channel["id"], token=channel["token"],
            expires_at=from_epoch(channel["expires_at"]),
            resource_id=channel.get("resource_id")),
    )


def _export(row: RowMapping) -> CalendarExport:
    data = row["data"] or {}
    return CalendarExport(
        org_id=row["org_id"], connection_id=row["connection_id"], booking_id=row["booking_id"],
        ref=EventRef(external_id=row["external_id"], etag=row["etag"],
                     data=dict(data.get("ref") or {})),
        sequence=row["sequence"], updated_at=row["updated_at"],
        fingerprint=data.get("fingerprint") or "")


def _feed(row: RowMapping) -> CalendarFeed:
    return CalendarFeed(id=row["id"], org_id=row["org_id"], resource_id=row["resource_id"],
                        token_hash=row["token_hash"], created_at=row["created_at"],
                        revoked_at=row["revoked_at"])
