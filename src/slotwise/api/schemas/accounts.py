from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from slotwise.api.schemas.common import Body, Instant, Name, Slug, Zone

Password = Field(min_length=8, max_length=256)


class SignupIn(Body):
    org_name: Name
    org_slug: Slug | None = None
    email: EmailStr
    password: str = Password
    timezone: Zone


class OrgOut(BaseModel):
    id: str
    slug: str
    name: str
    timezone: str


class OrgPatch(Body):
    """Omitted or null: unchanged. The slug cannot be changed (customers' links hold it)."""

    name: Name | None = None
    timezone: Zone | None = None


class UserOut(BaseModel):
    id: str
    email: str
    role: Literal["owner", "admin", "staff"]


class SignupOut(BaseModel):
    org: OrgOut
    user: UserOut
    token: str


class LoginIn(Body):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    token: str


class ApiKeyIn(Body):
    name: Name


class ApiKeyOut(BaseModel):
    id: str
    name: str
    hint: str
    created_at: Instant


class ApiKeyCreated(ApiKeyOut):
    key: str


class UserIn(Body):
    email: EmailStr
    password: str = Password
    role: Literal["owner", "admin", "staff"]


class ApiKeyPage(BaseModel):
    items: list[ApiKeyOut]
    next_cursor: str | None = None
