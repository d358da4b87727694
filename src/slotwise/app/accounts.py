"""Sign up, log in, authenticate bearer tokens, and manage API keys and users."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from slotwise.domain.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from slotwise.domain.ids import digest, new_id, new_secret
from slotwise.domain.model import ApiKey, AuthSession, Organisation, Principal, Role, User
from slotwise.domain.ports import Clock, PasswordHasher, UnitOfWork, UnitOfWorkFactory
from slotwise.engine.zones import is_zone

SESSION_PREFIX = "sws"
API_KEY_PREFIX = "swk"


def require_admin(principal: Principal) -> None:
    if not principal.role.manages_setup:
        raise Forbidden("this needs the owner or admin role")


# Paths of the pages and the API that an organisation's slug (its public page, `/{slug}`)
# must not take.
RESERVED = frozenset({
    "admin", "api", "book", "docs", "embed", "embed.js", "favicon.ico", "feeds", "healthz",
    "live", "login", "logout", "manage", "metrics", "openapi.json", "readyz", "redoc",
    "robots.txt", "static", "v1", "waitlist", "widget"})


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:48] or "org"


@dataclass(frozen=True, slots=True)
class SignedUp:
    org: Organisation
    user: User
    token: str


class Accounts:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, hasher: PasswordHasher,
                 session_lifetime: timedelta) -> None:
        self._uow = uow
        self._clock = clock
        self._hasher = hasher
        self._session_lifetime = session_lifetime
        self._decoy: str | None = None

    @property
    def _decoy_hash(self) -> str:
        """Verifying against a real hash when the e-mail is unknown keeps both failures
        equally slow, so timing does not tell which e-mails exist."""
        if self._decoy is None:
            self._decoy = self._hasher.hash(secrets.token_urlsafe(16))
        return self._decoy

    def signup(self, org_name: str, org_slug: str | None, email: str, password: str,
               timezone: str) -> SignedUp:
        now = self._clock.now()
        email = email.strip().lower()
        password_hash = self._hasher.hash(password)
        with self._uow(write=True) as uow:
            if uow.users.by_email(email) is not None:
                raise AlreadyExists("that e-mail already has an account")
            slug = self._free_slug(uow, org_slug, org_name)
            org = Organisation(id=new_id("org"), slug=slug, name=org_name, timezone=timezone,
                               created_at=now)
            user = User(id=new_id("user"), org_id=org.id, email=email, role=Role.OWNER,
                        password_hash=password_hash, created_at=now)
            uow.organisations.add(org)
            uow.users.add(user)
            token = self._open_session(uow, user, now)
            uow.commit()
        return SignedUp(org=org, user=user, token=token)

    def login(self, email: str, password: str) -> str:
        now = self._clock.now()
        with self._uow(write=True) as uow:
            user = uow.users.by_email(email.strip().lower())
            hashed = user.password_hash if user else self._decoy_hash
            if not self._hasher.verify(hashed, password) or user is None:
                raise Unauthenticated("wrong e-mail or password")
            token = self._open_session(uow, user, now)
            uow.commit()
        return token

    def authenticate(self, token: str) -> Principal:
        now = self._clock.now()
        with self._uow() as uow:
            if token.startswith(API_KEY_PREFIX + "_"):
                key = uow.api_keys.by_hash(digest(token))
                if key is None or key[0].revoked_at is not None:
                    raise Unauthenticated("unknown or revoked API key")
                user = key[1]
            else:
                session = uow.auth_sessions.by_hash(digest(token))
                if session is None or session[0].expires_at <= now:
                    raise Unauthenticated("unknown or expired session")
                user = session[1]
            return Principal(org_id=user.org_id, user_id=user.id, role=user.role)

    def sign_out(self, token: str) -> None:
        """End the session of `token` now: from this instant it authenticates nothing.

        An unknown or already ended session → Unauthenticated. A valid API key → Conflict:
        keys are not signed out but revoked (`revoke_api_key`), and answering as if it had
        worked would leave the caller believing a live key dead."""
        self.authenticate(token)
        if token.startswith(API_KEY_PREFIX + "_"):
            raise Conflict("an API key is not a session: revoke it instead "
                           "(DELETE /v1/api-keys/{id})")
        with self._uow(write=True) as uow:
            if not uow.auth_sessions.end(digest(token), self._clock.now()):
                raise Unauthenticated("unknown or expired session")
            uow.commit()

    def update_organisation(self, principal: Principal, *, name: str | None = None,
                            timezone: str | None = None) -> Organisation:
        """Rename the organisation or move it to another IANA zone (owner or admin). The slug
        never changes: it is in every link customers hold. What the zone decides is listed in
        docs/api-extensions.md (resources keep the zone they were given)."""
        require_admin(principal)
        if name is not None:
            name = name.strip()
            if not 1 <= len(name) <= 200:
                raise InvalidInput("the name needs 1 to 200 characters", ("body", "name"))
        if timezone is not None and not is_zone(timezone):
            raise InvalidInput(f"{timezone!r} is not an IANA time zone name",
                               ("body", "timezone"))
        with self._uow(write=True) as uow:
            org = uow.organisations.get(principal.org_id)
            if org is None:
                raise NotFound("no such organisation")
            changed = replace(org, name=org.name if name is None else name,
                              timezone=org.timezone if timezone is None else timezone)
            if changed != org:
                uow.organisations.update(changed)
                uow.commit()
        return changed

    def organisation(self, org_id: str) -> Organisation:
        with self._uow() as uow:
            org = uow.organisations.get(org_id)
        if org is None:
            raise NotFound("no such organisation")
        return org

    def organisation_by_slug(self, slug: str) -> Organisation:
        with self._uow() as uow:
            org = uow.organisations.by_slug(slug)
        if org is None:
            raise NotFound("no such organisation")
        return org

    def create_api_key(self, principal: Principal, name: str) -> tuple[ApiKey, str]:
        require_admin(principal)
        secret = new_secret(API_KEY_PREFIX)
        key = ApiKey(id=new_id("api_key"), org_id=principal.org_id, user_id=principal.user_id,
                     name=name, key_hash=digest(secret), hint=secret[-4:],
                     created_at=self._clock.now())
        with self._uow(write=True) as uow:
            uow.api_keys.add(key)
            uow.commit()
        return key, secret

    def list_api_keys(self, principal: Principal) -> list[ApiKey]:
        require_admin(principal)
        with self._uow() as uow:
            return uow.api_keys.list(principal.org_id)

    def revoke_api_key(self, principal: Principal, key_id: str) -> None:
        require_admin(principal)
        with self._uow(write=True) as uow:
            if not uow.api_keys.revoke(principal.org_id, key_id, self._clock.now()):
                raise NotFound("no such API key")
            uow.commit()

    def create_user(self, principal: Principal, email: str, password: str, role: Role) -> User:
        require_admin(principal)
        if role is Role.OWNER and principal.role is not Role.OWNER:
            raise Forbidden("only an owner can make another owner")
        email = email.strip().lower()
        user = User(id=new_id("user"), org_id=principal.org_id, email=email, role=role,
                    password_hash=self._hasher.hash(password), created_at=self._clock.now())
        with self._uow(write=True) as uow:
            if uow.users.by_email(email) is not None:
                raise AlreadyExists("that e-mail already has an account")
            uow.users.add(user)
            uow.commit()
        return user

    def _open_session(self, uow: UnitOfWork, user: User, now: datetime) -> str:
        token = new_secret(SESSION_PREFIX)
        uow.auth_sessions.add(AuthSession(
            id=new_id("session"), org_id=user.org_id, user_id=user.id, token_hash=digest(token),
            created_at=now, expires_at=now + self._session_lifetime,
        ))
        return token

    @staticmethod
    def _free_slug(uow: UnitOfWork, wanted: str | None, name: str) -> str:
        if wanted is not None:
            if wanted in RESERVED:
                raise InvalidInput(f"{wanted!r} is a path of slotwise's own pages: choose "
                                   "another organisation slug", ("body", "org_slug"))
            if uow.organisations.by_slug(wanted) is not None:
                raise AlreadyExists("that organisation slug is taken")
            return wanted
        base = slugify(name)
        slug = base
        while slug in RESERVED or uow.organisations.by_slug(slug) is not None:
            slug = f"{base}-{secrets.token_hex(3)}"
        return slug
