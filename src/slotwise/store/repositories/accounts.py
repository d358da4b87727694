"""Organisations, users, API keys and sessions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from slotwise.domain.model import ApiKey, AuthSession, Organisation, Role, User
from slotwise.store.guard import unique_as_already_exists
from slotwise.store.tables import api_keys, auth_sessions, organisations, users


class SqlOrganisations:
    def __init__(self, connection: Connection,
                 saw_catalog_version: Callable[[str, int], None] | None = None) -> None:
        self._c = connection
        # Told the catalog version read with each organisation (the catalog cache's key).
        self._saw = saw_catalog_version
        # Read once per unit of work: a booking's check, its rules and its 409 all ask.
        self._read: dict[str, Organisation | None] = {}

    def add(self, org: Organisation) -> None:
        self._read.pop(org.id, None)
        with unique_as_already_exists(self._c, "an organisation with that slug"):
            self._c.execute(insert(organisations).values(
                id=org.id, slug=org.slug, name=org.name, timezone=org.timezone,
                created_at=org.created_at,
            ))

    def get(self, org_id: str) -> Organisation | None:
        if org_id not in self._read:
            self._read[org_id] = self._one(_ORG_BY_ID, {"id": org_id})
        return self._read[org_id]

    def by_slug(self, slug: str) -> Organisation | None:
        return self._one(select(organisations).where(organisations.c.slug == slug))

    def update(self, org: Organisation) -> None:
        self._read.pop(org.id, None)
        self._c.execute(update(organisations).where(organisations.c.id == org.id)
                        .values(name=org.name, timezone=org.timezone))

    def _one(self, query: Select[Any], parameters: dict[str, Any] | None = None
             ) -> Organisation | None:
        found = self._c.execute(query, parameters).mappings().first()
        if found is None:
            return None
        if self._saw is not None:
            self._saw(found["id"], found["catalog_version"])
        return _org(found)


def _org(row: RowMapping) -> Organisation:
    return Organisation(id=row["id"], slug=row["slug"], name=row["name"],
                        timezone=row["timezone"], created_at=row["created_at"])


class SqlUsers:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, user: User) -> None:
        with unique_as_already_exists(self._c, "an account with that e-mail"):
            self._c.execute(insert(users).values(
                id=user.id, org_id=user.org_id, email=user.email, role=user.role.value,
                password_hash=user.password_hash, created_at=user.created_at,
            ))

    def get(self, org_id: str, user_id: str) -> User | None:
        query = select(users).where(users.c.org_id == org_id, users.c.id == user_id)
        return _user(found) if (found := self._c.execute(query).mappings().first()) else None

    def by_email(self, email: str) -> User | None:
        query = select(users).where(users.c.email == email)
        return _user(found) if (found := self._c.execute(query).mappings().first()) else None

    def owner_email(self, org_id: str) -> str | None:
        query = (select(users.c.email)
                 .where(users.c.org_id == org_id, users.c.role == Role.OWNER.value)
                 .order_by(users.c.created_at, users.c.id).limit(1))
        found: str | None = self._c.execute(query).scalar()
        return found


def _user(row: RowMapping) -> User:
    return User(id=row["id"], org_id=row["org_id"], email=row["email"], role=Role(row["role"]),
                password_hash=row["password_hash"], created_at=row["created_at"])


# A credential's holder, read in the same query as the credential (prefixed columns).
_USER_COLUMNS = [column.label(f"holder_{column.name}") for column in users.c]
# Built once (every request authenticates, every unit of work reads its organisation).
_ORG_BY_ID = select(organisations).where(organisations.c.id == bindparam("id"))
_SESSION_BY_HASH = (select(auth_sessions, *_USER_COLUMNS)
                    .join(users, users.c.id == auth_sessions.c.user_id)
                    .where(auth_sessions.c.token_hash == bindparam("hash")))
_KEY_BY_HASH = (select(api_keys, *_USER_COLUMNS)
                .join(users, users.c.id == api_keys.c.user_id)
                .where(api_keys.c.key_hash == bindparam("hash")))


def _holder(row: RowMapping) -> User:
    return User(id=row["holder_id"], org_id=row["holder_org_id"], email=row["holder_email"],
                role=Role(row["holder_role"]), password_hash=row["holder_password_hash"],
                created_at=row["holder_created_at"])


class SqlApiKeys:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, key: ApiKey) -> None:
        self._c.execute(insert(api_keys).values(
            id=key.id, org_id=key.org_id, user_id=key.user_id, name=key.name,
            key_hash=key.key_hash, hint=key.hint, created_at=key.created_at,
            revoked_at=key.revoked_at,
        ))

    def by_hash(self, key_hash: str) -> tuple[ApiKey, User] | None:
        found = self._c.execute(_KEY_BY_HASH, {"hash": key_hash}).mappings().first()
        return (_key(found), _holder(found)) if found else None

    def list(self, org_id: str) -> list[ApiKey]:
        query = (select(api_keys)
                 .where(api_keys.c.org_id == org_id, api_keys.c.revoked_at.is_(None))
                 .order_by(api_keys.c.created_at, api_keys.c.id))
        return [_key(row) for row in self._c.execute(query).mappings()]

    def revoke(self, org_id: str, key_id: str, at: datetime) -> bool:
        result = self._c.execute(
            update(api_keys)
            .where(api_keys.c.org_id == org_id, api_keys.c.id == key_id,
                   api_keys.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return result.rowcount == 1


def _key(row: RowMapping) -> ApiKey:
    return ApiKey(id=row["id"], org_id=row["org_id"], user_id=row["user_id"], name=row["name"],
                  key_hash=row["key_hash"], hint=row["hint"], created_at=row["created_at"],
                  revoked_at=row["revoked_at"])


class SqlAuthSessions:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, session: AuthSession) -> None:
        self._c.execute(insert(auth_sessions).values(
            id=session.id, org_id=session.org_id, user_id=session.user_id,
            token_hash=session.token_hash, created_at=session.created_at,
            expires_at=session.expires_at,
        ))

    def by_hash(self, token_hash: str) -> tuple[AuthSession, User] | None:
        row = self._c.execute(_SESSION_BY_HASH, {"hash": token_hash}).mappings().first()
        if row is None:
            return None
        return (AuthSession(id=row["id"], org_id=row["org_id"], user_id=row["user_id"],
                            token_hash=row["token_hash"], created_at=row["created_at"],
                            expires_at=row["expires_at"]), _holder(row))

    def end(self, token_hash: str, at: datetime) -> bool:
        result = self._c.execute(
            update(auth_sessions)
            .where(auth_sessions.c.token_hash == token_hash, auth_sessions.c.expires_at > at)
            .values(expires_at=at)
        )
        return result.rowcount == 1
